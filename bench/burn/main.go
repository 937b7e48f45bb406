// Command burn verifies argon2id hashes at a fixed rate with Gatehouse's own
// hasher (the same code, on hashing threads at nice +10), and nothing else.
// It stands in for the password hashing of a Gatehouse node in scheduling
// experiments: started beside nodes that run a mix without password
// operations, it adds the hashes' CPU load from the same scheduling group
// as the nodes or, under setsid with -autogroup-nice, from a group of its
// own (bench/autogroup.sh; docs/performance-history.md, twentieth session).
//
//	go run ./bench/burn -rate 56 -duration 40s [-autogroup-nice 10]
//
// It stops after -duration or on SIGINT or SIGTERM, and prints how many
// verifications it made and their CPU time.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
)

func main() {
	rate := flag.Float64("rate", 56, "verifications started per second (more wait while -concurrency are running)")
	concurrency := flag.Int("concurrency", 2, "verifications computed at once")
	duration := flag.Duration("duration", 40*time.Second, "how long to run")
	agNice := flag.Int("autogroup-nice", 0, "if not 0, write this nice value to /proc/self/autogroup first (Linux with autogroup scheduling; start burn under setsid so the group is its own)")
	flag.Parse()
	if *rate <= 0 || *concurrency < 1 || *duration <= 0 {
		fmt.Fprintln(os.Stderr, "burn: -rate and -duration must be positive and -concurrency at least 1")
		os.Exit(2)
	}
	if *agNice != 0 {
		if err := os.WriteFile("/proc/self/autogroup", []byte(strconv.Itoa(*agNice)), 0); err != nil {
			fmt.Fprintf(os.Stderr, "burn: set the autogroup's nice value: %v (is autogroup scheduling on? see /proc/sys/kernel/sched_autogroup_enabled)\n", err)
			os.Exit(1)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()

	h := password.NewHasher(password.DefaultParams, *concurrency)
	encoded, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		fmt.Fprintf(os.Stderr, "burn: %v\n", err)
		os.Exit(1)
	}
	jobs := make(chan struct{}, 1024)
	var wg sync.WaitGroup
	for range *concurrency {
		wg.Go(func() {
			for range jobs {
				// A canceled context only ends the wait for a slot.
				_, _, _ = h.Verify(context.Background(), encoded, "correct horse battery staple")
			}
		})
	}
	start := time.Now()
	tick := time.NewTicker(time.Duration(float64(time.Second) / *rate))
	defer tick.Stop()
	dropped := 0
loop:
	for {
		select {
		case <-tick.C:
			select {
			case jobs <- struct{}{}:
			default:
				dropped++
			}
		case <-ctx.Done():
			break loop
		}
	}
	close(jobs)
	wg.Wait()
	n, cpu := h.Stats()
	n-- // the first Hash
	fmt.Printf("burn: %d verifications in %v (%.1f/s), %v of CPU on the hashing threads in all; %d not started (queue full)\n",
		n, time.Since(start).Round(time.Millisecond), float64(n)/time.Since(start).Seconds(), cpu.Round(time.Millisecond), dropped)
}
