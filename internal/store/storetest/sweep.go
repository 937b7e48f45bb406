package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Sweep deletes exactly the rows past the cutoffs, and keeps every row a
// live session, a pending flow or reuse detection still needs.
func testSweep(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := store.Now()
	before := now.Add(-7 * 24 * time.Hour) // the retention cutoff
	long := before.Add(-time.Hour)         // before the cutoff
	recent := before.Add(time.Hour)        // after it, yet in the past
	e := newEnv(t, s, "Dev")
	u := newUser(e.ID, "ada@example.com")
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// Codes: one expired long ago goes; one expired recently stays.
	oldCode, recentCode := newAuthCode(e.ID), newAuthCode(e.ID)
	oldCode.CreatedAt, oldCode.ExpiresAt = long.Add(-10*time.Minute), long
	recentCode.CreatedAt, recentCode.ExpiresAt = recent.Add(-10*time.Minute), recent
	must(s.CreateAuthCode(ctx, oldCode))
	must(s.CreateAuthCode(ctx, recentCode))

	// Sessions: one past its absolute expiry long ago goes, with its
	// current token; one ended long ago but not yet expired stays.
	dead := newSession(e.ID, u.ID)
	dead.CreatedAt, dead.UpdatedAt, dead.LastActiveAt, dead.ExpiresAt = long.Add(-30*24*time.Hour), long, long, long
	must(s.CreateSession(ctx, dead))
	deadToken := newRefreshToken(e.ID, dead.ID)
	deadToken.CreatedAt = long.Add(-time.Hour)
	must(s.CreateRefreshToken(ctx, deadToken))
	ended := newSession(e.ID, u.ID)
	must(s.CreateSession(ctx, ended))
	must(s.EndSession(ctx, e.ID, ended.ID, long))

	// A live session's chain: a token used long ago goes; one used
	// recently stays (its reuse must still be detected); the current one
	// stays however old, and so does a new one.
	live := newSession(e.ID, u.ID)
	must(s.CreateSession(ctx, live))
	usedLong, usedRecent, idle := newRefreshToken(e.ID, live.ID), newRefreshToken(e.ID, live.ID), newRefreshToken(e.ID, live.ID)
	usedLong.CreatedAt, usedLong.UsedAt = long.Add(-time.Hour), &long
	usedRecent.CreatedAt, usedRecent.UsedAt = long, &recent
	idle.CreatedAt = long.Add(-2 * time.Hour)
	fresh := newRefreshToken(e.ID, live.ID)
	// A token whose session never existed, created long ago, goes.
	orphan := newRefreshToken(e.ID, "session_missing")
	orphan.CreatedAt = long
	for _, tok := range []*store.RefreshToken{usedLong, usedRecent, idle, fresh, orphan} {
		must(s.CreateRefreshToken(ctx, tok))
	}

	// Browser sessions and challenges: expired long ago go.
	oldBrowser, liveBrowser := newBrowserSession(e.ID, u.ID), newBrowserSession(e.ID, u.ID)
	oldBrowser.CreatedAt, oldBrowser.LastSeenAt, oldBrowser.ExpiresAt = long.Add(-time.Hour), long.Add(-time.Hour), long
	must(s.CreateBrowserSession(ctx, oldBrowser))
	must(s.CreateBrowserSession(ctx, liveBrowser))
	oldChallenge, recentChallenge := newChallenge(e.ID, store.ChallengeMagicAuth, u.Email), newChallenge(e.ID, store.ChallengeMagicAuth, u.Email)
	oldChallenge.CreatedAt, oldChallenge.ExpiresAt = long.Add(-time.Minute), long
	recentChallenge.CreatedAt, recentChallenge.ExpiresAt = recent.Add(-time.Minute), recent
	must(s.CreateChallenge(ctx, oldChallenge))
	must(s.CreateChallenge(ctx, recentChallenge))

	// Throttles: a counter last hit long ago goes.
	if _, err := s.RecordFailure(ctx, "sweep:old", long, 15*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordFailure(ctx, "sweep:recent", now, 15*time.Minute); err != nil {
		t.Fatal(err)
	}

	// Emails: sent or failed long ago go; a pending one, however old, and a
	// recently sent one stay.
	oldSent, oldFailed, oldPending, recentSent := newEmail(e.ID, long), newEmail(e.ID, long), newEmail(e.ID, long), newEmail(e.ID, recent)
	oldSent.CreatedAt, oldFailed.CreatedAt, oldPending.CreatedAt, recentSent.CreatedAt = long, long, long, recent
	for _, m := range []*store.Email{oldSent, oldFailed, oldPending, recentSent} {
		must(s.EnqueueEmail(ctx, m))
	}
	claimed, err := s.ClaimEmails(ctx, now, 10, time.Minute, "sweep-test")
	if err != nil || len(claimed) != 4 {
		t.Fatalf("claimed %d emails, %v; want 4", len(claimed), err)
	}
	must(s.MarkEmailSent(ctx, oldSent.ID, "sweep-test", long))
	must(s.MarkEmailSent(ctx, recentSent.ID, "sweep-test", recent))
	must(s.MarkEmailFailed(ctx, oldFailed.ID, "sweep-test", long, "550 no such user", true))
	must(s.ReleaseEmail(ctx, oldPending.ID, "sweep-test"))

	// Events: those recorded before the events' cutoff go, the
	// environment's and server-wide ones alike, but only when a sweep is
	// given that cutoff. Their IDs carry the time.
	eventAt := func(envID string, at time.Time) *store.Event {
		ev := newEvent(envID, "user.signed_in")
		ev.ID, ev.CreatedAt = ids.Floor("event", at), at
		must(s.RecordEvent(ctx, ev))
		return ev
	}
	oldEvents := []*store.Event{eventAt(e.ID, long), eventAt("", long.Add(-time.Hour)), eventAt(e.ID, before.Add(-time.Millisecond))}
	keptEvents := []*store.Event{eventAt(e.ID, before), eventAt(e.ID, recent), newEvent(e.ID, "user.signed_out")}
	must(s.RecordEvent(ctx, keptEvents[2]))

	// A batch of 1 makes every step loop.
	got, err := s.Sweep(ctx, store.SweepCutoffs{Now: now, Before: before}, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := store.Swept{AuthCodes: 1, Sessions: 1, RefreshTokens: 3, BrowserSessions: 1, Challenges: 1, Throttles: 1, Emails: 2}
	// With a batch of 1, one statement per row and one per step (nine)
	// to find nothing more.
	want.Statements = want.Total() + 9
	if got != want {
		t.Errorf("Sweep = %+v, want %+v", got, want)
	}
	if again, err := s.Sweep(ctx, store.SweepCutoffs{Now: now, Before: before}, 1); err != nil || again.Total() != 0 {
		t.Errorf("second Sweep = %+v, %v; want nothing", again, err)
	}
	if got, err := s.Sweep(ctx, store.SweepCutoffs{Now: now, Before: before, Events: before}, 1); err != nil || got != (store.Swept{Events: 3, Statements: 3 + 10}) {
		t.Errorf("Sweep with an events cutoff = %+v, %v; want 3 events", got, err)
	}
	page, err := s.ListEvents(ctx, e.ID, nil, store.ListParams{Order: store.Asc})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{keptEvents[0].ID, keptEvents[1].ID, keptEvents[2].ID}, eventIDs(page)); diff != "" {
		t.Errorf("events left (-want +got):\n%s", diff)
	}
	server, err := s.ListEvents(ctx, "", nil, store.ListParams{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(eventIDs(server), oldEvents[1].ID) {
		t.Error("server-wide event recorded long ago was kept")
	}

	if _, err := s.GetSessionByID(ctx, dead.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session: %v, want deleted", err)
	}
	for _, id := range []string{ended.ID, live.ID} {
		if _, err := s.GetSessionByID(ctx, id); err != nil {
			t.Errorf("session %s: %v, want kept", id, err)
		}
	}
	if _, err := s.GetBrowserSessionByHash(ctx, oldBrowser.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired browser session: %v, want deleted", err)
	}
	if _, err := s.GetBrowserSessionByHash(ctx, liveBrowser.Hash); err != nil {
		t.Errorf("live browser session: %v", err)
	}
	if _, err := s.GetChallenge(ctx, e.ID, oldChallenge.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old challenge: %v, want deleted", err)
	}
	if _, err := s.GetChallenge(ctx, e.ID, recentChallenge.ID); err != nil {
		t.Errorf("recent challenge: %v", err)
	}
	if th, _ := s.GetThrottle(ctx, "sweep:old"); th.Failures != 0 {
		t.Errorf("old throttle: %+v, want deleted", th)
	}
	if th, _ := s.GetThrottle(ctx, "sweep:recent"); th.Failures != 1 {
		t.Errorf("recent throttle: %+v, want kept", th)
	}
	for _, id := range []string{oldSent.ID, oldFailed.ID} {
		if _, err := s.GetEmail(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("email %s sent or failed long ago: %v, want deleted", id, err)
		}
	}
	for _, id := range []string{oldPending.ID, recentSent.ID} {
		if _, err := s.GetEmail(ctx, id); err != nil {
			t.Errorf("email %s (pending, or sent recently): %v, want kept", id, err)
		}
	}
	// The probes below change what they find, so they come last.
	if _, err := s.ConsumeAuthCode(ctx, oldCode.Hash, now, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old code: %v, want deleted", err)
	}
	if _, err := s.ConsumeAuthCode(ctx, recentCode.Hash, now, nil); errors.Is(err, store.ErrNotFound) {
		t.Error("recently expired code was deleted")
	}
	for name, tok := range map[string]*store.RefreshToken{"of the expired session": deadToken, "used long ago": usedLong, "orphan": orphan} {
		if err := s.DeleteRefreshToken(ctx, tok.Hash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("refresh token %s: %v, want deleted", name, err)
		}
	}
	for name, tok := range map[string]*store.RefreshToken{"used recently": usedRecent, "current, idle": idle, "new": fresh} {
		if err := s.DeleteRefreshToken(ctx, tok.Hash); err != nil {
			t.Errorf("refresh token %s: %v, want kept", name, err)
		}
	}
}
