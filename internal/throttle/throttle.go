// Package throttle is the brute-force limit end-user and dashboard
// sign-ins share. Each key (an email, an IP address) gets some free
// failures within Window; after that every attempt waits twice as long
// after the last failure as the one before, up to MaxDelay. Counters live
// in the database (store.Throttles), so the limit holds across nodes.
package throttle

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/store"
)

const (
	Window     = 15 * time.Minute
	MaxDelay   = 15 * time.Minute
	firstDelay = time.Second
)

// Delay is how long a key with n failures, free of them without delay,
// must wait after its last failure.
func Delay(n, free int) time.Duration {
	if n < free {
		return 0
	}
	return min(firstDelay<<min(n-free, 20), MaxDelay)
}

// Check returns a RateLimited error, with the wait, if key must still
// wait at now. recorded reports whether key has failures on record, in
// the window or not: only then does a success need to clear them.
func Check(ctx context.Context, st store.Throttles, key string, free int, now time.Time) (recorded bool, err error) {
	t, err := st.GetThrottle(ctx, key)
	if err != nil {
		return false, err
	}
	return Judge(t, free, now)
}

// Judge is Check on a counter already read.
func Judge(t store.Throttle, free int, now time.Time) (recorded bool, err error) {
	if t.Failures == 0 || now.Sub(t.FirstAt) > Window {
		return t.Failures > 0, nil
	}
	if wait := t.LastAt.Add(Delay(t.Failures, free)).Sub(now); wait > 0 {
		return true, &errs.Error{Kind: errs.RateLimited, Code: "too_many_attempts", RetryAfter: wait,
			Message: "Too many sign-in attempts. Wait a moment and try again."}
	}
	return true, nil
}
