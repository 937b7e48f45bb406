package store

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNextSweepLimit(t *testing.T) {
	for _, tc := range []struct {
		limit, batch int
		took         time.Duration
		want         int
	}{
		{1000, 1000, SweepBudget + time.Millisecond, 500},
		{1000, 1000, SweepBudget, 1000},
		{1000, 1000, SweepBudget / 4, 1000},
		{1000, 1000, time.Millisecond, 1000}, // never above the batch
		{250, 1000, time.Millisecond, 500},
		{600, 1000, time.Millisecond, 1000},
		{80, 1000, time.Second, 50}, // never below minSweepLimit
		{50, 1000, time.Second, 50},
		{1, 1, time.Second, 1}, // nor above a batch smaller than it
		{20, 30, time.Second, 20},
	} {
		if got := nextSweepLimit(tc.limit, tc.batch, tc.took); got != tc.want {
			t.Errorf("nextSweepLimit(%d, %d, %v) = %d, want %d", tc.limit, tc.batch, tc.took, got, tc.want)
		}
	}
}

// RunSweep sizes statements down while they overrun the budget, deletes
// every row, and moves on once a statement finds fewer rows than allowed.
func TestRunSweep(t *testing.T) {
	left := map[string]int{"slow": 2500, "fast": 2500}
	var counts [2]int
	limits := map[string][]int{}
	exec := func(sql string, cut any, limit int) (int64, error) {
		limits[sql] = append(limits[sql], limit)
		if sql == "slow" {
			time.Sleep(SweepBudget + time.Millisecond) // always over the budget
		}
		n := min(limit, left[sql])
		left[sql] -= n
		return int64(n), nil
	}
	statements, err := RunSweep(1000, []SweepStep{{Count: &counts[0], SQL: "slow"}, {Count: &counts[1], SQL: "fast"}}, exec)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(limits["slow"]) + len(limits["fast"]); statements != n {
		t.Errorf("RunSweep counted %d statements, ran %d", statements, n)
	}
	if counts != [2]int{2500, 2500} || left["slow"] != 0 || left["fast"] != 0 {
		t.Fatalf("counts %v, left %v; want every row deleted", counts, left)
	}
	// 1000, 500, 250, 125 and 62 rows leave 563, deleted 50 at a time
	// (the last statement finds 13 and ends the step).
	want := []int{1000, 500, 250, 125, 62}
	for range 12 {
		want = append(want, 50)
	}
	if diff := cmp.Diff(want, limits["slow"]); diff != "" {
		t.Errorf("limits of the slow statements (-want +got):\n%s", diff)
	}
	for _, l := range limits["fast"] {
		if l < 50 || l > 1000 {
			t.Errorf("fast statement limit %d, want 50..1000", l)
		}
	}
}
