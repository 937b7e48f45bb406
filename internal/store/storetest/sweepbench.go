package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
)

// BenchmarkSweep measures one sweep of deadTokens refresh tokens used
// longer ago than the retention (a busy day's rotations), beside a live
// session's chain that must stay, at several batch sizes and with a small
// and a large number of rows kept. It reports rows deleted per second, the
// statements a sweep ran (RunSweep sizes them to store.SweepBudget) and
// the mean time per statement, the ones that find nothing included: about
// how long one statement holds up other writes (on SQLite, every write).
func BenchmarkSweep(b *testing.B, newStore func(testing.TB) store.Store) {
	const deadTokens = 20_000
	for _, c := range []struct{ kept, batch int }{{1_000, 1000}, {1_000, 5000}, {100_000, 1000}} {
		keptTokens, batch := c.kept, c.batch
		b.Run(fmt.Sprintf("kept=%d/batch=%d", keptTokens, batch), func(b *testing.B) {
			s := newStore(b)
			ctx := b.Context()
			now := store.Now()
			before := now.Add(-7 * 24 * time.Hour)
			env := &store.Environment{ID: ids.New("environment"), Name: "Bench", Type: store.Development, ClientID: ids.New("client"),
				CORSOrigins: []string{}, CreatedAt: now, UpdatedAt: now}
			if err := s.CreateEnvironment(ctx, env); err != nil {
				b.Fatal(err)
			}
			u := newUser(env.ID, "bench@example.com")
			if err := s.CreateUser(ctx, u); err != nil {
				b.Fatal(err)
			}
			live := newSession(env.ID, u.ID)
			if err := s.CreateSession(ctx, live); err != nil {
				b.Fatal(err)
			}
			seed := func(n int, created time.Time, used *time.Time) {
				var wg sync.WaitGroup
				errs := make(chan error, 8)
				for w := range 8 {
					wg.Go(func() {
						for i := w; i < n; i += 8 {
							t := &store.RefreshToken{Hash: randomHash(), EnvironmentID: env.ID, SessionID: live.ID, CreatedAt: created, UsedAt: used}
							if err := s.CreateRefreshToken(ctx, t); err != nil {
								errs <- err
								return
							}
						}
					})
				}
				wg.Wait()
				close(errs)
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
			seed(keptTokens, now, nil)
			old := before.Add(-time.Hour)
			statements, deleted := 0, 0
			var elapsed time.Duration
			for b.Loop() {
				b.StopTimer()
				seed(deadTokens, old, &old)
				b.StartTimer()
				start := time.Now()
				n, err := s.Sweep(ctx, store.SweepCutoffs{Now: now, Before: before}, batch)
				elapsed += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				if n.RefreshTokens != deadTokens || n.Total() != deadTokens {
					b.Fatalf("swept %+v, want %d refresh tokens", n, deadTokens)
				}
				deleted += n.Total()
				statements += n.Statements
			}
			b.ReportMetric(float64(deleted)/elapsed.Seconds(), "rows/s")
			b.ReportMetric(float64(statements)/float64(b.N), "statements/op")
			b.ReportMetric(float64(elapsed.Microseconds())/1000/float64(statements), "ms/statement")
		})
	}
}
