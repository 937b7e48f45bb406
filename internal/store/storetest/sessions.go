package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
)

// userWithSession creates a user and a session of theirs.
func userWithSession(t *testing.T, s store.Store, envID, email string) (*store.User, *store.Session) {
	t.Helper()
	u := newUser(envID, email)
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	sess := newSession(envID, u.ID)
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
	return u, sess
}

func newSession(envID, userID string) *store.Session {
	now := store.Now()
	return &store.Session{
		ID: ids.New("session"), EnvironmentID: envID, UserID: userID, BrowserSessionID: ids.New("browser_session"),
		ClientID: "client_01", AuthMethod: "password", IPAddress: "192.0.2.1", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)",
		OrganizationID: "org_01", CreatedAt: now, UpdatedAt: now, LastActiveAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour),
	}
}

func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	other := newEnv(t, s, "Other")
	userID := ids.New("user")

	sess := newSession(e.ID, userID)
	raw := rawTime(0)
	sess.CreatedAt, sess.UpdatedAt, sess.LastActiveAt, sess.ExpiresAt = raw, raw, raw, raw.Add(time.Hour)
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	sess.CreatedAt, sess.UpdatedAt, sess.LastActiveAt = store.Truncate(raw), store.Truncate(raw), store.Truncate(raw)
	sess.ExpiresAt = store.Truncate(raw.Add(time.Hour))
	got, err := s.GetSession(ctx, e.ID, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sess, got); diff != "" {
		t.Errorf("GetSession (-want +got):\n%s", diff)
	}
	if got.LastActiveAt.Location() != time.UTC || got.ExpiresAt.Location() != time.UTC {
		t.Errorf("zones = %v, %v", got.LastActiveAt.Location(), got.ExpiresAt.Location())
	}
	wantErr(t, s.CreateSession(ctx, sess), store.ErrConflict, "duplicate session ID")
	// Optional fields may be empty.
	bare := &store.Session{ID: ids.New("session"), EnvironmentID: e.ID, UserID: userID, ClientID: "client_01",
		AuthMethod: "magic_code", CreatedAt: sess.CreatedAt, UpdatedAt: sess.CreatedAt, LastActiveAt: sess.CreatedAt,
		ExpiresAt: sess.ExpiresAt}
	if err := s.CreateSession(ctx, bare); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetSession(ctx, e.ID, bare.ID); err != nil || !cmp.Equal(bare, got) {
		t.Errorf("bare session = %+v, %v", got, err)
	}

	_, err = s.GetSession(ctx, other.ID, sess.ID)
	wantErr(t, err, store.ErrNotFound, "get across environments")
	_, err = s.GetSession(ctx, e.ID, "session_missing")
	wantErr(t, err, store.ErrNotFound, "GetSession(missing)")
	// GetSessionByID finds a session without its environment.
	got, err = s.GetSessionByID(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sess, got); diff != "" {
		t.Errorf("GetSessionByID (-want +got):\n%s", diff)
	}
	_, err = s.GetSessionByID(ctx, "session_missing")
	wantErr(t, err, store.ErrNotFound, "GetSessionByID(missing)")

	// Touching records activity.
	active := rawTime(time.Minute)
	if err := s.TouchSession(ctx, e.ID, sess.ID, active); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchSession(ctx, other.ID, sess.ID, active.Add(time.Hour)); err == nil {
		t.Error("TouchSession across environments succeeded")
	}
	got, _ = s.GetSession(ctx, e.ID, sess.ID)
	if !got.LastActiveAt.Equal(store.Truncate(active)) {
		t.Errorf("LastActiveAt = %v, want %v", got.LastActiveAt, store.Truncate(active))
	}
	if !got.CreatedAt.Equal(sess.CreatedAt) || !got.ExpiresAt.Equal(sess.ExpiresAt) || got.EndedAt != nil {
		t.Errorf("touch changed other fields: %+v", got)
	}

	// Ending keeps the first end time.
	wantErr(t, s.EndSession(ctx, other.ID, sess.ID, store.Now()), store.ErrNotFound, "end across environments")
	wantErr(t, s.EndSession(ctx, e.ID, "session_missing", store.Now()), store.ErrNotFound, "EndSession(missing)")
	got, _ = s.GetSession(ctx, e.ID, sess.ID)
	if got.EndedAt != nil {
		t.Fatalf("ending in another environment ended the session: %v", got.EndedAt)
	}
	ended := rawTime(2 * time.Minute)
	if err := s.EndSession(ctx, e.ID, sess.ID, ended); err != nil {
		t.Fatal(err)
	}
	if err := s.EndSession(ctx, e.ID, sess.ID, ended.Add(time.Hour)); err != nil {
		t.Fatalf("EndSession twice: %v", err)
	}
	got, _ = s.GetSession(ctx, e.ID, sess.ID)
	if got.EndedAt == nil || !got.EndedAt.Equal(store.Truncate(ended)) || got.EndedAt.Location() != time.UTC {
		t.Errorf("EndedAt = %v, want %v (the first end time)", got.EndedAt, store.Truncate(ended))
	}
	if got, _ := s.GetSession(ctx, e.ID, bare.ID); got.EndedAt != nil {
		t.Errorf("ending one session ended another")
	}
}

