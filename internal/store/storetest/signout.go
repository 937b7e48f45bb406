package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
)

// testEndSessionAndBrowser: a sign-out ends the session and its browser
// session together, logs only the call that ended the session, and
// writes nothing for an unknown session.
func testEndSessionAndBrowser(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	u := newUser(e.ID, "out@example.com")
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	browser := func() *store.BrowserSession {
		b := newBrowserSession(e.ID, u.ID)
		if err := s.CreateBrowserSession(ctx, b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	endedAt := func(b *store.BrowserSession) *time.Time {
		t.Helper()
		got, err := s.GetBrowserSessionByHash(ctx, b.Hash)
		if err != nil {
			t.Fatal(err)
		}
		return got.EndedAt
	}
	b, bystander := browser(), browser()
	sess := newSession(e.ID, u.ID)
	sess.BrowserSessionID = b.ID
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	event := func() *store.Event {
		ev := newEvent(e.ID, "session.ended")
		ev.TargetID = sess.ID
		return ev
	}

	at := store.Now().Add(time.Minute)
	first := event()
	ended, err := s.EndSessionAndBrowser(ctx, e.ID, sess.ID, b.ID, at, first)
	if err != nil || !ended {
		t.Fatalf("EndSessionAndBrowser = %v, %v; want ended", ended, err)
	}
	got, err := s.GetSession(ctx, e.ID, sess.ID)
	if err != nil || got.EndedAt == nil || !got.EndedAt.Equal(at) || !got.UpdatedAt.Equal(at) {
		t.Fatalf("session after sign-out = %+v, %v; want ended and updated at %v", got, err, at)
	}
	if end := endedAt(b); end == nil || !end.Equal(at) {
		t.Errorf("browser session ended at %v, want %v", end, at)
	}
	if endedAt(bystander) != nil {
		t.Error("another browser session was ended")
	}
	if !logged(t, s, first) {
		t.Error("the sign-out was not logged")
	}

	// Again, later: nothing changes and nothing more is logged.
	second := event()
	if ended, err := s.EndSessionAndBrowser(ctx, e.ID, sess.ID, b.ID, at.Add(time.Hour), second); err != nil || ended {
		t.Fatalf("second sign-out = %v, %v; want not ended, no error", ended, err)
	}
	got, _ = s.GetSession(ctx, e.ID, sess.ID)
	if !got.EndedAt.Equal(at) || !got.UpdatedAt.Equal(at) || !endedAt(b).Equal(at) {
		t.Errorf("a second sign-out moved the end times: session %v/%v, browser %v", got.EndedAt, got.UpdatedAt, endedAt(b))
	}
	if logged(t, s, second) {
		t.Error("a second sign-out was logged")
	}

	// An unknown session: ErrNotFound, and the browser session it names
	// is left alone.
	_, err = s.EndSessionAndBrowser(ctx, e.ID, ids.New("session"), bystander.ID, at, event())
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown session: err = %v, want ErrNotFound", err)
	}
	if endedAt(bystander) != nil {
		t.Error("signing out an unknown session ended a browser session")
	}
	// Another environment's session is unknown too.
	other := newEnv(t, s, "Other")
	if _, err := s.EndSessionAndBrowser(ctx, other.ID, sess.ID, "", at, event()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another environment's session: err = %v, want ErrNotFound", err)
	}

	// No browser session.
	api := newSession(e.ID, u.ID)
	api.BrowserSessionID = ""
	if err := s.CreateSession(ctx, api); err != nil {
		t.Fatal(err)
	}
	if ended, err := s.EndSessionAndBrowser(ctx, e.ID, api.ID, "", at, event()); err != nil || !ended {
		t.Fatalf("sign-out without a browser session = %v, %v", ended, err)
	}
	if endedAt(bystander) != nil {
		t.Error("a sign-out without a browser session ended one")
	}
}
