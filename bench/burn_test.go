package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestBurnVerifiesAtItsRate(t *testing.T) {
	var out strings.Builder
	if err := runBurn(context.Background(), []string{"--rate", "20", "--duration", "500ms"}, &out); err != nil {
		t.Fatal(err)
	}
	var n int
	if _, err := fmt.Sscanf(out.String(), "burn: %d verifications", &n); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	// 20 a second for 0.5 s starts about 10; the ticker's first tick comes
	// after 50 ms, and a slow machine may queue some.
	if n < 3 || n > 11 {
		t.Errorf("%d verifications in 0.5 s at 20 a second: %q", n, out.String())
	}
}

func TestBurnStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runBurn(ctx, []string{"--rate", "10", "--duration", "1m"}, &strings.Builder{}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("burn still running 10 s after its context ended")
	}
}

func TestBurnRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--rate", "0"}, {"--concurrency", "0"}, {"--duration", "0s"}, {"extra"}} {
		if err := runBurn(context.Background(), args, &strings.Builder{}); err == nil {
			t.Errorf("runBurn(%q) accepted", args)
		}
	}
}