func testSessionPagination(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	other := newEnv(t, s, "Other")
	userID, otherUser := ids.New("user"), ids.New("user")
	var all []string
	for range 25 {
		sess := newSession(e.ID, userID)
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		all = append(all, sess.ID)
		// Noise: another user's sessions, and the same user ID elsewhere.
		if err := s.CreateSession(ctx, newSession(e.ID, otherUser)); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSession(ctx, newSession(other.ID, userID)); err != nil {
			t.Fatal(err)
		}
	}
	idsOf := func(p store.Page[store.Session]) []string {
		var out []string
		for _, s := range p.Data {
			out = append(out, s.ID)
		}
		return out
	}
	reversed := slices.Clone(all)
	slices.Reverse(reversed)
	for _, order := range []store.Order{store.Asc, store.Desc} {
		t.Run(string(order), func(t *testing.T) {
			want := all
			if order == store.Desc {
				want = reversed
			}
			var got []string
			var pages []store.Page[store.Session]
			p := store.ListParams{Limit: 10, Order: order}
			for {
				page, err := s.ListUserSessions(ctx, e.ID, userID, p)
				if err != nil {
					t.Fatal(err)
				}
				pages = append(pages, page)
				got = append(got, idsOf(page)...)
				if page.After == "" {
					break
				}
				p.After = page.After
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("forward walk (-want +got):\n%s", diff)
			}
			if len(pages) != 3 || pages[0].Before != "" || pages[2].After != "" || pages[1].Before != want[10] {
				t.Errorf("cursors: first.before=%q last.after=%q middle.before=%q", pages[0].Before, pages[2].After, pages[1].Before)
			}
			back, err := s.ListUserSessions(ctx, e.ID, userID, store.ListParams{Limit: 10, Order: order, Before: pages[2].Before})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want[10:20], idsOf(back)); diff != "" {
				t.Errorf("backward page (-want +got):\n%s", diff)
			}
			if back.Before != want[10] || back.After != want[19] {
				t.Errorf("backward cursors = %q, %q", back.Before, back.After)
			}
		})
	}
	page, err := s.ListUserSessions(ctx, e.ID, userID, store.ListParams{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(reversed[:10], idsOf(page)); diff != "" {
		t.Errorf("default page (-want +got):\n%s", diff)
	}
	page, _ = s.ListUserSessions(ctx, e.ID, userID, store.ListParams{Limit: 1000})
	if len(page.Data) != 25 || page.After != "" {
		t.Errorf("limit 1000: %d sessions, after %q", len(page.Data), page.After)
	}
	page, err = s.ListUserSessions(ctx, e.ID, ids.New("user"), store.ListParams{})
	if err != nil || page.Data == nil || len(page.Data) != 0 || page.After != "" || page.Before != "" {
		t.Errorf("unknown user = %+v, %v", page, err)
	}
	// Ended sessions are listed too.
	if err := s.EndSession(ctx, e.ID, all[0], store.Now()); err != nil {
		t.Fatal(err)
	}
	page, _ = s.ListUserSessions(ctx, e.ID, userID, store.ListParams{Limit: 1, Order: store.Asc})
	if len(page.Data) != 1 || page.Data[0].ID != all[0] || page.Data[0].EndedAt == nil {
		t.Errorf("ended session in list = %+v", page.Data)
	}
}

func newRefreshToken(envID, sessionID string) *store.RefreshToken {
	return &store.RefreshToken{Hash: randomHash(), EnvironmentID: envID, SessionID: sessionID, CreatedAt: store.Now()}
}

// rotate is RotateRefreshToken for tests about the token alone.
func rotate(ctx context.Context, s store.Store, hash []byte, now time.Time, next *store.RefreshToken, sealed string) (*store.RefreshToken, error) {
	r, err := s.RotateRefreshToken(ctx, hash, now, next, sealed)
	if r == nil {
		return nil, err
	}
	if r.Token == nil {
		return nil, fmt.Errorf("RotateRefreshToken returned a rotation without the token (err %v)", err)
	}
	return r.Token, err
}

func testRefreshTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	sessionID := ids.New("session")
	a := newRefreshToken(e.ID, sessionID)
	a.CreatedAt = rawTime(0)
	if err := s.CreateRefreshToken(ctx, a); err != nil {
		t.Fatal(err)
	}
	a.CreatedAt = store.Truncate(a.CreatedAt)
	dup := newRefreshToken(e.ID, sessionID)
	dup.Hash = a.Hash
	wantErr(t, s.CreateRefreshToken(ctx, dup), store.ErrConflict, "duplicate refresh token hash")

	// a → b → c: each rotation returns the token as it was.
	b, c := newRefreshToken(e.ID, sessionID), newRefreshToken(e.ID, sessionID)
	usedA := rawTime(time.Second)
	got, err := rotate(ctx, s, a.Hash, usedA, b, "sealed-b")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("first rotation returned (-want +got):\n%s", diff)
	}
	usedB := rawTime(2 * time.Second)
	got, err = rotate(ctx, s, b.Hash, usedB, c, "sealed-c")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, got); diff != "" {
		t.Errorf("second rotation returned (-want +got):\n%s", diff)
	}

	// Reusing a gives it back as stored, successor included, and inserts nothing.
	d := newRefreshToken(e.ID, sessionID)
	got, err = rotate(ctx, s, a.Hash, store.Now().Add(time.Minute), d, "sealed-d")
	wantErr(t, err, store.ErrAlreadyUsed, "reuse of a")
	wantA := *a
	wantA.UsedAt, wantA.SuccessorHash, wantA.SuccessorSealed = ptr(store.Truncate(usedA)), b.Hash, "sealed-b"
	if diff := cmp.Diff(&wantA, got); diff != "" {
		t.Errorf("reused token (-want +got):\n%s", diff)
	}
	if got != nil && got.UsedAt != nil && got.UsedAt.Location() != time.UTC {
		t.Errorf("UsedAt zone = %v", got.UsedAt.Location())
	}
	_, err = rotate(ctx, s, d.Hash, store.Now(), newRefreshToken(e.ID, sessionID), "x")
	wantErr(t, err, store.ErrNotFound, "rotating the successor of a reused token")
	got, err = rotate(ctx, s, b.Hash, store.Now(), d, "sealed-d")
	wantErr(t, err, store.ErrAlreadyUsed, "reuse of b")
	if got == nil || !cmp.Equal(got.SuccessorHash, c.Hash) || got.SuccessorSealed != "sealed-c" ||
		got.UsedAt == nil || !got.UsedAt.Equal(store.Truncate(usedB)) {
		t.Errorf("reused b = %+v", got)
	}

	got, err = rotate(ctx, s, randomHash(), store.Now(), d, "sealed-d")
	wantErr(t, err, store.ErrNotFound, "rotate unknown")
	if got != nil {
		t.Errorf("unknown token returned %+v", got)
	}

	// The successor joins the rotated token's environment and session,
	// whatever the caller set.
	other := newEnv(t, s, "Other")
	stray := newRefreshToken(other.ID, ids.New("session"))
	strayCopy := *stray
	if _, err := rotate(ctx, s, d.Hash, store.Now(), newRefreshToken(e.ID, sessionID), "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("d exists before its rotation: %v", err)
	}
	if _, err := rotate(ctx, s, c.Hash, store.Now(), stray, "sealed-stray"); err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(stray, &strayCopy) {
		t.Errorf("RotateRefreshToken changed next: %+v", stray)
	}
	got, err = rotate(ctx, s, stray.Hash, store.Now(), d, "sealed-d")
	if err != nil {
		t.Fatal(err)
	}
	if got.EnvironmentID != e.ID || got.SessionID != sessionID {
		t.Errorf("successor in %s/%s, want %s/%s", got.EnvironmentID, got.SessionID, e.ID, sessionID)
	}

	// A rotation whose successor cannot be inserted changes nothing.
	taken := newRefreshToken(e.ID, sessionID)
	taken.Hash = a.Hash
	_, err = rotate(ctx, s, d.Hash, store.Now(), taken, "sealed")
	wantErr(t, err, store.ErrConflict, "rotate to a taken hash")
	got, err = rotate(ctx, s, d.Hash, store.Now(), newRefreshToken(e.ID, sessionID), "sealed-e")
	if err != nil || got.UsedAt != nil || got.SuccessorHash != nil || got.SuccessorSealed != "" {
		t.Errorf("after a failed rotation d = %+v, %v; want unused", got, err)
	}
}

