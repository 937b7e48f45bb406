package hostile

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gatehouse builds cmd/gatehouse and runs `gatehouse serve` on a loopback
// port with a fresh SQLite database, returning its address.
func gatehouse(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "gatehouse")
	build := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/gatehouse: %v\n%s", err, out)
	}
	key, err := exec.Command(bin, "keygen").Output()
	if err != nil {
		t.Fatalf("gatehouse keygen: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve")
	cmd.Env = append(os.Environ(),
		"GATEHOUSE_DATABASE_URL=sqlite://"+filepath.Join(dir, "g.db"),
		"GATEHOUSE_SECRET_KEY="+strings.TrimSpace(string(key)),
		"GATEHOUSE_PUBLIC_URL=http://"+addr,
		"GATEHOUSE_ADDR="+addr,
		"GATEHOUSE_SMTP_URL=smtp://127.0.0.1:1?tls=none",
		"GATEHOUSE_MAIL_FROM=no-reply@example.com",
		"GATEHOUSE_LOG_LEVEL=warn",
	)
	var logs strings.Builder
	var mu sync.Mutex
	cmd.Stdout = io.Discard
	cmd.Stderr = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		mu.Lock()
		defer mu.Unlock()
		if t.Failed() {
			t.Logf("gatehouse serve log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gatehouse serve did not come up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestSlowClients runs the real binary: clients that send their headers a
// byte at a time, slower than ReadHeaderTimeout (10 s), are cut off,
// while other clients are served all along; oversized headers get 431.
func TestSlowClients(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and waits out the 10 s header timeout")
	}
	addr := gatehouse(t)

	// Oversized headers against the real http.Server (MaxHeaderBytes 64 KiB).
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("b", 80<<10))
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if res, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil && res.StatusCode != 431 {
		t.Errorf("BUG: 80 KiB of headers: %d, want 431 or a closed connection", res.StatusCode)
	}
	conn.Close()

	// Slow-header clients: the request line, then one header byte every 400 ms.
	const slow = 8
	type outcome struct {
		closedAfter time.Duration
		sent        int
		answered    string
	}
	outcomes := make(chan outcome, slow)
	start := time.Now()
	for range slow {
		go func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				outcomes <- outcome{answered: err.Error()}
				return
			}
			defer c.Close()
			began := time.Now()
			if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
				outcomes <- outcome{answered: err.Error()}
				return
			}
			// Watch for the server hanging up (or, wrongly, answering).
			done := make(chan string, 1)
			go func() {
				c.SetReadDeadline(time.Now().Add(20 * time.Second))
				b := make([]byte, 512)
				n, err := c.Read(b)
				if n > 0 {
					done <- "answered: " + string(b[:n])
					return
				}
				done <- fmt.Sprint(err)
			}()
			sent := 0
			tick := time.NewTicker(400 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case why := <-done:
					o := outcome{closedAfter: time.Since(began), sent: sent}
					if strings.HasPrefix(why, "answered") {
						o.answered = why
					}
					outcomes <- o
					return
				case <-tick.C:
					if _, err := c.Write([]byte("a")); err == nil {
						sent++
					}
				}
			}
		}()
	}

	// Meanwhile other clients are served quickly.
	var served, failed atomic.Int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		client := &http.Client{Timeout: 2 * time.Second}
		for {
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
			began := time.Now()
			res, err := client.Get("http://" + addr + "/healthz")
			if err != nil || res.StatusCode != 200 || time.Since(began) > time.Second {
				failed.Add(1)
				if err == nil {
					res.Body.Close()
				}
				continue
			}
			res.Body.Close()
			served.Add(1)
		}
	})

	for range slow {
		o := <-outcomes
		switch {
		case o.answered != "":
			t.Errorf("BUG: a slow-header client got %q", clip(o.answered, 100))
		case o.closedAfter < 9*time.Second || o.closedAfter > 13*time.Second:
			t.Errorf("BUG: a slow-header client was cut off after %s (%d bytes), want about 10 s (ReadHeaderTimeout)", o.closedAfter.Round(time.Millisecond), o.sent)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d slow-header clients cut off after about %s; %d other requests served meanwhile, %d failed or slower than 1 s",
		slow, time.Since(start).Round(100*time.Millisecond), served.Load(), failed.Load())
	if failed.Load() > 0 || served.Load() < 20 {
		t.Errorf("BUG: while slow clients held connections, %d requests were served and %d failed", served.Load(), failed.Load())
	}
	// And after.
	if res, err := http.Get("http://" + addr + "/healthz"); err != nil || res.StatusCode != 200 {
		t.Errorf("BUG: /healthz after the slow clients: %v", err)
	} else {
		res.Body.Close()
	}
}
