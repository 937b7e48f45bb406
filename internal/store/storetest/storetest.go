package storetest

import (
	"context"
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

// NewStore returns a fresh, migrated, empty store. It registers its own cleanup.
type NewStore func(t *testing.T) store.Store

// Run runs the whole suite against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"Migrations", testMigrations},
		{"Environments", testEnvironments},
		{"APIKeys", testAPIKeys},
		{"Redirects", testRedirects},
		{"Settings", testSettings},
		{"UserCRUD", testUserCRUD},
		{"UserConflicts", testUserConflicts},
		{"CreateUserLogged", testCreateUserLogged},
		{"UserIsolation", testUserIsolation},
		{"UserTimes", testUserTimes},
		{"UserPagination", testUserPagination},
		{"UserUpdateAtomic", testUserUpdateAtomic},
		{"UserUpdateRollback", testUserUpdateRollback},
		{"ForeignKeys", testEnvironmentForeignKeys},
		{"EnvironmentSettings", testEnvironmentSettings},
		{"SigningKeys", testSigningKeys},
		{"SigningKeyFirstRace", testSigningKeyFirstRace},
		{"AuthRequests", testAuthRequests},
		{"AuthCodes", testAuthCodes},
		{"AuthCodeConsumeRace", testAuthCodeConsumeRace},
		{"Sessions", testSessions},
		{"SessionPagination", testSessionPagination},
		{"RefreshTokens", testRefreshTokens},
		{"RefreshTokenRotateRace", testRefreshTokenRotateRace},
		{"RefreshRotationReadsSessionAndUser", testRefreshRotationReadsSessionAndUser},
		{"AuthCodeReadsSessionAndUser", testAuthCodeReadsSessionAndUser},
		{"AuthCodeFirstRefreshToken", testAuthCodeFirstRefreshToken},
		{"StartSession", testStartSession},
		{"BrowserSessions", testBrowserSessions},
		{"Throttles", testThrottles},
		{"ThrottleConcurrent", testThrottleConcurrent},
		{"SignInState", testSignInState},
		{"AuthForeignKeys", testAuthForeignKeys},
		{"EnvironmentBranding", testEnvironmentBranding},
		{"Admins", testAdmins},
		{"AdminUpdateAtomic", testAdminUpdateAtomic},
		{"AdminTokens", testAdminTokens},
		{"AdminTokenConsumeRace", testAdminTokenConsumeRace},
		{"AdminSessions", testAdminSessions},
		{"Events", testEvents},
		{"EventPagination", testEventPagination},
		{"UserSearch", testUserSearch},
		{"UserSearchPagination", testUserSearchPagination},
		{"EndSessionAndBrowser", testEndSessionAndBrowser},
		{"Outbox", testOutbox},
		{"OutboxLeaseExpiry", testOutboxLeaseExpiry},
		{"OutboxConcurrentClaims", testOutboxConcurrentClaims},
		{"OutboxList", testOutboxList},
		{"Challenges", testChallenges},
		{"LatestChallenge", testLatestChallenge},
		{"ChallengeUpdate", testChallengeUpdate},
		{"ChallengeUpdateAtomic", testChallengeUpdateAtomic},
		{"UseEmailVerification", testUseEmailVerification},
		{"UsePasswordReset", testUsePasswordReset},
		{"EmailVerificationSignIn", testEmailVerificationSignIn},
		{"PendingSignIn", testPendingSignIn},
		{"Idempotency", testIdempotency},
		{"Sweep", testSweep},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

func newEnv(t *testing.T, s store.Store, name string) *store.Environment {
	t.Helper()
	now := store.Now()
	e := &store.Environment{
		ID: ids.New("environment"), Name: name, Type: store.Development, ClientID: ids.New("client"),
		CORSOrigins: []string{}, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.CreateEnvironment(t.Context(), e); err != nil {
		t.Fatalf("CreateEnvironment: %v", err)
	}
	// Zero settings are stored as the defaults.
	stored := e.WithDefaults()
	return &stored
}

func newUser(envID, email string) *store.User {
	now := store.Now()
	return &store.User{
		ID: ids.New("user"), EnvironmentID: envID, Email: email, Metadata: map[string]string{},
		CreatedAt: now, UpdatedAt: now,
	}
}

func ptr[T any](v T) *T { return &v }

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want %v", what, err, target)
	}
}

