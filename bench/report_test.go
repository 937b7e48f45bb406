package main

import (
	"strings"
	"testing"
	"time"
)

// A --rate 70% run whose machine slowed after the calibration is marked
// OVERDRIVEN; one that stayed near 70 % of the peak measured after it is
// not.
func TestOverdrivenRateMarked(t *testing.T) {
	m, err := parseMix("refresh")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config{ratePct: 70}
	for _, tc := range []struct {
		after float64 // the peak measured after the run
		want  bool
	}{{after: 1400, want: false}, {after: 1000, want: true}} {
		res := &Results{
			Calibrate: &PhaseResult{TopLevelPerS: 1430},
			Run:       &PhaseResult{Rate: 1000, elapsed: time.Second, ElapsedS: 1, Ops: []OpResult{{Op: "refresh", Count: 1000, P99Ms: 10}}},
			Recheck:   &PhaseResult{TopLevelPerS: tc.after},
		}
		var note string
		for _, tg := range evaluate(cfg, m, &target{backend: "sqlite"}, res) {
			if tg.Name == "p99 refresh" {
				note = tg.Note
			}
		}
		if note == "" {
			t.Fatalf("no p99 refresh verdict for a fixed-rate run")
		}
		if got := strings.Contains(note, "OVERDRIVEN"); got != tc.want {
			t.Errorf("peak after %v: note %q, OVERDRIVEN %v, want %v", tc.after, note, got, tc.want)
		}
	}
}
