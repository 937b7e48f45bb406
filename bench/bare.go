package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"
)

// `bench bare` measures what the bare handler of --ceiling costs per
// request when requests arrive at a fixed rate: its CPU time and its
// threads' context switches a request, in a process of its own (`bench
// bare-serve`), so that the client is left out. At a low rate every
// request finds the server idle and pays for waking its threads, which on
// a virtual machine can cost more than the handler's work: set against the
// Gatehouse server's CPU a request at the same rate, it tells how much of
// that any Go HTTP server pays. Linux only (it reads /proc).

// bareHandler is the bare net/http JSON handler: it reads the request body
// and answers a small JSON object.
func bareHandler() http.Handler {
	body := []byte(`{"object":"user","id":"user_01ARYZ6S41TSV4RRFFQ69G5FAV","email":"x@example.com"}`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
}

// serveBare serves bareHandler, until the process is killed, on the
// listening socket runBare passes it as its first extra file (descriptor 3).
func serveBare(args []string) error {
	if len(args) != 0 {
		return errors.New("usage: bench bare-serve (started by bench bare, with its socket)")
	}
	ln, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		return fmt.Errorf("bench bare-serve: no listening socket on descriptor 3: %w", err)
	}
	return http.Serve(ln, bareHandler())
}

func runBare(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench bare", flag.ContinueOnError)
	rate := fs.Int("rate", 75, "requests a second, sent on a fixed schedule")
	d := fs.Duration("duration", 12*time.Second, "how long to measure, after a warm-up of 200 requests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench bare takes no arguments, only --rate and --duration (got %q)", fs.Arg(0))
	}
	if *rate <= 0 || *d <= 0 {
		return errors.New("--rate and --duration must be positive")
	}
	r, err := measureBare(ctx, *rate, *d)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "bare net/http JSON handler at %d requests a second (%.0f sent a second): %d requests (%d failed); server CPU %.3f ms and %.1f context switches a request\n",
		*rate, r.sentPerSecond, r.sent, r.failed, r.cpuMs, r.switches)
	return ctx.Err()
}

// bareResult is what measureBare saw: requests sent and failed, the rate
// they were sent at, and the server's CPU time (ms) and context switches
// per request.
type bareResult struct {
	sent, failed    int64
	sentPerSecond   float64
	cpuMs, switches float64
}

// measureBare starts `bench bare-serve` (this executable) and sends it
// rate requests a second for d, after a warm-up.
func measureBare(ctx context.Context, rate int, d time.Duration) (bareResult, error) {
	var res bareResult
	// The server process gets the socket already listening: no port to
	// pick and free for it, and connections made before it accepts wait
	// in the backlog.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	host := ln.Addr().String()
	f, err := ln.(*net.TCPListener).File()
	ln.Close()
	if err != nil {
		return res, err
	}
	self, err := os.Executable()
	if err != nil {
		f.Close()
		return res, err
	}
	cmd := exec.CommandContext(ctx, self, "bare-serve")
	cmd.Stderr = os.Stderr
	cmd.ExtraFiles = []*os.File{f}
	err = cmd.Start()
	f.Close()
	if err != nil {
		return res, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := cmd.Process.Pid

	const workers = 32
	ticks := make(chan struct{}, workers)
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			rc := newRawClient(nil) // the client API requests use
			defer rc.close()
			for range ticks {
				if _, err := rc.do(ctx, "GET", host, "/", "", nil, ""); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	defer func() { close(ticks); wg.Wait() }()
	for range 200 {
		ticks <- struct{}{}
	}
	for len(ticks) > 0 {
		time.Sleep(10 * time.Millisecond)
	}

	logf("bare handler: %d requests a second for %s …", rate, d)
	failed.Store(0)
	cpu0, err := procCPU(pid)
	if err != nil {
		return res, err
	}
	sw0 := procSwitches(pid)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	start := time.Now()
	for time.Since(start) < d && ctx.Err() == nil {
		<-tick.C
		ticks <- struct{}{}
		sent.Add(1)
	}
	for len(ticks) > 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the last requests' answers
	cpu1, err := procCPU(pid)
	if err != nil {
		return res, err
	}
	n, sw := sent.Load(), procSwitches(pid)-sw0
	res = bareResult{sent: n, failed: failed.Load(), sentPerSecond: float64(n) / time.Since(start).Seconds()}
	if n > 0 {
		res.cpuMs = float64((cpu1 - cpu0).Microseconds()) / 1e3 / float64(n)
		res.switches = float64(sw) / float64(n)
	}
	return res, ctx.Err()
}
