package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for the bench executable, which
// measureBare starts again as `bare-serve`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "bare-serve" {
		if err := serveBare(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// bench bare starts the handler in a process of its own, sends it a fixed
// rate, and reads that process's CPU time and context switches.
func TestBare(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	// At 400 a second the server uses tens of milliseconds of CPU in the
	// second: several of the 10 ms ticks /proc counts it in.
	const rate = 400
	r, err := measureBare(t.Context(), rate, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	// A busy machine can delay the sending goroutine past a few ticks,
	// which the ticker then drops; never past half of them.
	if r.sent < rate/2 || r.sent > rate+1 {
		t.Errorf("sent %d requests in 1 s at %d a second", r.sent, rate)
	}
	if r.failed != 0 {
		t.Errorf("%d of %d requests failed", r.failed, r.sent)
	}
	// Each request wakes the idle server: some CPU and at least one switch.
	if r.cpuMs <= 0 || r.cpuMs > 50 {
		t.Errorf("server CPU %.3f ms a request", r.cpuMs)
	}
	if r.switches < 1 {
		t.Errorf("%.2f context switches a request", r.switches)
	}
}

func TestBareRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--rate", "0"}, {"--duration", "-1s"}, {"--rate", "x"}, {"extra"}} {
		var out strings.Builder
		err := runBare(t.Context(), args, &out)
		if err == nil || out.Len() != 0 {
			t.Errorf("bench bare %v = %v, printed %q; want an error and nothing printed", args, err, out.String())
		}
	}
	if err := serveBare([]string{"x"}); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("bare-serve with an argument = %v", err)
	}
}
