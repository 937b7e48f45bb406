package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
)

// randomHash returns the SHA-256 of 32 random bytes, as stored for codes,
// refresh tokens and browser-session cookies.
func randomHash() []byte {
	var b [32]byte
	rand.Read(b[:])
	h := sha256.Sum256(b[:])
	return h[:]
}

// rawTime is a time in a non-UTC zone with sub-millisecond digits, which
// every backend must read back in UTC, truncated to milliseconds.
func rawTime(offset time.Duration) time.Time {
	loc := time.FixedZone("UTC-3", -3*3600)
	return time.Now().Add(offset).Round(0).In(loc).Add(123456 * time.Nanosecond)
}

func testEnvironmentSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := store.Now()
	// Zero settings are stored, and read back, as the defaults.
	plain := &store.Environment{ID: ids.New("environment"), Name: "Plain", Type: store.Development,
		ClientID: ids.New("client"), CORSOrigins: []string{}, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateEnvironment(ctx, plain); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetEnvironment(ctx, plain.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessTokenTTL != store.DefaultAccessTokenTTL || got.SessionLifetime != store.DefaultSessionLifetime ||
		got.SessionIdleTimeout != store.DefaultSessionIdleTimeout || got.SigningAlgorithm != store.DefaultSigningAlgorithm {
		t.Errorf("defaults not applied: ttl %v, lifetime %v, idle %v, alg %q",
			got.AccessTokenTTL, got.SessionLifetime, got.SessionIdleTimeout, got.SigningAlgorithm)
	}
	if diff := cmp.Diff(plain.WithDefaults(), *got); diff != "" {
		t.Errorf("GetEnvironment (-want +got):\n%s", diff)
	}

	// Explicit settings round-trip through every read.
	custom := &store.Environment{ID: ids.New("environment"), Name: "Custom", Type: store.Production,
		ClientID: ids.New("client"), CORSOrigins: []string{}, CreatedAt: now, UpdatedAt: now,
		AccessTokenTTL: 10 * time.Minute, SessionLifetime: 24 * time.Hour, SessionIdleTimeout: 90 * time.Minute,
		SigningAlgorithm: "ES256"}
	if err := s.CreateEnvironment(ctx, custom); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetEnvironment(ctx, custom.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(custom, got); diff != "" {
		t.Errorf("custom settings (-want +got):\n%s", diff)
	}
	got, err = s.GetEnvironmentByClientID(ctx, custom.ClientID)
	if err != nil || !cmp.Equal(custom, got) {
		t.Errorf("GetEnvironmentByClientID = %+v, %v", got, err)
	}
	list, err := s.ListEnvironments(ctx)
	if err != nil || len(list) != 2 || !cmp.Equal(list[1], *custom) || !cmp.Equal(list[0], plain.WithDefaults()) {
		t.Errorf("ListEnvironments = %+v, %v", list, err)
	}

	// Updates persist; settings set to zero go back to the defaults.
	upd, err := s.UpdateEnvironment(ctx, plain.ID, func(e *store.Environment) error {
		e.AccessTokenTTL = 2 * time.Minute
		e.SessionLifetime = 48 * time.Hour
		e.SessionIdleTimeout = time.Hour
		e.SigningAlgorithm = "ES256"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetEnvironment(ctx, plain.ID)
	if diff := cmp.Diff(upd, got); diff != "" {
		t.Errorf("after update (-returned +stored):\n%s", diff)
	}
	if got.AccessTokenTTL != 2*time.Minute || got.SessionLifetime != 48*time.Hour || got.SessionIdleTimeout != time.Hour ||
		got.SigningAlgorithm != "ES256" {
		t.Errorf("update not stored: %+v", got)
	}
	upd, err = s.UpdateEnvironment(ctx, plain.ID, func(e *store.Environment) error {
		e.AccessTokenTTL, e.SigningAlgorithm = 0, ""
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetEnvironment(ctx, plain.ID)
	if diff := cmp.Diff(upd, got); diff != "" {
		t.Errorf("after reset (-returned +stored):\n%s", diff)
	}
	if got.AccessTokenTTL != store.DefaultAccessTokenTTL || got.SigningAlgorithm != store.DefaultSigningAlgorithm ||
		got.SessionLifetime != 48*time.Hour {
		t.Errorf("zero settings not stored as defaults: %+v", got)
	}

	// Only RS256 and ES256 are accepted.
	bad := &store.Environment{ID: ids.New("environment"), Name: "Bad", Type: store.Development,
		ClientID: ids.New("client"), SigningAlgorithm: "HS256", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateEnvironment(ctx, bad); err == nil {
		t.Error("created an environment with signing algorithm HS256")
	}
}

func newSigningKey(envID string, activates time.Time) *store.SigningKey {
	return &store.SigningKey{
		ID: ids.New("key"), EnvironmentID: envID, Algorithm: "RS256",
		PrivateKey: "sealed:" + ids.New("private"), PublicJWK: `{"kty":"RSA","n":"AQAB","e":"AQAB"}`,
		CreatedAt: store.Now(), ActivatesAt: store.Truncate(activates),
	}
}

func keyIDs(ks []store.SigningKey) []string {
	out := []string{}
	for _, k := range ks {
		out = append(out, k.ID)
	}
	return out
}

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	other := newEnv(t, s, "Other")
	now := store.Now()
	list, err := s.ListSigningKeys(ctx, e.ID, now)
	if err != nil || len(list) != 0 {
		t.Fatalf("ListSigningKeys(empty) = %v, %v", list, err)
	}

	k1 := newSigningKey(e.ID, now)
	// Raw times are stored truncated.
	k1.CreatedAt = rawTime(0)
	ok, err := s.CreateFirstSigningKey(ctx, k1)
	if err != nil || !ok {
		t.Fatalf("CreateFirstSigningKey = %v, %v", ok, err)
	}
	k1.CreatedAt = store.Truncate(k1.CreatedAt)
	ok, err = s.CreateFirstSigningKey(ctx, newSigningKey(e.ID, now))
	if err != nil || ok {
		t.Fatalf("second CreateFirstSigningKey = %v, %v; want false", ok, err)
	}
	list, err = s.ListSigningKeys(ctx, e.ID, now)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.SigningKey{*k1}, list); diff != "" {
		t.Fatalf("after first key (-want +got):\n%s", diff)
	}
	if list[0].CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt zone = %v", list[0].CreatedAt.Location())
	}

	// Rotation retires every unexpired key and publishes the next one.
	k2 := newSigningKey(e.ID, now.Add(time.Hour))
	k2.Algorithm = "ES256"
	retire1 := now.Add(2 * time.Hour)
	if err := s.RotateSigningKey(ctx, k2, retire1); err != nil {
		t.Fatal(err)
	}
	k1.ExpiresAt = &retire1
	list, _ = s.ListSigningKeys(ctx, e.ID, now)
	if diff := cmp.Diff([]store.SigningKey{*k1, *k2}, list); diff != "" {
		t.Fatalf("after rotation (-want +got):\n%s", diff)
	}
	k3 := newSigningKey(e.ID, now.Add(3*time.Hour))
	retire2 := now.Add(4 * time.Hour)
	if err := s.RotateSigningKey(ctx, k3, retire2); err != nil {
		t.Fatal(err)
	}
	// k1 keeps its earlier expiry; only k2 had none.
	k2.ExpiresAt = &retire2
	list, _ = s.ListSigningKeys(ctx, e.ID, now)
	if diff := cmp.Diff([]store.SigningKey{*k1, *k2, *k3}, list); diff != "" {
		t.Fatalf("after second rotation (-want +got):\n%s", diff)
	}
	// Keys expired at or before now are hidden.
	for _, tc := range []struct {
		at   time.Time
		want []string
	}{
		{retire1.Add(-time.Millisecond), []string{k1.ID, k2.ID, k3.ID}},
		{retire1, []string{k2.ID, k3.ID}},
		{retire2.Add(time.Minute), []string{k3.ID}},
	} {
		list, err := s.ListSigningKeys(ctx, e.ID, tc.at)
		if err != nil {
			t.Fatal(err)
		}
		if got := keyIDs(list); !cmp.Equal(got, tc.want) {
			t.Errorf("ListSigningKeys(%v) = %v, want %v", tc.at, got, tc.want)
		}
	}
	list, _ = s.ListSigningKeys(ctx, other.ID, now)
	if len(list) != 0 {
		t.Errorf("other environment sees %d keys", len(list))
	}

	// Keys activating at the same time are ordered by ID, not insertion.
	lo, hi := newSigningKey(other.ID, now), newSigningKey(other.ID, now)
	if ok, err := s.CreateFirstSigningKey(ctx, hi); err != nil || !ok {
		t.Fatalf("CreateFirstSigningKey(other) = %v, %v", ok, err)
	}
	if err := s.RotateSigningKey(ctx, lo, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	list, _ = s.ListSigningKeys(ctx, other.ID, now)
	if got := keyIDs(list); !cmp.Equal(got, []string{lo.ID, hi.ID}) {
		t.Errorf("tie order = %v, want %v", got, []string{lo.ID, hi.ID})
	}
	// The other environment's rotation left this one's keys alone.
	list, _ = s.ListSigningKeys(ctx, e.ID, now)
	if len(list) != 3 || list[2].ExpiresAt != nil {
		t.Errorf("rotation in another environment changed keys: %+v", list)
	}
	// A duplicate ID fails the whole rotation.
	dup := newSigningKey(e.ID, now.Add(5*time.Hour))
	dup.ID = k3.ID
	wantErr(t, s.RotateSigningKey(ctx, dup, now.Add(6*time.Hour)), store.ErrConflict, "rotate to a duplicate key ID")
	list, _ = s.ListSigningKeys(ctx, e.ID, now)
	if len(list) != 3 || list[2].ExpiresAt != nil {
		t.Errorf("a failed rotation retired keys: %+v", list)
	}

	// No first key for an environment that does not exist.
	if ok, err := s.CreateFirstSigningKey(ctx, newSigningKey("environment_missing", now)); err == nil || ok {
		t.Errorf("CreateFirstSigningKey(missing environment) = %v, %v", ok, err)
	}
}

func testSigningKeyFirstRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	now := store.Now()
	const n = 8
	keys := make([]*store.SigningKey, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		keys[i] = newSigningKey(e.ID, now)
		wg.Go(func() { created[i], errs[i] = s.CreateFirstSigningKey(ctx, keys[i]) })
	}
	wg.Wait()
	winner := -1
	for i := range n {
		if errs[i] != nil {
			t.Errorf("caller %d: %v", i, errs[i])
		}
		if created[i] {
			if winner >= 0 {
				t.Errorf("callers %d and %d both created the first key", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no caller created the first key")
	}
	list, err := s.ListSigningKeys(ctx, e.ID, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := keyIDs(list); !cmp.Equal(got, []string{keys[winner].ID}) {
		t.Errorf("keys = %v, want only the winner's %s", got, keys[winner].ID)
	}
}

func newAuthRequest(envID string, expires time.Time) *store.AuthRequest {
	return &store.AuthRequest{
		ID: ids.New("auth_request"), EnvironmentID: envID, ClientID: "client_01", RedirectURI: "http://localhost:3000/callback",
		State: "st&te=\u00fc ", CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", ScreenHint: "sign-in",
		LoginHint: "ada@example.com", CreatedAt: store.Now(), ExpiresAt: store.Truncate(expires),
	}
}

func testAuthRequests(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	other := newEnv(t, s, "Other")
	now := store.Now()

	r := newAuthRequest(e.ID, now.Add(10*time.Minute))
	r.CreatedAt, r.ExpiresAt = rawTime(0), rawTime(10*time.Minute)
	if err := s.CreateAuthRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	r.CreatedAt, r.ExpiresAt = store.Truncate(r.CreatedAt), store.Truncate(r.ExpiresAt)
	got, err := s.GetAuthRequest(ctx, e.ID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("GetAuthRequest (-want +got):\n%s", diff)
	}
	if got.ExpiresAt.Location() != time.UTC {
		t.Errorf("ExpiresAt zone = %v", got.ExpiresAt.Location())
	}
	// Empty optional fields stay empty.
	bare := &store.AuthRequest{ID: ids.New("auth_request"), EnvironmentID: e.ID, ClientID: "client_01",
		RedirectURI: "http://localhost:3000/callback", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := s.CreateAuthRequest(ctx, bare); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetAuthRequest(ctx, e.ID, bare.ID); err != nil || !cmp.Equal(bare, got) {
		t.Errorf("bare request = %+v, %v", got, err)
	}
	wantErr(t, s.CreateAuthRequest(ctx, bare), store.ErrConflict, "duplicate auth request ID")

	_, err = s.GetAuthRequest(ctx, other.ID, r.ID)
	wantErr(t, err, store.ErrNotFound, "get across environments")
	_, err = s.GetAuthRequest(ctx, e.ID, "auth_request_missing")
	wantErr(t, err, store.ErrNotFound, "GetAuthRequest(missing)")
	// Requests that expired before now go; others, and one expiring at
	// exactly now, stay.
	var expired, kept []*store.AuthRequest
	for i := range 3 {
		expired = append(expired, newAuthRequest(e.ID, now.Add(-time.Duration(i+1)*time.Minute)))
	}
	expired = append(expired, newAuthRequest(other.ID, now.Add(-time.Millisecond)))
	kept = append(kept, newAuthRequest(e.ID, now), newAuthRequest(e.ID, now.Add(time.Minute)), newAuthRequest(other.ID, now.Add(time.Hour)))
	for _, r := range append(expired, kept...) {
		if err := s.CreateAuthRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// A sweep whose other cutoff is long ago deletes only requests; a batch
	// of 2 makes it loop.
	swept, err := s.Sweep(ctx, store.SweepCutoffs{Now: now, Before: now.Add(-1000 * time.Hour)}, 2)
	if err != nil || swept.AuthRequests != len(expired) || swept.Total() != len(expired) {
		t.Fatalf("Sweep = %+v, %v; want %d requests only", swept, err, len(expired))
	}
	swept, err = s.Sweep(ctx, store.SweepCutoffs{Now: now, Before: now.Add(-1000 * time.Hour)}, 2)
	if err != nil || swept.Total() != 0 {
		t.Errorf("second Sweep = %+v, %v; want nothing", swept, err)
	}
	for _, r := range expired {
		_, err := s.GetAuthRequest(ctx, r.EnvironmentID, r.ID)
		wantErr(t, err, store.ErrNotFound, "expired request")
	}
	for _, r := range kept {
		if _, err := s.GetAuthRequest(ctx, r.EnvironmentID, r.ID); err != nil {
			t.Errorf("unexpired request %s: %v", r.ID, err)
		}
	}
}

func newAuthCode(envID string) *store.AuthCode {
	now := store.Now()
	return &store.AuthCode{
		Hash: randomHash(), EnvironmentID: envID, ClientID: "client_01", RedirectURI: "http://localhost:3000/callback",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", UserID: ids.New("user"), SessionID: ids.New("session"),
		CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute),
	}
}

// consume is ConsumeAuthCode for tests about the code alone.
func consume(ctx context.Context, s store.Store, hash []byte, now time.Time) (*store.AuthCode, error) {
	r, err := s.ConsumeAuthCode(ctx, hash, now, nil)
	if r == nil {
		return nil, err
	}
	if r.Code == nil {
		return nil, fmt.Errorf("ConsumeAuthCode returned no code (err %v)", err)
	}
	return r.Code, err
}

// Consuming a code also returns its session and user as they are now.
func testAuthCodeReadsSessionAndUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	u, sess := userWithSession(t, s, e.ID, "code@example.com")
	c := newAuthCode(e.ID)
	c.UserID, c.SessionID = u.ID, sess.ID
	if err := s.CreateAuthCode(ctx, c); err != nil {
		t.Fatal(err)
	}
	wantUser, _ := s.GetUser(ctx, e.ID, u.ID)
	r, err := s.ConsumeAuthCode(ctx, c.Hash, store.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Code.UsedAt != nil || !cmp.Equal(sess, r.Session) || !cmp.Equal(wantUser, r.User) {
		t.Errorf("redemption = %+v / %+v / %+v; want the unused code, its session and user", r.Code, r.Session, r.User)
	}
	if err := s.DeleteUser(ctx, e.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	r, err = s.ConsumeAuthCode(ctx, c.Hash, store.Now(), nil)
	wantErr(t, err, store.ErrAlreadyUsed, "second consumption")
	if r == nil || r.Code.UsedAt == nil || r.Session == nil || r.Session.ID != sess.ID || r.User != nil {
		t.Errorf("reuse after deleting the user = %+v; want the used code, the session and no user", r)
	}
}

func testAuthCodes(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	c := newAuthCode(e.ID)
	c.CreatedAt = rawTime(0)
	if err := s.CreateAuthCode(ctx, c); err != nil {
		t.Fatal(err)
	}
	c.CreatedAt = store.Truncate(c.CreatedAt)
	dup := *c
	dup.UserID = ids.New("user")
	wantErr(t, s.CreateAuthCode(ctx, &dup), store.ErrConflict, "duplicate code hash")

	used := rawTime(time.Second)
	got, err := consume(ctx, s, c.Hash, used)
	if err != nil {
		t.Fatal(err)
	}
	// The code is returned as it was: not yet used.
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("ConsumeAuthCode (-want +got):\n%s", diff)
	}
	got, err = consume(ctx, s, c.Hash, used.Add(time.Minute))
	wantErr(t, err, store.ErrAlreadyUsed, "second ConsumeAuthCode")
	want := *c
	want.UsedAt = ptr(store.Truncate(used))
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("reused code (-want +got):\n%s", diff)
	}
	if got != nil && got.UsedAt != nil && got.UsedAt.Location() != time.UTC {
		t.Errorf("UsedAt zone = %v", got.UsedAt.Location())
	}
	got, err = consume(ctx, s, randomHash(), store.Now())
	wantErr(t, err, store.ErrNotFound, "ConsumeAuthCode(unknown)")
	if got != nil {
		t.Errorf("unknown code returned %+v", got)
	}
	// An empty challenge and session are kept as such.
	bare := newAuthCode(e.ID)
	bare.CodeChallenge, bare.SessionID = "", ""
	if err := s.CreateAuthCode(ctx, bare); err != nil {
		t.Fatal(err)
	}
	if got, err := consume(ctx, s, bare.Hash, store.Now()); err != nil || !cmp.Equal(bare, got) {
		t.Errorf("bare code = %+v, %v", got, err)
	}
}

func testAuthCodeConsumeRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	// Codes of a real session and user, whose consumers read them too, and
	// codes of neither.
	u, sess := userWithSession(t, s, e.ID, "code-race@example.com")
	for i := range 6 {
		c := newAuthCode(e.ID)
		if i < 3 {
			c.UserID, c.SessionID = u.ID, sess.ID
		}
		if err := s.CreateAuthCode(ctx, c); err != nil {
			t.Fatal(err)
		}
		consumeRace(t, func() (*store.AuthCode, error) { return consume(ctx, s, c.Hash, store.Now()) },
			func(c *store.AuthCode) (*time.Time, []byte) { return c.UsedAt, c.Hash }, c.Hash)
	}
}

// consumeRace consumes one single-use record from 8 goroutines at once:
// exactly one must win and get it as it was (unused); every other must
// get ErrAlreadyUsed with the record as the winner left it (used).
func consumeRace[T any](t *testing.T, consume func() (*T, error), fields func(*T) (usedAt *time.Time, hash []byte), hash []byte) {
	t.Helper()
	const n = 8
	got := make([]*T, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = consume() })
	}
	wg.Wait()
	wins := 0
	for i := range n {
		var used *time.Time
		var h []byte
		if got[i] != nil {
			used, h = fields(got[i])
		}
		switch {
		case errs[i] == nil:
			wins++
			if got[i] == nil || used != nil {
				t.Errorf("winner %d got %+v", i, got[i])
			}
		case errors.Is(errs[i], store.ErrAlreadyUsed):
			if got[i] == nil || used == nil || !cmp.Equal(h, hash) {
				t.Errorf("loser %d got %+v", i, got[i])
			}
		default:
			t.Errorf("consumer %d: %v", i, errs[i])
		}
	}
	if wins != 1 {
		t.Errorf("%d consumers succeeded, want exactly 1", wins)
	}
}

func testAuthForeignKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	const missing = "environment_missing"
	now := store.Now()
	if err := s.CreateAuthRequest(ctx, newAuthRequest(missing, now.Add(time.Minute))); err == nil {
		t.Error("created an auth request in a missing environment")
	}
	if err := s.CreateAuthCode(ctx, newAuthCode(missing)); err == nil {
		t.Error("created an auth code in a missing environment")
	}
	if err := s.CreateSession(ctx, newSession(missing, ids.New("user"))); err == nil {
		t.Error("created a session in a missing environment")
	}
	if err := s.CreateRefreshToken(ctx, newRefreshToken(missing, ids.New("session"))); err == nil {
		t.Error("created a refresh token in a missing environment")
	}
	if err := s.CreateBrowserSession(ctx, newBrowserSession(missing, ids.New("user"))); err == nil {
		t.Error("created a browser session in a missing environment")
	}
	if err := s.RotateSigningKey(ctx, newSigningKey(missing, now), now); err == nil {
		t.Error("rotated to a signing key in a missing environment")
	}
}

// Consuming a code can insert the session's first refresh token in the
// same transaction: only when this call consumes the code, and always in
// the code's environment and session.
func testAuthCodeFirstRefreshToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	u, sess := userWithSession(t, s, e.ID, "first-token@example.com")
	newCode := func() *store.AuthCode {
		c := newAuthCode(e.ID)
		c.UserID, c.SessionID = u.ID, sess.ID
		if err := s.CreateAuthCode(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// exists reports whether a token was stored, deleting it.
	exists := func(tok *store.RefreshToken) bool {
		t.Helper()
		err := s.DeleteRefreshToken(ctx, tok.Hash)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}

	c := newCode()
	first := newRefreshToken("env_elsewhere", "session_elsewhere")
	asGiven := *first
	r, err := s.ConsumeAuthCode(ctx, c.Hash, store.Now(), first)
	if err != nil || r.Session == nil || r.Session.ID != sess.ID {
		t.Fatalf("consume with a first token = %+v, %v", r, err)
	}
	if !cmp.Equal(&asGiven, first) {
		t.Errorf("first changed: %+v, was %+v", first, asGiven)
	}
	// It is stored in the code's environment and session: rotating it reads them.
	rot, err := s.RotateRefreshToken(ctx, first.Hash, store.Now(), newRefreshToken(e.ID, sess.ID), "sealed")
	if err != nil {
		t.Fatalf("rotating the first token: %v", err)
	}
	if rot.Token.EnvironmentID != e.ID || rot.Token.SessionID != sess.ID || rot.Session == nil || rot.User == nil || rot.User.ID != u.ID {
		t.Errorf("first token stored as %+v (session %v, user %v); want environment %s, session %s", rot.Token, rot.Session, rot.User, e.ID, sess.ID)
	}

	// A used code inserts nothing, nor does an unknown one.
	second := newRefreshToken(e.ID, sess.ID)
	_, err = s.ConsumeAuthCode(ctx, c.Hash, store.Now(), second)
	wantErr(t, err, store.ErrAlreadyUsed, "used code")
	unknown := newRefreshToken(e.ID, sess.ID)
	_, err = s.ConsumeAuthCode(ctx, randomHash(), store.Now(), unknown)
	wantErr(t, err, store.ErrNotFound, "unknown code")
	if exists(second) || exists(unknown) {
		t.Error("a consumption that failed inserted its token")
	}

	// Of concurrent consumers, only the winner's token is stored.
	for range 3 {
		c := newCode()
		const n = 8
		toks := make([]*store.RefreshToken, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			toks[i] = newRefreshToken(e.ID, sess.ID)
			wg.Go(func() { _, errs[i] = s.ConsumeAuthCode(ctx, c.Hash, store.Now(), toks[i]) })
		}
		wg.Wait()
		for i := range n {
			if stored := exists(toks[i]); (errs[i] == nil) != stored {
				t.Errorf("consumer %d: err %v, but its token stored: %v", i, errs[i], stored)
			}
		}
	}

	// Deleting: once, then ErrNotFound.
	if err := s.DeleteRefreshToken(ctx, first.Hash); err != nil {
		t.Errorf("DeleteRefreshToken: %v", err)
	}
	wantErr(t, s.DeleteRefreshToken(ctx, first.Hash), store.ErrNotFound, "second DeleteRefreshToken")
}