// A rotation also returns the token's session and user as they are now,
// read in the same transaction: a refresh needs no other read.
func testRefreshRotationReadsSessionAndUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	u := newUser(e.ID, "rotation@example.com")
	u.FirstName = ptr("Ro")
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	sess := newSession(e.ID, u.ID)
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	a, b, c := newRefreshToken(e.ID, sess.ID), newRefreshToken(e.ID, sess.ID), newRefreshToken(e.ID, sess.ID)
	if err := s.CreateRefreshToken(ctx, a); err != nil {
		t.Fatal(err)
	}
	wantUser, _ := s.GetUser(ctx, e.ID, u.ID)
	r, err := s.RotateRefreshToken(ctx, a.Hash, store.Now(), b, "sealed-b")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sess, r.Session); diff != "" {
		t.Errorf("session of a rotation (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantUser, r.User); diff != "" {
		t.Errorf("user of a rotation (-want +got):\n%s", diff)
	}

	// A reuse returns them too (the grace window hands out the successor).
	ended := store.Now()
	if err := s.EndSession(ctx, e.ID, sess.ID, ended); err != nil {
		t.Fatal(err)
	}
	r, err = s.RotateRefreshToken(ctx, a.Hash, store.Now(), c, "sealed-c")
	wantErr(t, err, store.ErrAlreadyUsed, "reuse")
	if r == nil || r.Session == nil || r.Session.EndedAt == nil || !r.Session.EndedAt.Equal(ended) || r.User == nil || r.User.ID != u.ID {
		t.Fatalf("reuse returned %+v; want the ended session and the user", r)
	}

	// A deleted user reads as nil; the session is still there.
	if err := s.DeleteUser(ctx, e.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	r, err = s.RotateRefreshToken(ctx, b.Hash, store.Now(), c, "sealed-c")
	if err != nil {
		t.Fatal(err)
	}
	if r.User != nil || r.Session == nil || r.Session.ID != sess.ID {
		t.Errorf("after deleting the user: session %+v, user %+v; want the session and no user", r.Session, r.User)
	}

	// A token whose session is gone rotates with neither.
	orphan := newRefreshToken(e.ID, ids.New("session"))
	if err := s.CreateRefreshToken(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	r, err = s.RotateRefreshToken(ctx, orphan.Hash, store.Now(), newRefreshToken(e.ID, ""), "x")
	if err != nil || r.Token == nil || r.Session != nil || r.User != nil {
		t.Errorf("orphan token: %+v, %v; want the token alone", r, err)
	}
}

func testRefreshTokenRotateRace(t *testing.T, s store.Store) {
	e := newEnv(t, s, "Dev")
	// Once for a token of a real session and user, whose rotations read
	// them too, and once for an orphan token.
	_, sess := userWithSession(t, s, e.ID, "race@example.com")
	for _, sessionID := range []string{sess.ID, ids.New("session")} {
		for range 3 {
			rotateRace(t, s, e, sessionID)
		}
	}
}

func rotateRace(t *testing.T, s store.Store, e *store.Environment, sessionID string) {
	ctx := t.Context()
	tok := newRefreshToken(e.ID, sessionID)
	if err := s.CreateRefreshToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	const n = 8
	nexts := make([]*store.RefreshToken, n)
	got := make([]*store.RefreshToken, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		nexts[i] = newRefreshToken(e.ID, sessionID)
		wg.Go(func() {
			got[i], errs[i] = rotate(ctx, s, tok.Hash, store.Now(), nexts[i], fmt.Sprintf("sealed-%d", i))
		})
	}
	wg.Wait()
	winner := -1
	for i := range n {
		if errs[i] == nil {
			if winner >= 0 {
				t.Fatalf("rotations %d and %d both succeeded", winner, i)
			}
			winner = i
		} else if !errors.Is(errs[i], store.ErrAlreadyUsed) {
			t.Fatalf("rotation %d: %v", i, errs[i])
		}
	}
	if winner < 0 {
		t.Fatal("no rotation succeeded")
	}
	if got[winner] == nil || got[winner].UsedAt != nil || got[winner].SuccessorHash != nil {
		t.Errorf("winner got %+v, want the unused token", got[winner])
	}
	for i := range n {
		if i == winner {
			continue
		}
		// Every loser sees the winner's successor, ready to hand out again.
		if got[i] == nil || got[i].UsedAt == nil || !cmp.Equal(got[i].SuccessorHash, nexts[winner].Hash) ||
			got[i].SuccessorSealed != fmt.Sprintf("sealed-%d", winner) {
			t.Errorf("loser %d got %+v; want winner %d's successor", i, got[i], winner)
		}
		// And its own successor was not inserted.
		_, err := rotate(ctx, s, nexts[i].Hash, store.Now(), newRefreshToken(e.ID, sessionID), "x")
		wantErr(t, err, store.ErrNotFound, fmt.Sprintf("loser %d's successor", i))
	}
	if _, err := rotate(ctx, s, nexts[winner].Hash, store.Now(), newRefreshToken(e.ID, sessionID), "x"); err != nil {
		t.Errorf("rotating the winner's successor: %v", err)
	}
}

func newBrowserSession(envID, userID string) *store.BrowserSession {
	now := store.Now()
	return &store.BrowserSession{ID: ids.New("browser_session"), Hash: randomHash(), EnvironmentID: envID, UserID: userID,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(24 * time.Hour)}
}

func testBrowserSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	other := newEnv(t, s, "Other")
	b := newBrowserSession(e.ID, ids.New("user"))
	raw := rawTime(0)
	b.CreatedAt, b.LastSeenAt, b.ExpiresAt = raw, raw, raw.Add(time.Hour)
	if err := s.CreateBrowserSession(ctx, b); err != nil {
		t.Fatal(err)
	}
	b.CreatedAt, b.LastSeenAt, b.ExpiresAt = store.Truncate(raw), store.Truncate(raw), store.Truncate(raw.Add(time.Hour))
	got, err := s.GetBrowserSessionByHash(ctx, b.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, got); diff != "" {
		t.Errorf("GetBrowserSessionByHash (-want +got):\n%s", diff)
	}
	if got.LastSeenAt.Location() != time.UTC {
		t.Errorf("LastSeenAt zone = %v", got.LastSeenAt.Location())
	}
	_, err = s.GetBrowserSessionByHash(ctx, randomHash())
	wantErr(t, err, store.ErrNotFound, "GetBrowserSessionByHash(unknown)")
	sameHash := newBrowserSession(e.ID, b.UserID)
	sameHash.Hash = b.Hash
	wantErr(t, s.CreateBrowserSession(ctx, sameHash), store.ErrConflict, "duplicate browser session hash")
	sameID := newBrowserSession(e.ID, b.UserID)
	sameID.ID = b.ID
	wantErr(t, s.CreateBrowserSession(ctx, sameID), store.ErrConflict, "duplicate browser session ID")

	seen := rawTime(time.Minute)
	if err := s.TouchBrowserSession(ctx, b.ID, seen); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetBrowserSessionByHash(ctx, b.Hash)
	if !got.LastSeenAt.Equal(store.Truncate(seen)) || !got.CreatedAt.Equal(b.CreatedAt) || got.EndedAt != nil {
		t.Errorf("after touch = %+v", got)
	}

	wantErr(t, s.EndBrowserSession(ctx, other.ID, b.ID, store.Now()), store.ErrNotFound, "end across environments")
	wantErr(t, s.EndBrowserSession(ctx, e.ID, "browser_session_missing", store.Now()), store.ErrNotFound, "EndBrowserSession(missing)")
	ended := rawTime(2 * time.Minute)
	if err := s.EndBrowserSession(ctx, e.ID, b.ID, ended); err != nil {
		t.Fatal(err)
	}
	if err := s.EndBrowserSession(ctx, e.ID, b.ID, ended.Add(time.Hour)); err != nil {
		t.Fatalf("EndBrowserSession twice: %v", err)
	}
	got, _ = s.GetBrowserSessionByHash(ctx, b.Hash)
	if got.EndedAt == nil || !got.EndedAt.Equal(store.Truncate(ended)) || got.EndedAt.Location() != time.UTC {
		t.Errorf("EndedAt = %v, want %v (the first end time)", got.EndedAt, store.Truncate(ended))
	}

	// GetBrowserSessionUser: the session and its user in one read.
	_, _, err = s.GetBrowserSessionUser(ctx, b.Hash)
	wantErr(t, err, store.ErrNotFound, "GetBrowserSessionUser(session whose user does not exist)")
	_, _, err = s.GetBrowserSessionUser(ctx, randomHash())
	wantErr(t, err, store.ErrNotFound, "GetBrowserSessionUser(unknown)")
	u := newUser(e.ID, "browser@example.com")
	u.FirstName, u.EmailVerified, u.Metadata = ptr("Ada"), true, map[string]string{"plan": "pro"}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, &store.User{ID: u.ID, EnvironmentID: other.ID, Email: "twin@example.com", Metadata: map[string]string{},
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}); err != nil && !errors.Is(err, store.ErrConflict) {
		t.Fatal(err)
	}
	live := newBrowserSession(e.ID, u.ID)
	if err := s.CreateBrowserSession(ctx, live); err != nil {
		t.Fatal(err)
	}
	gb, gu, err := s.GetBrowserSessionUser(ctx, live.Hash)
	if err != nil {
		t.Fatal(err)
	}
	wantSession, _ := s.GetBrowserSessionByHash(ctx, live.Hash)
	wantUser, _ := s.GetUser(ctx, e.ID, u.ID)
	if diff := cmp.Diff(wantSession, gb); diff != "" {
		t.Errorf("GetBrowserSessionUser session (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantUser, gu); diff != "" {
		t.Errorf("GetBrowserSessionUser user (-want +got):\n%s", diff)
	}
	if err := s.DeleteUser(ctx, e.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.GetBrowserSessionUser(ctx, live.Hash)
	wantErr(t, err, store.ErrNotFound, "GetBrowserSessionUser after the user was deleted")
}

func testThrottles(t *testing.T, s store.Store) {
	ctx := t.Context()
	const key, otherKey = "signin:email:environment_01:ada@example.com", "signin:ip:192.0.2.1"
	got, err := s.GetThrottle(ctx, key)
	if err != nil || got != (store.Throttle{}) {
		t.Fatalf("GetThrottle(unknown) = %+v, %v; want zero", got, err)
	}
	const window = time.Minute
	start := rawTime(0)
	for i := range 3 {
		at := start.Add(time.Duration(i) * time.Second)
		th, err := s.RecordFailure(ctx, key, at, window)
		if err != nil {
			t.Fatal(err)
		}
		want := store.Throttle{Failures: i + 1, FirstAt: store.Truncate(start), LastAt: store.Truncate(at)}
		if diff := cmp.Diff(want, th); diff != "" {
			t.Errorf("failure %d (-want +got):\n%s", i+1, diff)
		}
		if th.FirstAt.Location() != time.UTC || th.LastAt.Location() != time.UTC {
			t.Errorf("zones = %v, %v", th.FirstAt.Location(), th.LastAt.Location())
		}
	}
	got, err = s.GetThrottle(ctx, key)
	want := store.Throttle{Failures: 3, FirstAt: store.Truncate(start), LastAt: store.Truncate(start.Add(2 * time.Second))}
	if err != nil || !cmp.Equal(want, got) {
		t.Errorf("GetThrottle = %+v, %v; want %+v", got, err, want)
	}
	if th, err := s.RecordFailure(ctx, otherKey, start, window); err != nil || th.Failures != 1 {
		t.Errorf("another key = %+v, %v; want 1 failure", th, err)
	}

	// A failure exactly one window after the first still counts; one
	// after that restarts the counter.
	edge := store.Truncate(start).Add(window)
	th, err := s.RecordFailure(ctx, key, edge, window)
	if err != nil || th.Failures != 4 || !th.FirstAt.Equal(store.Truncate(start)) {
		t.Errorf("failure at the window's edge = %+v, %v; want 4 since %v", th, err, store.Truncate(start))
	}
	later := edge.Add(time.Millisecond)
	th, err = s.RecordFailure(ctx, key, later, window)
	want = store.Throttle{Failures: 1, FirstAt: later, LastAt: later}
	if err != nil || !cmp.Equal(want, th) {
		t.Errorf("failure after the window = %+v, %v; want %+v", th, err, want)
	}
	if th, _ := s.RecordFailure(ctx, key, later.Add(time.Second), window); th.Failures != 2 || !th.FirstAt.Equal(later) {
		t.Errorf("after restart = %+v", th)
	}

	if err := s.ClearThrottle(ctx, key); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetThrottle(ctx, key); err != nil || got != (store.Throttle{}) {
		t.Errorf("after clear = %+v, %v", got, err)
	}
	if err := s.ClearThrottle(ctx, key); err != nil {
		t.Errorf("ClearThrottle(unknown) = %v", err)
	}
	if got, _ := s.GetThrottle(ctx, otherKey); got.Failures != 1 {
		t.Errorf("clearing one key changed another: %+v", got)
	}
	if th, err := s.RecordFailure(ctx, key, later.Add(2*time.Second), window); err != nil || th.Failures != 1 {
		t.Errorf("first failure after clear = %+v, %v", th, err)
	}
}

func testSignInState(t *testing.T, s store.Store) {
	ctx := t.Context()
	e, other := newEnv(t, s, "Dev"), newEnv(t, s, "Other")
	u := newUser(e.ID, "ada@example.com")
	u.PasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	const failed, never = "signin:email:state:ada@example.com", "signin:ip:state:192.0.2.9"
	at := rawTime(0)
	for range 2 {
		if _, err := s.RecordFailure(ctx, failed, at, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	want := []store.Throttle{{Failures: 2, FirstAt: store.Truncate(at), LastAt: store.Truncate(at)}, {}}

	ths, got, err := s.GetSignInState(ctx, e.ID, "ada@example.com", failed, never)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, ths); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
	if ths[0].FirstAt.Location() != time.UTC {
		t.Errorf("zone = %v", ths[0].FirstAt.Location())
	}
	if diff := cmp.Diff(u, got); diff != "" {
		t.Errorf("user (-want +got):\n%s", diff)
	}
	// The keys come back in the order asked.
	if ths, _, err := s.GetSignInState(ctx, e.ID, "ada@example.com", never, failed); err != nil || ths[0] != (store.Throttle{}) || ths[1].Failures != 2 {
		t.Errorf("reversed keys = %+v, %v", ths, err)
	}
	for name, c := range map[string]struct{ envID, email string }{
		"unknown email":     {e.ID, "bob@example.com"},
		"other environment": {other.ID, "ada@example.com"},
		"no email":          {e.ID, ""},
	} {
		ths, got, err := s.GetSignInState(ctx, c.envID, c.email, failed)
		if err != nil || got != nil || len(ths) != 1 || ths[0].Failures != 2 {
			t.Errorf("%s: user %+v, counters %+v, %v; want no user, the counter", name, got, ths, err)
		}
	}
	if ths, got, err := s.GetSignInState(ctx, e.ID, "ada@example.com"); err != nil || len(ths) != 0 || got == nil {
		t.Errorf("no keys = %+v, %+v, %v; want the user alone", ths, got, err)
	}
}

func testThrottleConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const key, n = "signin:ip:198.51.100.7", 20
	counts := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var th store.Throttle
			th, errs[i] = s.RecordFailure(ctx, key, store.Now(), time.Hour)
			counts[i] = th.Failures
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("RecordFailure %d: %v", i, err)
		}
	}
	// No increment is lost, and each caller saw its own count.
	slices.Sort(counts)
	for i, c := range counts {
		if c != i+1 {
			t.Fatalf("counts returned = %v, want 1..%d once each", counts, n)
		}
	}
	got, err := s.GetThrottle(ctx, key)
	if err != nil || got.Failures != n {
		t.Errorf("final count = %+v, %v; want %d", got, err, n)
	}
}

