package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
)

func testEndUserSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	u, other := newUser(e.ID, "reset@example.com"), newUser(e.ID, "other@example.com")
	for _, x := range []*store.User{u, other} {
		if err := s.CreateUser(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	var mine []string
	for i := range 3 {
		sess := newSession(e.ID, u.ID)
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		mine = append(mine, sess.ID)
		if i == 0 {
			if err := s.EndSession(ctx, e.ID, sess.ID, store.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	keep := newSession(e.ID, other.ID)
	if err := s.CreateSession(ctx, keep); err != nil {
		t.Fatal(err)
	}
	now := store.Now()
	b := &store.BrowserSession{ID: ids.New("bsession"), Hash: []byte(ids.New("h")), EnvironmentID: e.ID, UserID: u.ID,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateBrowserSession(ctx, b); err != nil {
		t.Fatal(err)
	}
	n, err := s.EndUserSessions(ctx, e.ID, u.ID, now.Add(time.Second))
	if err != nil || n != 2 {
		t.Fatalf("EndUserSessions = %d, %v; want the 2 live sessions", n, err)
	}
	for _, id := range mine {
		got, _ := s.GetSession(ctx, e.ID, id)
		if got.EndedAt == nil {
			t.Errorf("session %s still live", id)
		}
	}
	if got, _ := s.GetSession(ctx, e.ID, keep.ID); got.EndedAt != nil {
		t.Error("another user's session was ended")
	}
	if got, _ := s.GetBrowserSessionByHash(ctx, b.Hash); got.EndedAt == nil {
		t.Error("the browser session is still live")
	}
}
