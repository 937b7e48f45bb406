package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// testUsePasswordReset: a reset is the challenge used, the password set,
// the address verified, every session of the user ended and the event
// written, all in one transaction, or only the challenge written.
func testUsePasswordReset(t *testing.T, s store.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "Dev")
	u, live := userWithSession(t, s, env.ID, "reset@example.com")
	b := newBrowserSession(env.ID, u.ID)
	if err := s.CreateBrowserSession(ctx, b); err != nil {
		t.Fatal(err)
	}
	_, bystander := userWithSession(t, s, env.ID, "bystander@example.com")
	done := newSession(env.ID, u.ID)
	if err := s.CreateSession(ctx, done); err != nil {
		t.Fatal(err)
	}
	doneAt := store.Now().Add(-time.Hour)
	if err := s.EndSession(ctx, env.ID, done.ID, doneAt); err != nil {
		t.Fatal(err)
	}
	challenge := func(kind, email string) *store.Challenge { return usersChallenge(t, s, u, kind, email) }
	use := func(c *store.Challenge) error { now := store.Now(); c.UsedAt = &now; return nil }
	user := func() *store.User {
		t.Helper()
		got, err := s.GetUser(ctx, env.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	ended := func(id string) bool {
		t.Helper()
		got, err := s.GetSession(ctx, env.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		return got.EndedAt != nil
	}
	event := func() *store.Event {
		e := newEvent(env.ID, "user.password_reset")
		e.ActorID, e.TargetID = u.ID, u.ID
		return e
	}

	// fn refuses: nothing is written.
	c := challenge(store.ChallengePasswordReset, u.Email)
	boom := errors.New("boom")
	ev := event()
	if _, _, err := s.UsePasswordReset(ctx, env.ID, c.ID, func(c *store.Challenge) error { c.Attempts = 9; return boom }, "hash-1", ev); !errors.Is(err, boom) {
		t.Errorf("fn's error = %v, want it back", err)
	}
	if got, _ := s.GetChallenge(ctx, env.ID, c.ID); got.Attempts != 0 || got.UsedAt != nil || user().PasswordHash != "" || ended(live.ID) || logged(t, s, ev) {
		t.Fatal("a refused reset wrote something")
	}

	// Another kind of challenge is not a reset.
	v := challenge(store.ChallengeEmailVerification, u.Email)
	if _, _, err := s.UsePasswordReset(ctx, env.ID, v.ID, use, "hash-1", ev); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an email verification as a reset: err = %v, want ErrNotFound", err)
	}

	// The reset: all of it at once.
	gotC, gotU, err := s.UsePasswordReset(ctx, env.ID, c.ID, use, "hash-1", ev)
	if err != nil || gotC.UsedAt == nil || gotU == nil {
		t.Fatalf("UsePasswordReset = %+v, %+v, %v", gotC, gotU, err)
	}
	now := user()
	if now.PasswordHash != "hash-1" || !now.EmailVerified || !now.UpdatedAt.Equal(*gotC.UsedAt) || gotU.PasswordHash != "hash-1" {
		t.Errorf("user after the reset = %+v (returned %+v), want the new hash, verified, updated at %v", now, gotU, *gotC.UsedAt)
	}
	if !ended(live.ID) {
		t.Error("the user's session is still live")
	}
	if got, _ := s.GetBrowserSessionByHash(ctx, b.Hash); got.EndedAt == nil {
		t.Error("the user's browser session is still live")
	}
	if ended(bystander.ID) {
		t.Error("another user's session was ended")
	}
	if got, _ := s.GetSession(ctx, env.ID, done.ID); !got.EndedAt.Equal(doneAt) {
		t.Errorf("a session ended before the reset now ends at %v, want %v", got.EndedAt, doneAt)
	}
	if !logged(t, s, ev) {
		t.Error("the reset was not logged")
	}

	// A link to an address the user no longer has: used up, nothing else.
	later := newSession(env.ID, u.ID)
	if err := s.CreateSession(ctx, later); err != nil {
		t.Fatal(err)
	}
	old := challenge(store.ChallengePasswordReset, "previous@example.com")
	ev2 := event()
	gotC, gotU, err = s.UsePasswordReset(ctx, env.ID, old.ID, use, "hash-2", ev2)
	if err != nil || gotU != nil || gotC.UsedAt == nil {
		t.Fatalf("reset for an old address = %+v, %v, %v; want the challenge used and no user", gotC, gotU, err)
	}
	if got, _ := s.GetChallenge(ctx, env.ID, old.ID); got.UsedAt == nil {
		t.Error("the old address's challenge was not used up")
	}
	if user().PasswordHash != "hash-1" || ended(later.ID) || logged(t, s, ev2) {
		t.Error("a reset for an old address changed the password, ended a session or was logged")
	}

	// A taken event ID rolls all of it back.
	again := challenge(store.ChallengePasswordReset, u.Email)
	dup := event()
	dup.ID = ev.ID
	if _, _, err := s.UsePasswordReset(ctx, env.ID, again.ID, use, "hash-3", dup); err == nil {
		t.Fatal("a reset whose event ID is taken succeeded")
	}
	if got, _ := s.GetChallenge(ctx, env.ID, again.ID); got.UsedAt != nil || user().PasswordHash != "hash-1" || ended(later.ID) {
		t.Error("a reset that failed to log was partly written")
	}
}
