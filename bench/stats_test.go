package main

import (
	"testing"
	"time"
)

// Rates count what ended inside the window, whenever it started; the
// percentiles only what also started inside it.
func TestWindowCountsWhatEndsInside(t *testing.T) {
	w := &window{}
	r := newRecorder()
	t0 := time.Now()

	r.add(w, opSignin, t0, time.Millisecond, "") // ended before the window: not counted
	w.start.Store(time.Now().UnixNano())
	r.add(w, opSignin, t0, 600*time.Millisecond, "")        // queued in the warm-up, ended inside
	r.add(w, opSignin, time.Now(), 20*time.Millisecond, "") // wholly inside
	r.add(w, opSignin, t0, time.Second, "throttled")        // a failure ending inside
	w.stopped.Store(true)
	r.add(w, opSignin, time.Now(), time.Millisecond, "") // ended after the window

	res := summarize([]*recorder{r}, 2*time.Second)
	if len(res) != 1 {
		t.Fatalf("summarize = %+v, want one operation", res)
	}
	got := res[0]
	if got.Count != 2 || got.LatencySamples != 1 || got.Errors != 1 || got.ErrorKinds["throttled"] != 1 {
		t.Errorf("count %d, latency samples %d, errors %d %v; want 2, 1, 1 throttled", got.Count, got.LatencySamples, got.Errors, got.ErrorKinds)
	}
	if got.PerSecond != 1 {
		t.Errorf("per second = %v, want 1 (2 in 2 s)", got.PerSecond)
	}
	if got.P99Ms != 20 || got.MaxMs != 20 {
		t.Errorf("p99 %v ms, max %v ms; want 20 (the warm-up's queueing left out)", got.P99Ms, got.MaxMs)
	}
	if w.ok[opSignin].Load() != 4 || w.failed[opSignin].Load() != 1 {
		t.Errorf("live counters ok %d failed %d, want 4 and 1", w.ok[opSignin].Load(), w.failed[opSignin].Load())
	}
}
