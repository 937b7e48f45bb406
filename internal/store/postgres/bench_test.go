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
//	go test ./internal/store/postgres -run XXX -bench 'UpdateUser|UseEmailVerification|VerifiedSignIn' -cpu 1
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
	for b.Loop() {
		b.StopTimer()
		c := newVerification(b, db, env, u)
		b.StartTimer()
		if _, user, err := db.UseEmailVerification(ctx, env.ID, c.ID, useChallenge, nil); err != nil || user == nil {
			b.Fatalf("UseEmailVerification = %v, %v", user, err)
		}
	}
}

// BenchmarkVerifiedSignIn is the store's part of the hosted verification
// page: the code's use and the sign-in (browser session, session, the
// app's code, the request completed), as two transactions and as one.
// Each variant has a database of its own: the tables grow as it runs.
func BenchmarkVerifiedSignIn(b *testing.B) {
	for _, together := range []bool{false, true} {
		name := "two-transactions"
		if together {
			name = "one-transaction"
		}
		b.Run(name, func(b *testing.B) {
			db := pgtest.New(b)
			ctx := b.Context()
			env, u := newEnvUser(b, db)
			for b.Loop() {
				b.StopTimer()
				c := newVerification(b, db, env, u)
				now := store.Now()
				req := &store.AuthRequest{ID: ids.New("authreq"), EnvironmentID: env.ID, ClientID: env.ClientID, RedirectURI: "http://localhost:3000/callback",
					ScreenHint: "sign-up", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
				if err := db.CreateAuthRequest(ctx, req); err != nil {
					b.Fatal(err)
				}
				bs := &store.BrowserSession{ID: ids.New("bsession"), Hash: []byte(ids.New("hash")), EnvironmentID: env.ID, UserID: u.ID,
					CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
				in := store.SignIn{Browser: bs, Request: req.ID,
					Session: &store.Session{ID: ids.New("session"), EnvironmentID: env.ID, UserID: u.ID, BrowserSessionID: bs.ID, ClientID: env.ClientID,
						AuthMethod: "password", CreatedAt: now, UpdatedAt: now, LastActiveAt: now, ExpiresAt: now.Add(time.Hour)},
					Code: &store.AuthCode{Hash: []byte(ids.New("hash")), ClientID: env.ClientID, RedirectURI: req.RedirectURI, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}}
				b.StartTimer()
				var err error
				if together {
					_, _, err = db.UseEmailVerification(ctx, env.ID, c.ID, useChallenge, &in)
				} else if _, _, err = db.UseEmailVerification(ctx, env.ID, c.ID, useChallenge, nil); err == nil {
					err = db.StartSession(ctx, in)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// newVerification stores an email-verification code for u.
func newVerification(b *testing.B, db store.Store, env *store.Environment, u *store.User) *store.Challenge {
	now := store.Now()
	c := &store.Challenge{ID: ids.New("email_verification"), EnvironmentID: env.ID, Kind: store.ChallengeEmailVerification,
		UserID: u.ID, Email: u.Email, Hash: []byte(ids.New("hash")), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateChallenge(b.Context(), c); err != nil {
		b.Fatal(err)
	}
	return c
}

// useChallenge is a right code's check.
func useChallenge(c *store.Challenge) error {
	used := store.Now()
	c.Attempts++
	c.UsedAt = &used
	return nil
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
