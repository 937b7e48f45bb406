package postgres_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

// The read-modify-write paths one caller waits for: how long one call
// takes on an otherwise idle database, which is mostly round trips.
//
//	go test ./internal/store/postgres -run XXX -bench 'UpdateUser|UseEmailVerification' -cpu 1
func BenchmarkUpdateUser(b *testing.B) {
	db := pgtest.New(b)
	ctx := b.Context()
	env, u := newEnvUser(b, db)
	for b.Loop() {
		if _, err := db.UpdateUser(ctx, env.ID, u.ID, func(u *store.User) error { u.UpdatedAt = store.Now(); return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUseEmailVerification(b *testing.B) {
	db := pgtest.New(b)
	ctx := b.Context()
	env, u := newEnvUser(b, db)
	now := store.Now()
	for b.Loop() {
		b.StopTimer()
		c := &store.Challenge{ID: ids.New("email_verification"), EnvironmentID: env.ID, Kind: store.ChallengeEmailVerification,
			UserID: u.ID, Email: u.Email, Hash: []byte(ids.New("hash")), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := db.CreateChallenge(ctx, c); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		_, user, err := db.UseEmailVerification(ctx, env.ID, c.ID, func(c *store.Challenge) error {
			used := store.Now()
			c.Attempts++
			c.UsedAt = &used
			return nil
		}, nil)
		if err != nil || user == nil {
			b.Fatalf("UseEmailVerification = %v, %v", user, err)
		}
	}
}

// newEnvUser creates an environment and a user in it.
func newEnvUser(tb testing.TB, s store.Store) (*store.Environment, *store.User) {
	tb.Helper()
	now := store.Now()
	env := &store.Environment{ID: ids.New("environment"), Name: "Bench", Type: store.Development, ClientID: ids.New("client"),
		CORSOrigins: []string{}, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateEnvironment(tb.Context(), env); err != nil {
		tb.Fatal(err)
	}
	u := &store.User{ID: ids.New("user"), EnvironmentID: env.ID, Email: "bench@example.com", Metadata: map[string]string{},
		CreatedAt: now, UpdatedAt: now}
	if err := s.CreateUser(tb.Context(), u); err != nil {
		tb.Fatal(err)
	}
	return env, u
}
