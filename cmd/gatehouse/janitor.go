package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const (
	janitorEvery = 10 * time.Minute // how often dead rows are swept
	sweepBatch   = 1000             // rows per delete statement: ~6 ms of SQLite's one writer (docs/benchmarks.md)
)

// runJanitor sweeps dead rows (store.Sweeper) every, first one minute
// after start (or at once if every is shorter), until ctx ends. Every
// node runs it; sweeps on several nodes skip each other's rows.
func runJanitor(ctx context.Context, st store.Store, logger *slog.Logger, every, retention time.Duration) {
	t := time.NewTimer(min(time.Minute, every))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sweep(ctx, st, logger, retention)
		t.Reset(every)
	}
}

// sweep runs one sweep and logs what it deleted.
func sweep(ctx context.Context, st store.Store, logger *slog.Logger, retention time.Duration) {
	start := time.Now()
	n, err := st.Sweep(ctx, store.SweepCutoffs{Now: start, Before: start.Add(-retention)}, sweepBatch)
	attrs := []any{"auth_requests", n.AuthRequests, "auth_codes", n.AuthCodes, "refresh_tokens", n.RefreshTokens,
		"sessions", n.Sessions, "browser_sessions", n.BrowserSessions, "challenges", n.Challenges, "throttles", n.Throttles, "emails", n.Emails,
		"took", time.Since(start).Round(time.Millisecond).String()}
	switch {
	case err != nil && ctx.Err() == nil:
		logger.WarnContext(ctx, "janitor: sweep failed; it is retried at the next run", append(attrs, "err", err)...)
	case err == nil && n.Total() > 0:
		logger.InfoContext(ctx, "janitor: deleted dead rows", attrs...)
	}
}
