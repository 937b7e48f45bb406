package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
)

// `bench burn` verifies argon2id hashes at a fixed rate with Gatehouse's
// own hasher (the same code, on hashing threads at nice +10), and nothing
// else. It stands in for the password hashing of Gatehouse nodes in
// scheduling experiments: run beside nodes that serve a mix without
// password operations, it adds the hashes' CPU load from the nodes'
// scheduling group or, under setsid with --autogroup-nice, from a group of
// its own (bench/autogroup.sh; docs/performance-history.md, twentieth
// session). It stops after --duration or on SIGINT or SIGTERM.

func runBurn(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench burn", flag.ContinueOnError)
	rate := fs.Float64("rate", 56, "verifications started a second (the rest wait while --concurrency are running)")
	concurrency := fs.Int("concurrency", 2, "verifications computed at once")
	d := fs.Duration("duration", 40*time.Second, "how long to run")
	agNice := fs.Int("autogroup-nice", 0, "if not 0, write this nice value to /proc/self/autogroup first (Linux with autogroup on; start burn under setsid so that the group is its own)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *rate <= 0 || *concurrency < 1 || *d <= 0 {
		return errors.New("usage: bench burn [--rate N>0] [--concurrency N>=1] [--duration D>0] [--autogroup-nice N]")
	}
	if *agNice != 0 {
		if err := os.WriteFile("/proc/self/autogroup", []byte(strconv.Itoa(*agNice)), 0); err != nil {
			return fmt.Errorf("set the autogroup's nice value: %w (is autogroup scheduling on? see /proc/sys/kernel/sched_autogroup_enabled)", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *d)
	defer cancel()

	const pw = "correct horse battery staple"
	h := password.NewHasher(password.DefaultParams, *concurrency)
	encoded, err := h.Hash(ctx, pw)
	if err != nil {
		return err
	}
	before, beforeCPU := h.Stats()
	jobs := make(chan struct{}, 1024)
	var wg sync.WaitGroup
	for range *concurrency {
		wg.Go(func() {
			for range jobs {
				// Not ctx: a started verification runs to its end.
				_, _, _ = h.Verify(context.Background(), encoded, pw)
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
	n, cpu = n-before, cpu-beforeCPU
	elapsed := time.Since(start)
	fmt.Fprintf(out, "burn: %d verifications in %v (%.1f/s), %v of CPU on the hashing threads; %d not started (queue full)\n",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), cpu.Round(time.Millisecond), dropped)
	return nil
}
