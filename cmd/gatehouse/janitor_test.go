package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite/sqlitetest"
)

// The janitor, run as serve runs it, deletes a long-dead session, an
// expired pending request and an event older than the activity log's
// retention on a real database file, keeps a live session and a recent
// event, logs what it deleted, and stops with its context.
func TestJanitorSweeps(t *testing.T) {
	db := sqlitetest.New(t)
	ctx := t.Context()
	now := store.Now()
	env := &store.Environment{ID: "environment_1", Name: "Dev", Type: store.Development, ClientID: "client_1", CORSOrigins: []string{}, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	session := func(id string, expires time.Time) *store.Session {
		s := &store.Session{ID: id, EnvironmentID: env.ID, UserID: "user_1", ClientID: env.ClientID, AuthMethod: "password",
			CreatedAt: expires.Add(-time.Hour), UpdatedAt: expires.Add(-time.Hour), LastActiveAt: expires.Add(-time.Hour), ExpiresAt: expires}
		if err := db.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	dead := session("session_dead", now.Add(-8*24*time.Hour))
	live := session("session_live", now.Add(24*time.Hour))
	req := &store.AuthRequest{ID: "authreq_1", EnvironmentID: env.ID, ClientID: env.ClientID, RedirectURI: "http://localhost/cb",
		ScreenHint: "sign-in", CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)}
	if err := db.CreateAuthRequest(ctx, req); err != nil {
		t.Fatal(err)
	}

	event := func(at time.Time) *store.Event {
		e := &store.Event{ID: ids.Floor("event", at), EnvironmentID: env.ID, Type: "user.signed_in", ActorType: "user", CreatedAt: at}
		if err := db.RecordEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	oldEvent, recentEvent := event(now.Add(-31*24*time.Hour)), event(now.Add(-29*24*time.Hour))

	var logs syncBuffer
	jctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		runJanitor(jctx, db, slog.New(slog.NewTextHandler(&logs, nil)), 20*time.Millisecond, retention{dead: 7 * 24 * time.Hour, events: 30 * 24 * time.Hour})
		close(done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "janitor: deleted dead rows") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the janitor did not stop with its context")
	}
	if !strings.Contains(logs.String(), "sessions=1") || !strings.Contains(logs.String(), "auth_requests=1") || !strings.Contains(logs.String(), "events=1") {
		t.Errorf("log does not count what was deleted:\n%s", logs.String())
	}
	if _, err := db.GetSessionByID(ctx, dead.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("dead session: %v, want deleted", err)
	}
	if _, err := db.GetSessionByID(ctx, live.ID); err != nil {
		t.Errorf("live session: %v, want kept", err)
	}
	if _, err := db.GetAuthRequest(ctx, env.ID, req.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired request: %v, want deleted", err)
	}
	page, err := db.ListEvents(ctx, env.ID, nil, store.ListParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 1 || page.Data[0].ID != recentEvent.ID {
		t.Errorf("events left: %+v, want only %s (not %s)", page.Data, recentEvent.ID, oldEvent.ID)
	}
}
