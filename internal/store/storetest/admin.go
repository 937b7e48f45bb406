package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
)

func testEnvironmentBranding(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := store.Now()
	brand := store.Branding{AppName: "Acme Cloud ✓", LogoURL: "https://cdn.example.com/logo.svg",
		PrimaryColor: "#1a2b3c", Appearance: "dark"}
	e := &store.Environment{ID: ids.New("environment"), Name: "Branded", Type: store.Production,
		ClientID: ids.New("client"), CORSOrigins: []string{}, Branding: brand, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateEnvironment(ctx, e); err != nil {
		t.Fatal(err)
	}
	want := e.WithDefaults()
	got, err := s.GetEnvironment(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("GetEnvironment (-want +got):\n%s", diff)
	}
	got, err = s.GetEnvironmentByClientID(ctx, e.ClientID)
	if err != nil || got.Branding != brand {
		t.Errorf("GetEnvironmentByClientID branding = %+v, %v", got, err)
	}
	plain := newEnv(t, s, "Plain")
	list, err := s.ListEnvironments(ctx)
	if err != nil || len(list) != 2 || list[0].Branding != brand || list[1].Branding != (store.Branding{}) {
		t.Fatalf("ListEnvironments = %+v, %v", list, err)
	}

	// Updates write branding, and clearing it stores the zero Branding.
	upd, err := s.UpdateEnvironment(ctx, plain.ID, func(e *store.Environment) error {
		e.Branding = store.Branding{AppName: "Plain App", Appearance: "light"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetEnvironment(ctx, plain.ID)
	if diff := cmp.Diff(upd, got); diff != "" || got.Branding != (store.Branding{AppName: "Plain App", Appearance: "light"}) {
		t.Errorf("after update (-returned +stored):\n%s\nbranding %+v", diff, got.Branding)
	}
	upd, err = s.UpdateEnvironment(ctx, e.ID, func(e *store.Environment) error {
		e.Branding = store.Branding{}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetEnvironment(ctx, e.ID)
	if diff := cmp.Diff(upd, got); diff != "" || got.Branding != (store.Branding{}) {
		t.Errorf("after clearing (-returned +stored):\n%s\nbranding %+v", diff, got.Branding)
	}
	// A failed update leaves the branding alone.
	boom := errors.New("boom")
	_, err = s.UpdateEnvironment(ctx, plain.ID, func(e *store.Environment) error {
		e.Branding.AppName = "Changed"
		return boom
	})
	wantErr(t, err, boom, "UpdateEnvironment with failing fn")
	if got, _ := s.GetEnvironment(ctx, plain.ID); got.Branding.AppName != "Plain App" {
		t.Errorf("a failed update was written: %+v", got.Branding)
	}

	// Only light, dark, auto and "" are appearances.
	bad := &store.Environment{ID: ids.New("environment"), Name: "Bad", Type: store.Development,
		ClientID: ids.New("client"), Branding: store.Branding{Appearance: "neon"}, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateEnvironment(ctx, bad); err == nil {
		t.Error("created an environment with appearance neon")
	}
}

func newAdmin(email string) *store.Admin {
	now := store.Now()
	return &store.Admin{ID: ids.New("admin"), Email: email, CreatedAt: now, UpdatedAt: now}
}

func testAdmins(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAdmin("ops@example.com")
	raw := rawTime(0)
	a.CreatedAt, a.UpdatedAt = raw, raw
	if err := s.CreateAdmin(ctx, a); err != nil {
		t.Fatal(err)
	}
	a.CreatedAt, a.UpdatedAt = store.Truncate(raw), store.Truncate(raw)
	for name, get := range map[string]func() (*store.Admin, error){
		"by id":    func() (*store.Admin, error) { return s.GetAdmin(ctx, a.ID) },
		"by email": func() (*store.Admin, error) { return s.GetAdminByEmail(ctx, "ops@example.com") },
	} {
		got, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(a, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
		if got.CreatedAt.Location() != time.UTC {
			t.Errorf("%s: CreatedAt zone = %v", name, got.CreatedAt.Location())
		}
	}
	_, err := s.GetAdmin(ctx, "admin_missing")
	wantErr(t, err, store.ErrNotFound, "GetAdmin(missing)")
	_, err = s.GetAdminByEmail(ctx, "nobody@example.com")
	wantErr(t, err, store.ErrNotFound, "GetAdminByEmail(missing)")

	wantErr(t, s.CreateAdmin(ctx, newAdmin("ops@example.com")), store.ErrConflict, "duplicate admin email")
	dupID := newAdmin("other@example.com")
	dupID.ID = a.ID
	wantErr(t, s.CreateAdmin(ctx, dupID), store.ErrConflict, "duplicate admin ID")

	b := newAdmin("second@example.com")
	b.PasswordHash, b.TOTPSecret = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", "sealed:totp"
	b.LastSignInAt = ptr(store.Now())
	if err := s.CreateAdmin(ctx, b); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListAdmins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.Admin{*a, *b}, list); diff != "" {
		t.Errorf("ListAdmins (-want +got):\n%s", diff)
	}

	// Updates write every field but the ID and creation time.
	signedIn := rawTime(time.Minute)
	upd, err := s.UpdateAdmin(ctx, a.ID, func(x *store.Admin) error {
		x.PasswordHash = "$argon2id$new"
		x.TOTPSecret = "sealed:secret"
		x.Email = "renamed@example.com"
		x.LastSignInAt = &signedIn
		x.UpdatedAt = signedIn
		x.ID, x.CreatedAt = "admin_other", time.Unix(0, 0)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetAdmin(ctx, a.ID)
	if diff := cmp.Diff(upd, got); diff != "" {
		t.Errorf("after update (-returned +stored):\n%s", diff)
	}
	want := *a
	want.PasswordHash, want.TOTPSecret, want.Email = "$argon2id$new", "sealed:secret", "renamed@example.com"
	want.LastSignInAt, want.UpdatedAt = ptr(store.Truncate(signedIn)), store.Truncate(signedIn)
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("update not stored (-want +got):\n%s", diff)
	}
	if _, err := s.GetAdminByEmail(ctx, "ops@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old email still finds the admin: %v", err)
	}
	// Turning TOTP off and clearing the sign-in time are stored too.
	if _, err := s.UpdateAdmin(ctx, a.ID, func(x *store.Admin) error {
		x.TOTPSecret, x.LastSignInAt = "", nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetAdmin(ctx, a.ID); got.TOTPSecret != "" || got.LastSignInAt != nil {
		t.Errorf("cleared fields = %q, %v", got.TOTPSecret, got.LastSignInAt)
	}

	_, err = s.UpdateAdmin(ctx, "admin_missing", func(*store.Admin) error { return nil })
	wantErr(t, err, store.ErrNotFound, "UpdateAdmin(missing)")
	_, err = s.UpdateAdmin(ctx, b.ID, func(x *store.Admin) error { x.Email = "renamed@example.com"; return nil })
	wantErr(t, err, store.ErrConflict, "update to a taken email")
	boom := errors.New("boom")
	_, err = s.UpdateAdmin(ctx, b.ID, func(x *store.Admin) error { x.PasswordHash = ""; return boom })
	wantErr(t, err, boom, "UpdateAdmin with failing fn")
	if got, _ := s.GetAdmin(ctx, b.ID); got.Email != b.Email || got.PasswordHash != b.PasswordHash {
		t.Errorf("a failed update was written: %+v", got)
	}
}

func testAdminUpdateAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAdmin("counter@example.com")
	a.TOTPSecret = "0"
	if err := s.CreateAdmin(ctx, a); err != nil {
		t.Fatal(err)
	}
	const workers, each = 4, 10
	var wg sync.WaitGroup
	errc := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				_, err := s.UpdateAdmin(ctx, a.ID, func(x *store.Admin) error {
					var n int
					fmt.Sscan(x.TOTPSecret, &n)
					x.TOTPSecret = fmt.Sprint(n + 1)
					return nil
				})
				if err != nil {
					errc <- err
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("concurrent update: %v", err)
	}
	if got, _ := s.GetAdmin(ctx, a.ID); got.TOTPSecret != fmt.Sprint(workers*each) {
		t.Errorf("counter = %s, want %d (lost updates)", got.TOTPSecret, workers*each)
	}
}

func newAdminToken(adminID, purpose string) *store.AdminToken {
	now := store.Now()
	return &store.AdminToken{Hash: randomHash(), AdminID: adminID, Purpose: purpose, CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
}

func testAdminTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAdmin("ops@example.com")
	if err := s.CreateAdmin(ctx, a); err != nil {
		t.Fatal(err)
	}
	tok := newAdminToken(a.ID, "setup")
	tok.CreatedAt, tok.ExpiresAt = rawTime(0), rawTime(time.Hour)
	if err := s.CreateAdminToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	tok.CreatedAt, tok.ExpiresAt = store.Truncate(tok.CreatedAt), store.Truncate(tok.ExpiresAt)
	dup := newAdminToken(a.ID, "sign_in")
	dup.Hash = tok.Hash
	wantErr(t, s.CreateAdminToken(ctx, dup), store.ErrConflict, "duplicate token hash")

	used := rawTime(time.Second)
	got, err := s.ConsumeAdminToken(ctx, tok.Hash, used)
	if err != nil {
		t.Fatal(err)
	}
	// The token is returned as it was: not yet used (as ConsumeAuthCode).
	if diff := cmp.Diff(tok, got); diff != "" {
		t.Errorf("ConsumeAdminToken (-want +got):\n%s", diff)
	}
	got, err = s.ConsumeAdminToken(ctx, tok.Hash, used.Add(time.Minute))
	wantErr(t, err, store.ErrAlreadyUsed, "second ConsumeAdminToken")
	want := *tok
	want.UsedAt = ptr(store.Truncate(used))
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("reused token (-want +got):\n%s", diff)
	}
	if got != nil && got.UsedAt != nil && got.UsedAt.Location() != time.UTC {
		t.Errorf("UsedAt zone = %v", got.UsedAt.Location())
	}
	got, err = s.ConsumeAdminToken(ctx, randomHash(), store.Now())
	wantErr(t, err, store.ErrNotFound, "ConsumeAdminToken(unknown)")
	if got != nil {
		t.Errorf("unknown token returned %+v", got)
	}
	// Expiry is the caller's check: an expired token is still consumed.
	old := newAdminToken(a.ID, "sign_in")
	old.ExpiresAt = old.CreatedAt.Add(-time.Hour)
	if err := s.CreateAdminToken(ctx, old); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ConsumeAdminToken(ctx, old.Hash, store.Now()); err != nil || !cmp.Equal(old, got) {
		t.Errorf("expired token = %+v, %v", got, err)
	}
	if err := s.CreateAdminToken(ctx, newAdminToken("admin_missing", "setup")); err == nil {
		t.Error("created a token for a missing admin")
	}
}

func testAdminTokenConsumeRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAdmin("ops@example.com")
	if err := s.CreateAdmin(ctx, a); err != nil {
		t.Fatal(err)
	}
	tok := newAdminToken(a.ID, "sign_in")
	if err := s.CreateAdminToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	consumeRace(t, func() (*store.AdminToken, error) { return s.ConsumeAdminToken(ctx, tok.Hash, store.Now()) },
		func(a *store.AdminToken) (*time.Time, []byte) { return a.UsedAt, a.Hash }, tok.Hash)
}

func testAdminSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAdmin("ops@example.com")
	if err := s.CreateAdmin(ctx, a); err != nil {
		t.Fatal(err)
	}
	raw := rawTime(0)
	sess := &store.AdminSession{ID: ids.New("admin_session"), Hash: randomHash(), AdminID: a.ID,
		CreatedAt: raw, LastSeenAt: raw, ExpiresAt: raw.Add(12 * time.Hour)}
	if err := s.CreateAdminSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = store.Truncate(raw), store.Truncate(raw), store.Truncate(raw.Add(12*time.Hour))
	got, err := s.GetAdminSessionByHash(ctx, sess.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sess, got); diff != "" {
		t.Errorf("GetAdminSessionByHash (-want +got):\n%s", diff)
	}
	if got.LastSeenAt.Location() != time.UTC || got.ExpiresAt.Location() != time.UTC {
		t.Errorf("zones = %v, %v", got.LastSeenAt.Location(), got.ExpiresAt.Location())
	}
	_, err = s.GetAdminSessionByHash(ctx, randomHash())
	wantErr(t, err, store.ErrNotFound, "GetAdminSessionByHash(unknown)")
	dupHash := *sess
	dupHash.ID = ids.New("admin_session")
	wantErr(t, s.CreateAdminSession(ctx, &dupHash), store.ErrConflict, "duplicate session hash")
	dupID := *sess
	dupID.Hash = randomHash()
	wantErr(t, s.CreateAdminSession(ctx, &dupID), store.ErrConflict, "duplicate session ID")
	other := &store.AdminSession{ID: ids.New("admin_session"), Hash: randomHash(), AdminID: a.ID,
		CreatedAt: sess.CreatedAt, LastSeenAt: sess.CreatedAt, ExpiresAt: sess.ExpiresAt}
	if err := s.CreateAdminSession(ctx, other); err != nil {
		t.Fatal(err)
	}

	// Touching moves LastSeenAt forward, never back.
	seen := rawTime(time.Minute)
	if err := s.TouchAdminSession(ctx, sess.ID, seen); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchAdminSession(ctx, sess.ID, seen.Add(-30*time.Second)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetAdminSessionByHash(ctx, sess.Hash)
	if !got.LastSeenAt.Equal(store.Truncate(seen)) {
		t.Errorf("LastSeenAt = %v, want %v (an earlier touch moved it back)", got.LastSeenAt, store.Truncate(seen))
	}
	if !got.CreatedAt.Equal(sess.CreatedAt) || !got.ExpiresAt.Equal(sess.ExpiresAt) || got.EndedAt != nil {
		t.Errorf("touch changed other fields: %+v", got)
	}
	wantErr(t, s.TouchAdminSession(ctx, "admin_session_missing", seen), store.ErrNotFound, "TouchAdminSession(missing)")

	// Ending keeps the first end time.
	ended := rawTime(2 * time.Minute)
	if err := s.EndAdminSession(ctx, sess.ID, ended); err != nil {
		t.Fatal(err)
	}
	if err := s.EndAdminSession(ctx, sess.ID, ended.Add(time.Hour)); err != nil {
		t.Fatalf("EndAdminSession twice: %v", err)
	}
	got, _ = s.GetAdminSessionByHash(ctx, sess.Hash)
	if got.EndedAt == nil || !got.EndedAt.Equal(store.Truncate(ended)) || got.EndedAt.Location() != time.UTC {
		t.Errorf("EndedAt = %v, want %v (the first end time)", got.EndedAt, store.Truncate(ended))
	}
	wantErr(t, s.EndAdminSession(ctx, "admin_session_missing", ended), store.ErrNotFound, "EndAdminSession(missing)")
	if got, _ := s.GetAdminSessionByHash(ctx, other.Hash); got.EndedAt != nil || !got.LastSeenAt.Equal(other.LastSeenAt) {
		t.Errorf("another session changed: %+v", got)
	}

	bad := &store.AdminSession{ID: ids.New("admin_session"), Hash: randomHash(), AdminID: "admin_missing",
		CreatedAt: sess.CreatedAt, LastSeenAt: sess.CreatedAt, ExpiresAt: sess.ExpiresAt}
	if err := s.CreateAdminSession(ctx, bad); err == nil {
		t.Error("created a session for a missing admin")
	}
}
