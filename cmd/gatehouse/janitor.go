package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// janitorEvery is how often expired rows are swept.
const janitorEvery = 10 * time.Minute

// runJanitor deletes expired pending authorization requests every
// janitorEvery until ctx ends. Several nodes may run it; deletes are
// idempotent.
func runJanitor(ctx context.Context, st store.Store, logger *slog.Logger) {
	t := time.NewTicker(janitorEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := st.DeleteExpiredAuthRequests(ctx, time.Now())
		if err != nil {
			if ctx.Err() == nil {
				logger.WarnContext(ctx, "janitor: delete expired authorization requests", "err", err)
			}
			continue
		}
		if n > 0 {
			logger.InfoContext(ctx, "janitor: deleted expired authorization requests", "count", n)
		}
	}
}
