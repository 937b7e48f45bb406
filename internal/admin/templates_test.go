package admin

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// TestTemplatesRender parses every page (as New does at start) and
// renders each with filled-in data of its page type, so a template that
// names a missing field or calls a function wrongly fails here rather than
// on an operator's request.
func TestTemplatesRender(t *testing.T) {
	h, err := New(Handler{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	name, ext := "Ada", "ext-1"
	user := &store.User{ID: "user_1", Email: "ada@example.com", FirstName: &name, ExternalID: &ext, LastSignInAt: &now, CreatedAt: now}
	env := &store.Environment{ID: "environment_1", Name: "Test", Type: store.Development, ClientID: "client_1", CreatedAt: now,
		Branding: store.Branding{AppName: "Acme", LogoURL: "https://x.example/logo.png", PrimaryColor: "#112233", Appearance: "dark"}}
	key := &store.APIKey{ID: "key_1", Name: "k", Prefix: "sk_test_abcd", CreatedAt: now, LastUsedAt: &now, RevokedAt: &now}
	redirects := []store.Redirect{{URI: "http://localhost:3000/callback", Default: true}, {URI: "https://*.example.com/cb"}}
	samples := map[string]any{
		"error":           errorPage{Message: "m", RequestID: "req_1"},
		"continue":        continuePage{URL: "/admin/"},
		"login":           loginPage{Email: "a@b.c", Next: "/admin/", FormError: "x"},
		"login_totp":      loginPage{Next: "/admin/", Ticket: "t", FormError: "x"},
		"setup":           setupPage{Token: "t", Errors: map[string]string{"password": "p", "confirm_password": "c"}, FormError: "f"},
		"account":         accountPage{HasPassword: true, TOTP: true, Section: "totp", FormError: "x", Errors: map[string]string{"current_password": "c", "new_password": "n", "totp_password": "t"}},
		"account_totp":    totpPage{Secret: "ABC", URI: "otpauth://totp/x", Error: "e"},
		"activity":        activityPage{Events: []store.Event{{ID: "event_1", Type: "admin.x", ActorType: "admin", ActorID: "admin_1", TargetID: "t", IPAddress: "1.2.3.4", Data: map[string]string{"a": "b"}, CreatedAt: now}}, Types: envEventTypes, Type: "admin.x", Prev: "/p", Next: "/n", BaseURL: "/admin/activity", Admins: map[string]string{"admin_1": "a@example.com"}},
		"environments":    environmentsPage{Name: "n", Type: "production", Errors: map[string]string{"name": "x", "type": "y"}, FormError: "f"},
		"settings":        settingsPage{Name: "n", AccessTokenTTL: "5m", SigningAlgorithm: "ES256", Errors: map[string]string{"access_token_ttl": "x"}, FormError: "f"},
		"users":           usersPage{Query: "q", Users: []store.User{*user}, Prev: "/p", Next: "/n"},
		"user":            userPage{User: user, Sessions: []sessionRow{{Session: store.Session{ID: "session_1", CreatedAt: now}, Status: "active"}, {Status: "revoked"}, {Status: "expired"}}, MoreSessions: true, Errors: map[string]string{"email": "e"}, FormError: "f"},
		"user_delete":     userDeletePage{User: user, Error: "e"},
		"redirects":       redirectsPage{RedirectURIs: redirects, SignOut: redirects, SignInEndpoint: "x", CORSOrigins: "y", Development: true, Errors: map[string]*formError{"redirect-uris": {Message: "m", Rule: "r"}, "sign-in-endpoint": {Message: "m"}, "cors-origins": {Message: "m"}}, Values: map[string]string{"redirect-uris": "v"}},
		"api_keys":        apiKeysPage{Keys: []store.APIKey{*key, {ID: "key_2", CreatedAt: now}}, Name: "n", FormError: "f"},
		"api_key_created": apiKeyCreatedPage{Key: key, Secret: "sk_test_secret"},
		"api_key_revoke":  key,
		"branding":        brandingPage{Branding: env.Branding, Saved: env.Branding, Appearances: appearances, Errors: map[string]string{"logo_url": "x"}, Development: true},
	}
	for _, name := range pageNames {
		data, ok := samples[name]
		if !ok {
			t.Errorf("no sample data for page %s", name)
			continue
		}
		calls := []*call{{Admin: &store.Admin{Email: "admin@example.com", LastSignInAt: &now}, CSRF: "tok", Envs: []store.Environment{*env}, Env: env}}
		if publicPages[name] {
			calls = append(calls, &call{}) // also shown signed out
		}
		for _, c := range calls {
			w := httptest.NewRecorder()
			h.render(w, httptest.NewRequest("GET", "/admin/x?notice=user_updated", nil), c, http.StatusOK, name, "Title", "branding", data)
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "</html>") {
				t.Errorf("page %s (signed in: %v) = %d:\n%s", name, c.Admin != nil, w.Code, w.Body.String())
			}
		}
	}
}

// publicPages are rendered without a session too.
var publicPages = map[string]bool{"error": true, "continue": true, "login": true, "login_totp": true, "setup": true}

func TestDurations(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{{"5m", 5 * time.Minute}, {"30d", 30 * 24 * time.Hour}, {"12h", 12 * time.Hour}, {"90s", 90 * time.Second}, {"1h30m", 90 * time.Minute}} {
		got, err := parseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseDuration(%q) = %v, %v", tc.in, got, err)
		}
		if back, _ := parseDuration(formatDuration(got)); back != got {
			t.Errorf("round trip of %v through %q = %v", got, formatDuration(got), back)
		}
	}
	for _, bad := range []string{"", "soon", "d", "-1d", "1.5d", "5"} {
		if _, err := parseDuration(bad); err == nil {
			t.Errorf("parseDuration(%q) accepted", bad)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/admin/env/x/users?q=a": "/admin/env/x/users?q=a",
		"":                       "/admin/",
		"//evil.example":         "/admin/",
		"https://evil.example/":  "/admin/",
		"/admin//evil.example":   "/admin/",
		"/admin/\\evil":          "/admin/",
		"/admin/login/tok":       "/admin/",
		"/hosted/x":              "/admin/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