func testMigrations(t *testing.T, s store.Store) {
	ctx := t.Context()
	ms, err := s.Migrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no migrations reported")
	}
	for _, m := range ms {
		if !m.Applied || m.AppliedAt.IsZero() {
			t.Errorf("migration %d %s not applied", m.Version, m.Name)
		}
	}
	// Migrating again is a no-op, also when several callers race.
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Go(func() { errs <- s.Migrate(ctx) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testEnvironments(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Development")
	got, err := s.GetEnvironment(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(e, got); diff != "" {
		t.Errorf("GetEnvironment mismatch (-want +got):\n%s", diff)
	}
	got, err = s.GetEnvironmentByClientID(ctx, e.ClientID)
	if err != nil || got.ID != e.ID {
		t.Fatalf("GetEnvironmentByClientID = %v, %v", got, err)
	}
	_, err = s.GetEnvironment(ctx, "environment_missing")
	wantErr(t, err, store.ErrNotFound, "GetEnvironment(missing)")
	_, err = s.GetEnvironmentByClientID(ctx, "client_missing")
	wantErr(t, err, store.ErrNotFound, "GetEnvironmentByClientID(missing)")

	dup := *e
	dup.ID = ids.New("environment")
	wantErr(t, s.CreateEnvironment(ctx, &dup), store.ErrConflict, "duplicate client ID")

	later := store.Truncate(e.UpdatedAt.Add(time.Second))
	upd, err := s.UpdateEnvironment(ctx, e.ID, func(e *store.Environment) error {
		e.Name = "Renamed"
		e.SignInEndpoint = "http://localhost:3000/login"
		e.CORSOrigins = []string{"http://localhost:3000", "https://app.example.com"}
		e.Email = store.EmailSettings{Verification: true, MagicSignUp: true, SenderName: "Acme", SenderAddress: "auth@acme.test"}
		e.UpdatedAt = later
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetEnvironment(ctx, e.ID)
	if diff := cmp.Diff(upd, got); diff != "" {
		t.Errorf("after update (-returned +stored):\n%s", diff)
	}
	if got.Email != (store.EmailSettings{Verification: true, MagicSignUp: true, SenderName: "Acme", SenderAddress: "auth@acme.test"}) {
		t.Errorf("email settings not stored: %+v", got.Email)
	}
	if got.Name != "Renamed" || len(got.CORSOrigins) != 2 || !got.UpdatedAt.Equal(later) {
		t.Errorf("update not stored: %+v", got)
	}
	_, err = s.UpdateEnvironment(ctx, "environment_missing", func(*store.Environment) error { return nil })
	wantErr(t, err, store.ErrNotFound, "UpdateEnvironment(missing)")

	e2 := newEnv(t, s, "Second")
	list, err := s.ListEnvironments(ctx)
	if err != nil || len(list) != 2 || list[0].ID != e.ID || list[1].ID != e2.ID {
		t.Fatalf("ListEnvironments = %v, %v", list, err)
	}
}

func testAPIKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	other := newEnv(t, s, "Other")
	h := sha256.Sum256([]byte("sk_test_secret"))
	k := &store.APIKey{ID: ids.New("key"), EnvironmentID: e.ID, Name: "default", Prefix: "sk_test_abc", Hash: h[:], CreatedAt: store.Now()}
	if err := s.CreateAPIKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetAPIKeyByHash(ctx, h[:])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(k, got); diff != "" {
		t.Errorf("GetAPIKeyByHash (-want +got):\n%s", diff)
	}
	other2 := sha256.Sum256([]byte("nope"))
	_, err = s.GetAPIKeyByHash(ctx, other2[:])
	wantErr(t, err, store.ErrNotFound, "GetAPIKeyByHash(unknown)")
	dup := *k
	dup.ID = ids.New("key")
	wantErr(t, s.CreateAPIKey(ctx, &dup), store.ErrConflict, "duplicate hash")

	used := store.Now().Add(time.Minute)
	if err := s.TouchAPIKey(ctx, k.ID, used); err != nil {
		t.Fatal(err)
	}
	// Revoking from another environment must not work.
	wantErr(t, s.RevokeAPIKey(ctx, other.ID, k.ID, store.Now()), store.ErrNotFound, "revoke across environments")
	first := store.Now().Add(2 * time.Minute)
	if err := s.RevokeAPIKey(ctx, e.ID, k.ID, first); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAPIKey(ctx, e.ID, k.ID, first.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetAPIKeyByHash(ctx, h[:])
	if got.RevokedAt == nil || !got.RevokedAt.Equal(first) || got.LastUsedAt == nil || !got.LastUsedAt.Equal(used) {
		t.Errorf("after revoke: revoked %v (want %v), last used %v (want %v)", got.RevokedAt, first, got.LastUsedAt, used)
	}
	list, err := s.ListAPIKeys(ctx, e.ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListAPIKeys = %v, %v", list, err)
	}
	list, _ = s.ListAPIKeys(ctx, other.ID)
	if len(list) != 0 {
		t.Errorf("other environment sees %d keys", len(list))
	}
}

func testRedirects(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	other := newEnv(t, s, "Other")
	add := func(env, uri string, def bool, kind store.RedirectKind) error {
		return s.AddRedirect(ctx, &store.Redirect{ID: ids.New("redirect"), EnvironmentID: env, Kind: kind, URI: uri, Default: def, CreatedAt: store.Now()})
	}
	defaults := func(env string, kind store.RedirectKind) []string {
		t.Helper()
		rs, err := s.ListRedirects(ctx, env, kind)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			if r.Default {
				out = append(out, r.URI)
			}
		}
		return out
	}
	if err := add(e.ID, "http://localhost:3000/callback", true, store.RedirectURI); err != nil {
		t.Fatal(err)
	}
	if err := add(e.ID, "https://app.example.com/callback", false, store.RedirectURI); err != nil {
		t.Fatal(err)
	}
	if err := add(e.ID, "http://localhost:3000/", true, store.SignOutRedirect); err != nil {
		t.Fatal(err)
	}
	// The same URI in another environment or of another kind is fine.
	if err := add(other.ID, "http://localhost:3000/callback", true, store.RedirectURI); err != nil {
		t.Fatal(err)
	}
	if err := add(e.ID, "http://localhost:3000/callback", false, store.SignOutRedirect); err != nil {
		t.Fatal(err)
	}
	wantErr(t, add(e.ID, "https://app.example.com/callback", false, store.RedirectURI), store.ErrConflict, "duplicate redirect")

	if got := defaults(e.ID, store.RedirectURI); !cmp.Equal(got, []string{"http://localhost:3000/callback"}) {
		t.Errorf("defaults = %v", got)
	}
	// Adding a new default replaces the old one.
	if err := add(e.ID, "https://new.example.com/cb", true, store.RedirectURI); err != nil {
		t.Fatal(err)
	}
	if got := defaults(e.ID, store.RedirectURI); !cmp.Equal(got, []string{"https://new.example.com/cb"}) {
		t.Errorf("after adding a default, defaults = %v", got)
	}
	if err := s.SetDefaultRedirect(ctx, e.ID, store.RedirectURI, "https://app.example.com/callback"); err != nil {
		t.Fatal(err)
	}
	if got := defaults(e.ID, store.RedirectURI); !cmp.Equal(got, []string{"https://app.example.com/callback"}) {
		t.Errorf("after SetDefault, defaults = %v", got)
	}
	wantErr(t, s.SetDefaultRedirect(ctx, e.ID, store.RedirectURI, "https://missing.example.com/"), store.ErrNotFound, "SetDefault(missing)")
	if got := defaults(e.ID, store.RedirectURI); len(got) != 1 {
		t.Errorf("a failed SetDefault changed defaults: %v", got)
	}
	if got := defaults(other.ID, store.RedirectURI); !cmp.Equal(got, []string{"http://localhost:3000/callback"}) {
		t.Errorf("other environment's default changed: %v", got)
	}
	if got := defaults(e.ID, store.SignOutRedirect); !cmp.Equal(got, []string{"http://localhost:3000/"}) {
		t.Errorf("sign-out defaults = %v", got)
	}
	if err := s.RemoveRedirect(ctx, e.ID, store.RedirectURI, "https://new.example.com/cb"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.RemoveRedirect(ctx, e.ID, store.RedirectURI, "https://new.example.com/cb"), store.ErrNotFound, "remove twice")
	wantErr(t, s.RemoveRedirect(ctx, other.ID, store.RedirectURI, "https://app.example.com/callback"), store.ErrNotFound, "remove across environments")
	rs, _ := s.ListRedirects(ctx, e.ID, store.RedirectURI)
	if len(rs) != 2 || rs[0].URI != "http://localhost:3000/callback" {
		t.Errorf("ListRedirects = %+v", rs)
	}
}

func testSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetSetting(ctx, "k")
	wantErr(t, err, store.ErrNotFound, "GetSetting(missing)")
	v, err := s.PutSettingIfAbsent(ctx, "k", "first")
	if err != nil || v != "first" {
		t.Fatalf("PutSettingIfAbsent = %q, %v", v, err)
	}
	v, err = s.PutSettingIfAbsent(ctx, "k", "second")
	if err != nil || v != "first" {
		t.Fatalf("second PutSettingIfAbsent = %q, %v; want the first value kept", v, err)
	}
	if v, _ := s.GetSetting(ctx, "k"); v != "first" {
		t.Fatalf("GetSetting = %q", v)
	}
}

func testUserCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	u := newUser(e.ID, "ada@example.com")
	u.FirstName, u.LastName, u.ExternalID = ptr("Ada"), ptr("Lovelace"), ptr("ext-1")
	u.Metadata = map[string]string{"plan": "pro", "unicode": "ünïcødé ✓"}
	u.PasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	for name, get := range map[string]func() (*store.User, error){
		"by id":          func() (*store.User, error) { return s.GetUser(ctx, e.ID, u.ID) },
		"by email":       func() (*store.User, error) { return s.GetUserByEmail(ctx, e.ID, "ada@example.com") },
		"by external id": func() (*store.User, error) { return s.GetUserByExternalID(ctx, e.ID, "ext-1") },
	} {
		got, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(u, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	_, err := s.GetUser(ctx, e.ID, "user_missing")
	wantErr(t, err, store.ErrNotFound, "GetUser(missing)")
	_, err = s.GetUserByEmail(ctx, e.ID, "nobody@example.com")
	wantErr(t, err, store.ErrNotFound, "GetUserByEmail(missing)")
	_, err = s.GetUserByExternalID(ctx, e.ID, "nope")
	wantErr(t, err, store.ErrNotFound, "GetUserByExternalID(missing)")

	upd, err := s.UpdateUser(ctx, e.ID, u.ID, func(u *store.User) error {
		u.FirstName = nil
		u.EmailVerified = true
		u.ExternalID = nil
		delete(u.Metadata, "plan")
		u.Metadata["new"] = "x"
		u.UpdatedAt = u.UpdatedAt.Add(time.Second)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetUser(ctx, e.ID, u.ID)
	if diff := cmp.Diff(upd, got); diff != "" {
		t.Errorf("after update (-returned +stored):\n%s", diff)
	}
	if got.FirstName != nil || !got.EmailVerified || got.ExternalID != nil || !cmp.Equal(got.Metadata, map[string]string{"unicode": "ünïcødé ✓", "new": "x"}) {
		t.Errorf("update not stored: %+v", got)
	}
	_, err = s.UpdateUser(ctx, e.ID, "user_missing", func(*store.User) error { return nil })
	wantErr(t, err, store.ErrNotFound, "UpdateUser(missing)")
	// fn cannot move a user or rewrite its history.
	upd, err = s.UpdateUser(ctx, e.ID, u.ID, func(u *store.User) error {
		u.ID, u.EnvironmentID, u.CreatedAt = "user_other", "environment_other", time.Unix(0, 0)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetUser(ctx, e.ID, u.ID)
	if diff := cmp.Diff(upd, got); diff != "" || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Errorf("identity fields changed by fn (-returned +stored):\n%s", diff)
	}

	if err := s.DeleteUser(ctx, e.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetUser(ctx, e.ID, u.ID)
	wantErr(t, err, store.ErrNotFound, "GetUser after delete")
	wantErr(t, s.DeleteUser(ctx, e.ID, u.ID), store.ErrNotFound, "DeleteUser twice")
}

// testCreateUserLogged: a user created with its sign-up event is stored
// with it, and a refused user leaves no event, nor a refused event a user.
func testCreateUserLogged(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	signedUp := func(u *store.User) *store.Event {
		ev := newEvent(e.ID, "user.signed_up")
		ev.ActorID, ev.TargetID = u.ID, u.ID
		return ev
	}

	u := newUser(e.ID, "logged@example.com")
	ev := signedUp(u)
	if err := s.CreateUser(ctx, u, ev); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUser(ctx, e.ID, u.ID); err != nil {
		t.Fatalf("user created with an event: %v", err)
	}
	if !logged(t, s, ev) {
		t.Error("the event given with the user was not written")
	}

	twin := newUser(e.ID, "logged@example.com")
	lost := signedUp(twin)
	wantErr(t, s.CreateUser(ctx, twin, lost), store.ErrConflict, "taken email, with an event")
	if logged(t, s, lost) {
		t.Error("a user refused for a taken email left its event")
	}

	other := newUser(e.ID, "other@example.com")
	taken := signedUp(other)
	taken.ID = ev.ID
	if err := s.CreateUser(ctx, other, taken); err == nil {
		t.Fatal("an event ID already taken was accepted")
	}
	if _, err := s.GetUser(ctx, e.ID, other.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a user whose event was refused was stored (err %v)", err)
	}
}

func testUserConflicts(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	a := newUser(e.ID, "a@example.com")
	a.ExternalID = ptr("ext-a")
	if err := s.CreateUser(ctx, a); err != nil {
		t.Fatal(err)
	}
	b := newUser(e.ID, "a@example.com")
	wantErr(t, s.CreateUser(ctx, b), store.ErrConflict, "duplicate email")
	c := newUser(e.ID, "c@example.com")
	c.ExternalID = ptr("ext-a")
	wantErr(t, s.CreateUser(ctx, c), store.ErrConflict, "duplicate external id")
	// Several users without an external ID are fine.
	for i := range 3 {
		if err := s.CreateUser(ctx, newUser(e.ID, fmt.Sprintf("n%d@example.com", i))); err != nil {
			t.Fatal(err)
		}
	}
	d := newUser(e.ID, "d@example.com")
	if err := s.CreateUser(ctx, d); err != nil {
		t.Fatal(err)
	}
	_, err := s.UpdateUser(ctx, e.ID, d.ID, func(u *store.User) error { u.Email = "a@example.com"; return nil })
	wantErr(t, err, store.ErrConflict, "update to a taken email")
	got, _ := s.GetUser(ctx, e.ID, d.ID)
	if got.Email != "d@example.com" {
		t.Errorf("failed update changed email to %q", got.Email)
	}
}

func testUserIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	e1, e2 := newEnv(t, s, "One"), newEnv(t, s, "Two")
	u1 := newUser(e1.ID, "same@example.com")
	u1.ExternalID = ptr("ext")
	u2 := newUser(e2.ID, "same@example.com")
	u2.ExternalID = ptr("ext")
	if err := s.CreateUser(ctx, u1); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, u2); err != nil {
		t.Fatalf("same email in another environment: %v", err)
	}
	_, err := s.GetUser(ctx, e2.ID, u1.ID)
	wantErr(t, err, store.ErrNotFound, "get across environments")
	_, err = s.UpdateUser(ctx, e2.ID, u1.ID, func(*store.User) error { return nil })
	wantErr(t, err, store.ErrNotFound, "update across environments")
	wantErr(t, s.DeleteUser(ctx, e2.ID, u1.ID), store.ErrNotFound, "delete across environments")
	if got, _ := s.GetUserByExternalID(ctx, e2.ID, "ext"); got.ID != u2.ID {
		t.Errorf("by external id in e2 = %s, want %s", got.ID, u2.ID)
	}
	page, err := s.ListUsers(ctx, e1.ID, store.UserFilter{}, store.ListParams{})
	if err != nil || len(page.Data) != 1 || page.Data[0].ID != u1.ID {
		t.Fatalf("list e1 = %+v, %v", page, err)
	}
}

func testUserTimes(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	u := newUser(e.ID, "t@example.com")
	// A non-UTC time with sub-millisecond digits comes back in UTC, truncated.
	loc := time.FixedZone("UTC+5:30", 5*3600+1800)
	in := time.Date(2024, 2, 29, 23, 59, 59, 123456789, loc)
	// Backends truncate on write: the raw value goes in.
	u.CreatedAt, u.UpdatedAt = in, in
	last := in.Add(time.Hour)
	u.LastSignInAt = &last
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetUser(ctx, e.ID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2024, 2, 29, 18, 29, 59, 123000000, time.UTC)
	if !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want %v in UTC", got.CreatedAt, want)
	}
	if got.LastSignInAt == nil || !got.LastSignInAt.Equal(want.Add(time.Hour)) {
		t.Errorf("LastSignInAt = %v", got.LastSignInAt)
	}
	if got.LastSignInAt.Location() != time.UTC {
		t.Errorf("LastSignInAt zone = %v", got.LastSignInAt.Location())
	}
}

func testUserPagination(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	other := newEnv(t, s, "Other")
	var all []string
	for i := range 25 {
		u := newUser(e.ID, fmt.Sprintf("u%02d@example.com", i))
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		all = append(all, u.ID)
		if err := s.CreateUser(ctx, newUser(other.ID, fmt.Sprintf("u%02d@example.com", i))); err != nil {
			t.Fatal(err)
		}
	}
	idsOf := func(p store.Page[store.User]) []string {
		var out []string
		for _, u := range p.Data {
			out = append(out, u.ID)
		}
		return out
	}
	reversed := make([]string, len(all))
	for i, id := range all {
		reversed[len(all)-1-i] = id
	}
	for _, order := range []store.Order{store.Asc, store.Desc} {
		t.Run(string(order), func(t *testing.T) {
			want := all
			if order == store.Desc {
				want = reversed
			}
			// Forward to the end, 10 at a time.
			var got []string
			var pages []store.Page[store.User]
			p := store.ListParams{Limit: 10, Order: order}
			for {
				page, err := s.ListUsers(ctx, e.ID, store.UserFilter{}, p)
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
			// Backward from the last page returns the middle page exactly.
			back, err := s.ListUsers(ctx, e.ID, store.UserFilter{}, store.ListParams{Limit: 10, Order: order, Before: pages[2].Before})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want[10:20], idsOf(back)); diff != "" {
				t.Errorf("backward page (-want +got):\n%s", diff)
			}
			if back.Before != want[10] || back.After != want[19] {
				t.Errorf("backward cursors = %q, %q", back.Before, back.After)
			}
			first, _ := s.ListUsers(ctx, e.ID, store.UserFilter{}, store.ListParams{Limit: 10, Order: order, Before: want[10]})
			if diff := cmp.Diff(want[:10], idsOf(first)); diff != "" || first.Before != "" {
				t.Errorf("back to the first page: before=%q (-want +got):\n%s", first.Before, diff)
			}
		})
	}
	// Defaults: limit 10, newest first. Oversized limits are clamped.
	page, _ := s.ListUsers(ctx, e.ID, store.UserFilter{}, store.ListParams{})
	if diff := cmp.Diff(reversed[:10], idsOf(page)); diff != "" {
		t.Errorf("default page (-want +got):\n%s", diff)
	}
	page, _ = s.ListUsers(ctx, e.ID, store.UserFilter{}, store.ListParams{Limit: 1000})
	if len(page.Data) != 25 || page.After != "" {
		t.Errorf("limit 1000: %d users, after %q", len(page.Data), page.After)
	}
	// Exact page boundary: 25 users, limit 25 → no next page.
	page, _ = s.ListUsers(ctx, e.ID, store.UserFilter{}, store.ListParams{Limit: 25})
	if page.After != "" {
		t.Errorf("exact fit has after = %q", page.After)
	}
	page, _ = s.ListUsers(ctx, e.ID, store.UserFilter{Email: "u07@example.com"}, store.ListParams{})
	if len(page.Data) != 1 || page.Data[0].ID != all[7] {
		t.Errorf("email filter = %v", idsOf(page))
	}
	// A cursor past the end gives an empty page with a non-nil slice.
	page, _ = s.ListUsers(ctx, e.ID, store.UserFilter{}, store.ListParams{After: "user_7ZZZZZZZZZZZZZZZZZZZZZZZZZ", Order: store.Asc})
	if page.Data == nil || len(page.Data) != 0 || page.After != "" {
		t.Errorf("past the end = %+v", page)
	}
}

func testUserUpdateAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	u := newUser(e.ID, "counter@example.com")
	u.Metadata = map[string]string{"n": "0"}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	// Concurrent read-modify-writes must not lose updates.
	const workers, each = 4, 10
	var wg sync.WaitGroup
	errc := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				_, err := s.UpdateUser(ctx, e.ID, u.ID, func(u *store.User) error {
					var n int
					fmt.Sscan(u.Metadata["n"], &n)
					u.Metadata["n"] = fmt.Sprint(n + 1)
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
	got, _ := s.GetUser(ctx, e.ID, u.ID)
	if got.Metadata["n"] != fmt.Sprint(workers*each) {
		t.Errorf("counter = %s, want %d (lost updates)", got.Metadata["n"], workers*each)
	}
}

func testUserUpdateRollback(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEnv(t, s, "Dev")
	u := newUser(e.ID, "r@example.com")
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err := s.UpdateUser(ctx, e.ID, u.ID, func(u *store.User) error {
		u.Email = "changed@example.com"
		return boom
	})
	wantErr(t, err, boom, "UpdateUser with failing fn")
	got, _ := s.GetUser(ctx, e.ID, u.ID)
	if got.Email != "r@example.com" {
		t.Errorf("a failed update was written: %q", got.Email)
	}
	// A caller that gives up between the read and the write (its context
	// is done) is told the truth: an error and nothing written, or
	// success and the update stored. (PostgreSQL gives up with it; SQLite
	// finishes a write it has started, as a shared commit cannot drop one.)
	cctx, cancelUpdate := context.WithCancel(ctx)
	_, err = s.UpdateUser(cctx, e.ID, u.ID, func(u *store.User) error {
		u.Email = "cancelled@example.com"
		cancelUpdate()
		return nil
	})
	got, _ = s.GetUser(ctx, e.ID, u.ID)
	switch {
	case err != nil && !errors.Is(err, context.Canceled):
		t.Errorf("UpdateUser cancelled before its write: %v, want context.Canceled or success", err)
	case err != nil && got.Email != "r@example.com":
		t.Errorf("a cancelled update failed but was written: %q", got.Email)
	case err == nil && got.Email != "cancelled@example.com":
		t.Errorf("a cancelled update succeeded but was not written: %q", got.Email)
	}
	if _, err := s.UpdateUser(ctx, e.ID, u.ID, func(u *store.User) error { u.Email = "r@example.com"; return nil }); err != nil {
		t.Fatal(err)
	}
	// The store still works after rolled-back transactions, however many:
	// each failure gives its connection back (or closes it), so a pool is
	// not drained by them.
	ctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	other := newUser(e.ID, "taken@example.com")
	if err := s.CreateUser(ctx2, other); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		var fail error
		switch i % 2 {
		case 0:
			_, fail = s.UpdateUser(ctx2, e.ID, u.ID, func(*store.User) error { return boom })
		case 1:
			_, fail = s.UpdateUser(ctx2, e.ID, u.ID, func(u *store.User) error { u.Email = other.Email; return nil })
		}
		if fail == nil {
			t.Fatalf("failing update %d succeeded", i)
		}
		if errors.Is(fail, context.DeadlineExceeded) {
			t.Fatalf("failing update %d: %v (the store ran out of connections)", i, fail)
		}
	}
	if _, err := s.UpdateUser(ctx2, e.ID, u.ID, func(u *store.User) error { u.EmailVerified = true; return nil }); err != nil {
		t.Fatalf("update after rollback: %v", err)
	}
}

func testEnvironmentForeignKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	// A user cannot point at an environment that does not exist.
	u := newUser("environment_missing", "fk@example.com")
	if err := s.CreateUser(ctx, u); err == nil {
		t.Fatal("created a user in a missing environment; foreign keys are off")
	}
}