// StartSession writes a sign-in in one transaction: the session, the
// user's last sign-in, the browser session, the consumed request, the
// code and first refresh token bound to the session, and the sign-in's
// event; when the user or the request is gone, or the session or event ID
// is taken, nothing at all.
func testStartSession(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	u := newUser(e.ID, "start@example.com")
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	before, _ := s.GetUser(ctx, e.ID, u.ID)
	newRequest := func() *store.AuthRequest {
		req := &store.AuthRequest{ID: ids.New("authreq"), EnvironmentID: e.ID, ClientID: "client_01", RedirectURI: "http://localhost:3000/callback",
			ScreenHint: "sign-in", CreatedAt: store.Now(), ExpiresAt: store.Now().Add(time.Hour)}
		if err := s.CreateAuthRequest(ctx, req); err != nil {
			t.Fatal(err)
		}
		return req
	}
	// nothingWritten checks that a refused sign-in left no trace.
	nothingWritten := func(step string, in store.SignIn) {
		t.Helper()
		if _, err := s.GetSession(ctx, e.ID, in.Session.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: session written (%v)", step, err)
		}
		if _, err := s.ConsumeAuthCode(ctx, in.Code.Hash, store.Now(), nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: code written (%v)", step, err)
		}
		if err := s.DeleteRefreshToken(ctx, in.First.Hash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: token written (%v)", step, err)
		}
		if _, err := s.GetBrowserSessionByHash(ctx, in.Browser.Hash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: browser session written (%v)", step, err)
		}
		if logged(t, s, in.Event) {
			t.Errorf("%s: event recorded", step)
		}
	}
	full := func(userID, request string) store.SignIn {
		sess := newSession(e.ID, userID)
		return store.SignIn{Session: sess, Browser: newBrowserSession(e.ID, userID), Request: request,
			Code: newAuthCode("env_elsewhere"), First: newRefreshToken("env_elsewhere", "session_elsewhere"),
			Event: newEvent(e.ID, "user.signed_in")}
	}

	req := newRequest()
	in := full(u.ID, req.ID)
	in.Session.CreatedAt = rawTime(0)
	codeAsGiven, firstAsGiven := *in.Code, *in.First
	if err := s.StartSession(ctx, in); err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(&codeAsGiven, in.Code) || !cmp.Equal(&firstAsGiven, in.First) {
		t.Error("StartSession changed the code or token it was given")
	}
	want := *in.Session
	want.CreatedAt = store.Truncate(in.Session.CreatedAt)
	got, err := s.GetSession(ctx, e.ID, in.Session.ID)
	if err != nil || !cmp.Equal(&want, got) {
		t.Errorf("session = %+v, %v; want %+v", got, err, &want)
	}
	after, _ := s.GetUser(ctx, e.ID, u.ID)
	if after.LastSignInAt == nil || !after.LastSignInAt.Equal(want.CreatedAt) || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("user after sign-in: last sign-in %v (want %v), updated %v (was %v)", after.LastSignInAt, want.CreatedAt, after.UpdatedAt, before.UpdatedAt)
	}
	if b, err := s.GetBrowserSessionByHash(ctx, in.Browser.Hash); err != nil || b.ID != in.Browser.ID {
		t.Errorf("browser session = %+v, %v", b, err)
	}
	if !logged(t, s, in.Event) {
		t.Error("the sign-in's event was not recorded")
	}
	_, err = s.GetAuthRequest(ctx, e.ID, req.ID)
	wantErr(t, err, store.ErrNotFound, "the completed request")
	red, err := s.ConsumeAuthCode(ctx, in.Code.Hash, store.Now(), nil)
	if err != nil || red.Code.EnvironmentID != e.ID || red.Code.UserID != u.ID || red.Code.SessionID != in.Session.ID ||
		red.Code.RedirectURI != in.Code.RedirectURI || red.Session == nil || red.User == nil {
		t.Errorf("code = %+v (session %v, user %v), %v; want it bound to the session", red.Code, red.Session, red.User, err)
	}
	rot, err := s.RotateRefreshToken(ctx, in.First.Hash, store.Now(), newRefreshToken(e.ID, in.Session.ID), "sealed")
	if err != nil || rot.Token.EnvironmentID != e.ID || rot.Token.SessionID != in.Session.ID || rot.Session == nil || rot.Session.ID != in.Session.ID {
		t.Errorf("first token = %+v, %v; want it bound to the session", rot, err)
	}

	// The session alone.
	bare := store.SignIn{Session: newSession(e.ID, u.ID)}
	if err := s.StartSession(ctx, bare); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, e.ID, bare.Session.ID); err != nil {
		t.Errorf("bare session: %v", err)
	}

	// The same request again: it was completed, so nothing is written.
	again := full(u.ID, req.ID)
	wantErr(t, s.StartSession(ctx, again), store.ErrAlreadyUsed, "StartSession for a completed request")
	nothingWritten("completed request", again)
	// A request of another environment is not this one's to complete.
	other := newEnv(t, s, "Other")
	otherReq := &store.AuthRequest{ID: ids.New("authreq"), EnvironmentID: other.ID, ClientID: other.ClientID, RedirectURI: "http://localhost:3000/callback",
		ScreenHint: "sign-in", CreatedAt: store.Now(), ExpiresAt: store.Now().Add(time.Hour)}
	if err := s.CreateAuthRequest(ctx, otherReq); err != nil {
		t.Fatal(err)
	}
	foreign := full(u.ID, otherReq.ID)
	wantErr(t, s.StartSession(ctx, foreign), store.ErrAlreadyUsed, "StartSession for another environment's request")
	nothingWritten("another environment's request", foreign)
	if _, err := s.GetAuthRequest(ctx, other.ID, otherReq.ID); err != nil {
		t.Errorf("another environment's request deleted: %v", err)
	}

	// A missing user: nothing is written, and the request stays.
	req = newRequest()
	lost := full(ids.New("user"), req.ID)
	wantErr(t, s.StartSession(ctx, lost), store.ErrNotFound, "StartSession for a missing user")
	nothingWritten("missing user", lost)
	if _, err := s.GetAuthRequest(ctx, e.ID, req.ID); err != nil {
		t.Errorf("request consumed by a sign-in that failed: %v", err)
	}

	// A session ID taken already: nothing is written either.
	dup := full(u.ID, req.ID)
	dup.Session.ID = bare.Session.ID
	wantErr(t, s.StartSession(ctx, dup), store.ErrConflict, "StartSession with a taken session ID")
	dup.Session.ID = ids.New("session") // nothingWritten looks the session up by ID
	nothingWritten("taken session ID", dup)
	if _, err := s.GetAuthRequest(ctx, e.ID, req.ID); err != nil {
		t.Errorf("request consumed by a sign-in that failed: %v", err)
	}

	// An event ID taken already (the event is written last): nothing is
	// written, so the log never misses a sign-in that happened.
	signIns := func() int {
		t.Helper()
		p, err := s.ListEvents(ctx, e.ID, []string{"user.signed_in"}, store.ListParams{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Data)
	}
	logs := signIns()
	dupEvent := full(u.ID, req.ID)
	taken := *in.Event
	dupEvent.Event = &taken
	wantErr(t, s.StartSession(ctx, dupEvent), store.ErrConflict, "StartSession with a taken event ID")
	if n := signIns(); n != logs {
		t.Errorf("sign-ins logged went from %d to %d on a refused sign-in", logs, n)
	}
	dupEvent.Event = newEvent(e.ID, "user.signed_in") // the rest of nothingWritten looks things up by ID
	nothingWritten("taken event ID", dupEvent)
	if _, err := s.GetAuthRequest(ctx, e.ID, req.ID); err != nil {
		t.Errorf("request consumed by a sign-in that failed: %v", err)
	}

	// Of concurrent sign-ins completing one request (a form posted twice,
	// two nodes), exactly one succeeds; the others write nothing.
	race := newRequest()
	const n = 8
	ins := make([]store.SignIn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		ins[i] = full(u.ID, race.ID)
		wg.Go(func() { errs[i] = s.StartSession(ctx, ins[i]) })
	}
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, store.ErrAlreadyUsed):
			nothingWritten(fmt.Sprintf("racing sign-in %d", i), ins[i])
		default:
			t.Errorf("racing sign-in %d: %v", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d racing sign-ins completed the request, want 1", wins)
	}
}
