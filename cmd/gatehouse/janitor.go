package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/store"
)

const (
	janitorEvery = 10 * time.Minute // how often dead rows are swept
	sweepBatch   = 1000             // most rows per delete statement; store.RunSweep takes fewer while statements overrun store.SweepBudget
)

// retention is how long the sweeper keeps what it may delete.
type retention struct {
	dead   time.Duration // dead codes, sessions, challenges, used refresh tokens, throttles, sent emails
	events time.Duration // the activity log; 0 keeps it
}

func retentionOf(c config.Config) retention {
	return retention{dead: c.Retention, events: c.EventRetention}
}

// cutoffs are the sweep's cutoffs at now.
func (r retention) cutoffs(now time.Time) store.SweepCutoffs {
	c := store.SweepCutoffs{Now: now, Before: now.Add(-r.dead)}
	if r.events > 0 {
		c.Events = now.Add(-r.events)
	}
	return c
}

// runJanitor sweeps dead rows (store.Sweeper) every, first one minute
// after start (or at once if every is shorter), until ctx ends. Every
// node runs it; sweeps on several nodes skip each other's rows.
func runJanitor(ctx context.Context, st store.Store, logger *slog.Logger, every time.Duration, keep retention) {
	t := time.NewTimer(min(time.Minute, every))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sweep(ctx, st, logger, keep)
		t.Reset(every)
	}
}

// sweep runs one sweep and logs what it deleted.
func sweep(ctx context.Context, st store.Store, logger *slog.Logger, keep retention) {
	start := time.Now()
	n, err := st.Sweep(ctx, keep.cutoffs(start), sweepBatch)
	attrs := []any{"auth_requests", n.AuthRequests, "auth_codes", n.AuthCodes, "refresh_tokens", n.RefreshTokens,
		"sessions", n.Sessions, "browser_sessions", n.BrowserSessions, "challenges", n.Challenges, "throttles", n.Throttles, "emails", n.Emails, "events", n.Events, "idempotency_keys", n.IdempotencyKeys, "statements", n.Statements,
		"took", time.Since(start).Round(time.Millisecond).String()}
	switch {
	case err != nil && ctx.Err() == nil:
		logger.WarnContext(ctx, "janitor: sweep failed; it is retried at the next run", append(attrs, "err", err)...)
	case err == nil && n.Total() > 0:
		logger.InfoContext(ctx, "janitor: deleted dead rows", attrs...)
	}
}
