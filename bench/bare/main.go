// Command bare measures what a bare net/http JSON handler costs per
// request when requests arrive at a fixed rate: the server's CPU time and
// its threads' context switches a request. It runs the handler in a child
// process of its own, so the figures leave out the client.
//
// At a low rate every request finds the server idle and pays for waking
// its threads; on a virtual machine that can cost more than the handler's
// work. Set against the Gatehouse server's CPU a request at the same rate
// (go run ./bench --rate N, or a sign-in run's CPU outside hashing), it
// tells how much of that is the Go HTTP server being woken, which any Go
// service pays, and how much is Gatehouse's own. Linux only (it reads
// /proc).
//
//	go run ./bench/bare --rate 75 --duration 12s
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	serve := flag.String("serve", "", "internal: serve the bare handler on this listener address")
	rate := flag.Int("rate", 75, "requests a second, sent on a fixed schedule")
	duration := flag.Duration("duration", 12*time.Second, "how long to measure, after a warm-up of 200 requests")
	flag.Parse()
	if *serve != "" {
		serveBare(*serve)
		return
	}
	if err := run(*rate, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}

// serveBare answers every request with a small JSON object, after reading
// and decoding its JSON body, as an API handler would.
func serveBare(addr string) {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		json.Unmarshal(b, &in)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "fields": len(in)})
	})
	fmt.Fprintln(os.Stderr, http.ListenAndServe(addr, nil))
	os.Exit(1)
}

func run(rate int, d time.Duration) error {
	if rate <= 0 {
		return errors.New("--rate must be positive")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "--serve", addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 10 * time.Second}
	url := "http://" + addr + "/"
	body := `{"grant_type":"password","email":"user1@example.com","password":"correct horse battery"}`
	send := func() error {
		res, err := client.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			return err
		}
		defer res.Body.Close()
		_, err = io.Copy(io.Discard, res.Body)
		return err
	}
	up := time.Now().Add(5 * time.Second)
	for send() != nil {
		if time.Now().After(up) {
			return errors.New("the bare server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for range 200 {
		send()
	}

	fmt.Fprintf(os.Stderr, "bare: %d requests a second for %s …\n", rate, d)
	cpu0, err := procCPU(pid)
	if err != nil {
		return err
	}
	sw0 := switches(pid)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var sent, failed int
	for end := time.Now().Add(d); time.Now().Before(end); {
		<-tick.C
		sent++
		wg.Go(func() {
			if send() != nil {
				mu.Lock()
				failed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	cpu1, err := procCPU(pid)
	if err != nil {
		return err
	}
	sw := switches(pid) - sw0
	fmt.Printf("bare net/http JSON handler at %d requests a second (%.0f sent a second): %d requests (%d failed); server CPU %.3f ms and %.1f context switches a request\n",
		rate, float64(sent)/d.Seconds(), sent, failed, float64((cpu1-cpu0).Microseconds())/1e3/float64(sent), float64(sw)/float64(sent))
	return nil
}

// procCPU is the user and system CPU time process pid has used (fields 14
// and 15 of /proc/<pid>/stat, in ticks of 1/100 s).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, errors.New("malformed /proc stat")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(u+s) * 10 * time.Millisecond, nil
}

// switches is the context switches, voluntary and not, of all of process
// pid's threads that are alive now.
func switches(pid int) int64 {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var n int64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += c
			}
		}
	}
	return n
}
