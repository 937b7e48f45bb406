package admin_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/redirecturi"
	"github.com/gatehouse/gatehouse/internal/store"
)

func TestRedirects(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		ctx := t.Context()
		b, _ := signedIn(t, ts, "redirects@example.com")
		b.get(ts.envPath("redirects")).want(t, http.StatusOK).contains(t, "left-most label", `id="redirect-uris-add-form"`)

		// A wildcard on a public suffix is refused with the rule's explanation.
		bad := "https://*.com/callback"
		_, rerr := redirecturi.Validate(bad, redirecturi.Options{Development: true}, false)
		re, ok := rerr.(*redirecturi.RuleError)
		if !ok {
			t.Fatalf("Validate(%q) = %v", bad, rerr)
		}
		b.post(ts.envPath("redirects/redirect-uris/add"), url.Values{"uri": {bad}}).want(t, http.StatusUnprocessableEntity).
			contains(t, `id="redirect-uris-error"`, escaped(re.Message), re.Rule, `value="`+escaped(bad)+`"`)
		// A wildcard cannot be the default either.
		b.post(ts.envPath("redirects/redirect-uris/add"), url.Values{"uri": {"https://*.example.com/cb"}, "default": {"1"}}).want(t, http.StatusUnprocessableEntity)

		b.post(ts.envPath("redirects/redirect-uris/add"), url.Values{"uri": {"http://localhost:3000/callback"}}).want(t, http.StatusSeeOther)
		b.post(ts.envPath("redirects/redirect-uris/add"), url.Values{"uri": {"https://*.example.com/cb"}}).want(t, http.StatusSeeOther)
		b.post(ts.envPath("redirects/redirect-uris/add"), url.Values{"uri": {"http://localhost:4000/cb"}, "default": {"1"}}).want(t, http.StatusSeeOther)
		b.post(ts.envPath("redirects/redirect-uris/add"), url.Values{"uri": {"http://localhost:4000/cb"}}).want(t, http.StatusUnprocessableEntity).contains(t, "already registered")
		rs, _ := ts.Store.ListRedirects(ctx, ts.Env.ID, store.RedirectURI)
		if len(rs) != 3 || rs[0].Default || !rs[2].Default {
			t.Fatalf("redirects = %+v", rs)
		}
		b.get(ts.envPath("redirects")).want(t, http.StatusOK).contains(t, `<tr data-uri="http://localhost:4000/cb">`)
		b.post(ts.envPath("redirects/redirect-uris/default"), url.Values{"uri": {"http://localhost:3000/callback"}}).want(t, http.StatusSeeOther)
		b.post(ts.envPath("redirects/redirect-uris/default"), url.Values{"uri": {"https://*.example.com/cb"}}).want(t, http.StatusUnprocessableEntity)
		b.post(ts.envPath("redirects/redirect-uris/remove"), url.Values{"uri": {"http://localhost:4000/cb"}}).want(t, http.StatusSeeOther)
		b.post(ts.envPath("redirects/redirect-uris/remove"), url.Values{"uri": {"http://localhost:4000/cb"}}).want(t, http.StatusUnprocessableEntity)
		rs, _ = ts.Store.ListRedirects(ctx, ts.Env.ID, store.RedirectURI)
		if len(rs) != 2 || !rs[0].Default {
			t.Fatalf("redirects = %+v", rs)
		}

		// Sign-out redirects.
		b.post(ts.envPath("redirects/sign-out/add"), url.Values{"uri": {"http://localhost:3000/"}}).want(t, http.StatusSeeOther)
		b.post(ts.envPath("redirects/nope/add"), url.Values{"uri": {"http://localhost:3000/"}}).want(t, http.StatusNotFound)
		so, _ := ts.Store.ListRedirects(ctx, ts.Env.ID, store.SignOutRedirect)
		if len(so) != 1 || !so[0].Default {
			t.Fatalf("sign-out redirects = %+v", so)
		}

		// Sign-in endpoint: set, refuse, clear.
		b.post(ts.envPath("sign-in-endpoint"), url.Values{"uri": {"http://localhost:3000/login"}, "action": {"set"}}).want(t, http.StatusSeeOther)
		b.post(ts.envPath("sign-in-endpoint"), url.Values{"uri": {"ftp://x"}, "action": {"set"}}).want(t, http.StatusUnprocessableEntity).contains(t, `id="sign-in-endpoint-error"`)
		env, _ := ts.Store.GetEnvironment(ctx, ts.Env.ID)
		if env.SignInEndpoint != "http://localhost:3000/login" {
			t.Fatalf("sign-in endpoint = %q", env.SignInEndpoint)
		}
		b.post(ts.envPath("sign-in-endpoint"), url.Values{"uri": {"http://localhost:3000/login"}, "action": {"clear"}}).want(t, http.StatusSeeOther)
		env, _ = ts.Store.GetEnvironment(ctx, ts.Env.ID)
		if env.SignInEndpoint != "" {
			t.Fatalf("sign-in endpoint not cleared: %q", env.SignInEndpoint)
		}

		// CORS origins.
		b.post(ts.envPath("cors-origins"), url.Values{"origins": {"https://app.example.com\nhttp://localhost:5173\n"}}).want(t, http.StatusSeeOther)
		b.post(ts.envPath("cors-origins"), url.Values{"origins": {"https://*.example.com"}}).want(t, http.StatusUnprocessableEntity).contains(t, "wildcards are not allowed")
		env, _ = ts.Store.GetEnvironment(ctx, ts.Env.ID)
		if strings.Join(env.CORSOrigins, " ") != "https://app.example.com http://localhost:5173" {
			t.Fatalf("CORS origins = %v", env.CORSOrigins)
		}

		added := events(t, ts, ts.Env.ID, admin.EventRedirectAdded)
		if len(added) != 4 || added[0].Data["uri"] != "http://localhost:3000/" || added[0].Data["kind"] != "sign_out" {
			t.Fatalf("redirect_added events = %+v", added)
		}
		for _, typ := range []string{admin.EventRedirectRemoved, admin.EventRedirectDefault, admin.EventSignInEndpoint, admin.EventCORSOrigins} {
			if len(events(t, ts, ts.Env.ID, typ)) == 0 {
				t.Errorf("no %s event", typ)
			}
		}
	})
}

var secretRE = regexp.MustCompile(`id="api-key-secret" type="text" readonly value="(sk_test_[A-Za-z0-9_-]+)"`)

func TestAPIKeys(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		b, a := signedIn(t, ts, "keys@example.com")
		b.get(ts.envPath("api-keys")).want(t, http.StatusOK)
		p := b.post(ts.envPath("api-keys"), url.Values{"name": {"backend <prod>"}}).want(t, http.StatusOK).
			contains(t, "only time the secret is shown", `data-copy="api-key-secret"`, "backend &lt;prod&gt;")
		if p.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("Cache-Control = %q", p.Header.Get("Cache-Control"))
		}
		m := secretRE.FindStringSubmatch(p.Body)
		if m == nil {
			t.Fatalf("no secret on the page:\n%s", p.Body)
		}
		secret := m[1]

		api := func() int {
			req, _ := http.NewRequest("GET", ts.URL+"/user_management/users", nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body map[string]any
			json.NewDecoder(res.Body).Decode(&body)
			return res.StatusCode
		}
		if got := api(); got != http.StatusOK {
			t.Fatalf("the new key gets %d", got)
		}
		// Shown once: the list has only the prefix.
		list := b.get(ts.envPath("api-keys")).want(t, http.StatusOK)
		if strings.Contains(list.Body, secret) {
			t.Fatal("the key list shows the secret")
		}
		list.contains(t, secret[:12]+"…")
		keys, _ := ts.Store.ListAPIKeys(t.Context(), ts.Env.ID)
		key := keys[len(keys)-1]
		if key.Name != "backend <prod>" {
			t.Fatalf("key = %+v", key)
		}

		// Revoke: a confirmation page, then 401.
		b.get(ts.envPath("api-keys/"+key.ID+"/revoke")).want(t, http.StatusOK).contains(t, `id="confirm-revoke"`)
		b.post(ts.envPath("api-keys/"+key.ID+"/revoke"), nil).want(t, http.StatusSeeOther)
		if got := api(); got != http.StatusUnauthorized {
			t.Fatalf("the revoked key gets %d", got)
		}
		b.get(ts.envPath("api-keys")).want(t, http.StatusOK).contains(t, `data-key-id="`+key.ID+`" data-status="revoked"`)
		b.get(ts.envPath("api-keys/key_missing/revoke")).want(t, http.StatusNotFound)

		created := events(t, ts, ts.Env.ID, admin.EventAPIKeyCreated)
		if len(created) != 1 || created[0].TargetID != key.ID || created[0].ActorID != a.ID || created[0].Data["prefix"] != key.Prefix {
			t.Fatalf("api_key_created events = %+v", created)
		}
		for _, e := range created {
			for _, v := range e.Data {
				if strings.Contains(v, secret) {
					t.Fatal("an event holds the secret")
				}
			}
		}
		if len(events(t, ts, ts.Env.ID, admin.EventAPIKeyRevoked)) != 1 {
			t.Fatal("no api_key_revoked event")
		}
	})
}

func TestBranding(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		ctx := t.Context()
		b, _ := signedIn(t, ts, "brand@example.com")
		b.get(ts.envPath("branding")).want(t, http.StatusOK).contains(t, `id="branding-preview"`, ts.envPath("branding.css"))

		// Each field is checked, with its error by the field.
		p := b.post(ts.envPath("branding"), url.Values{"app_name": {"Acme"}, "logo_url": {"javascript:alert(1)"},
			"primary_color": {"red"}, "appearance": {"neon"}}).want(t, http.StatusUnprocessableEntity)
		p.contains(t, `id="logo_url-error"`, `id="primary_color-error"`, `id="appearance-error"`)
		if strings.Contains(p.Body, `id="app_name-error"`) {
			t.Fatal("a valid app name was refused")
		}
		env, _ := ts.Store.GetEnvironment(ctx, ts.Env.ID)
		if env.Branding != (store.Branding{}) {
			t.Fatalf("invalid branding saved: %+v", env.Branding)
		}

		b.post(ts.envPath("branding"), url.Values{"app_name": {" Acme <Co> "}, "logo_url": {"https://cdn.example.com/logo.png"},
			"primary_color": {"#FF8800"}, "appearance": {"dark"}}).want(t, http.StatusSeeOther)
		env, _ = ts.Store.GetEnvironment(ctx, ts.Env.ID)
		want := store.Branding{AppName: "Acme <Co>", LogoURL: "https://cdn.example.com/logo.png", PrimaryColor: "#ff8800", Appearance: "dark"}
		if env.Branding != want {
			t.Fatalf("branding = %+v, want %+v", env.Branding, want)
		}
		// Without JavaScript the preview shows the saved values.
		b.get(ts.envPath("branding")).want(t, http.StatusOK).
			contains(t, "Acme &lt;Co&gt;", `class="preview appearance-dark"`, `src="https://cdn.example.com/logo.png"`)
		css := b.get(ts.envPath("branding.css")).want(t, http.StatusOK)
		if !strings.Contains(css.Body, "--brand: #ff8800") || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") {
			t.Fatalf("branding.css = %q (%s)", css.Body, css.Header.Get("Content-Type"))
		}

		// Production environments take only https logos.
		prod, _ := ts.Srv.Environments.Create(ctx, "Prod", store.Production)
		b.post("/admin/env/"+prod.ID+"/branding", url.Values{"logo_url": {"http://cdn.example.com/logo.png"}}).
			want(t, http.StatusUnprocessableEntity).contains(t, "https://")
		b.post("/admin/env/"+ts.Env.ID+"/branding", url.Values{"logo_url": {"http://localhost:3000/logo.png"}}).want(t, http.StatusSeeOther)

		ev := events(t, ts, ts.Env.ID, admin.EventBrandingUpdated)
		if len(ev) != 2 || ev[1].Data["primary_color"] != "#ff8800" {
			t.Fatalf("branding_updated events = %+v", ev)
		}
	})
}

func TestEnvironmentsAndSettings(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		ctx := t.Context()
		b, _ := signedIn(t, ts, "envs@example.com")
		b.get("/admin/environments").want(t, http.StatusOK).contains(t, ts.Env.ClientID)
		b.post("/admin/environments", url.Values{"name": {""}, "type": {"production"}}).want(t, http.StatusUnprocessableEntity).contains(t, `id="name-error"`)
		b.post("/admin/environments", url.Values{"name": {"Acme"}, "type": {"staging"}}).want(t, http.StatusUnprocessableEntity)
		p := b.post("/admin/environments", url.Values{"name": {"Acme production"}, "type": {"production"}}).want(t, http.StatusSeeOther)
		envs, _ := ts.Store.ListEnvironments(ctx)
		if len(envs) != 2 || envs[1].Name != "Acme production" || envs[1].Type != store.Production {
			t.Fatalf("environments = %+v", envs)
		}
		created := envs[1]
		if !strings.HasPrefix(p.Location, "/admin/env/"+created.ID+"/settings") {
			t.Fatalf("Location = %q", p.Location)
		}
		if ev := events(t, ts, created.ID, admin.EventEnvironmentCreated); len(ev) != 1 || ev[0].Data["type"] != "production" {
			t.Fatalf("environment_created events = %+v", ev)
		}

		// The switcher keeps the section.
		p = b.get("/admin/switch?env="+created.ID+"&section=api-keys").want(t, http.StatusSeeOther)
		if p.Location != "/admin/env/"+created.ID+"/api-keys" {
			t.Fatalf("switch Location = %q", p.Location)
		}
		b.get("/admin/env/environment_missing/users").want(t, http.StatusNotFound)

		// Settings.
		path := "/admin/env/" + created.ID + "/settings"
		b.get(path).want(t, http.StatusOK).contains(t, created.ClientID, `value="5m"`, `value="30d"`, `value="7d"`, "production")
		b.post(path, url.Values{"name": {"Acme prod"}, "access_token_ttl": {"soon"}, "session_lifetime": {"30d"},
			"session_idle_timeout": {"7d"}, "signing_algorithm": {"RS256"}}).want(t, http.StatusUnprocessableEntity).contains(t, `id="access_token_ttl-error"`)
		b.post(path, url.Values{"name": {"Acme prod"}, "access_token_ttl": {"10m"}, "session_lifetime": {"1d"},
			"session_idle_timeout": {"2d"}, "signing_algorithm": {"ES256"}}).want(t, http.StatusUnprocessableEntity).contains(t, "idle timeout cannot be longer")
		b.post(path, url.Values{"name": {"Acme prod"}, "access_token_ttl": {"10m"}, "session_lifetime": {"14d"},
			"session_idle_timeout": {"12h"}, "signing_algorithm": {"ES256"}}).want(t, http.StatusSeeOther)
		env, _ := ts.Store.GetEnvironment(ctx, created.ID)
		if env.Name != "Acme prod" || env.AccessTokenTTL != 10*time.Minute || env.SessionLifetime != 14*24*time.Hour ||
			env.SessionIdleTimeout != 12*time.Hour || env.SigningAlgorithm != "ES256" {
			t.Fatalf("settings = %+v", env)
		}
		ev := events(t, ts, created.ID, admin.EventSettingsUpdated)
		if len(ev) != 1 || ev[0].Data["access_token_ttl"] != "10m" || ev[0].Data["signing_algorithm"] != "ES256" || ev[0].Data["name"] != "Acme prod" {
			t.Fatalf("settings_updated events = %+v", ev)
		}
	})
}

func TestActivityPage(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		b, _ := signedIn(t, ts, "activity@example.com")
		for range 60 {
			b.post(ts.envPath("cors-origins"), url.Values{"origins": {"https://app.example.com"}}).want(t, http.StatusSeeOther)
		}
		b.post(ts.envPath("api-keys"), url.Values{"name": {"k"}}).want(t, http.StatusOK)
		p := b.get(ts.envPath("activity")).want(t, http.StatusOK).contains(t, admin.EventAPIKeyCreated, "127.0.0.1", "activity@example.com")
		rows := regexp.MustCompile(`<tr data-event-id=`).FindAllString(p.Body, -1)
		if len(rows) != 50 {
			t.Fatalf("first page has %d events", len(rows))
		}
		next := nextRE.FindStringSubmatch(p.Body)
		if next == nil {
			t.Fatal("no older link")
		}
		p = b.get(unescapeHref(next[1])).want(t, http.StatusOK)
		if n := len(regexp.MustCompile(`<tr data-event-id=`).FindAllString(p.Body, -1)); n != 11 {
			t.Fatalf("second page has %d events, want 11", n)
		}
		p = b.get(ts.envPath("activity?type="+admin.EventAPIKeyCreated)).want(t, http.StatusOK)
		if n := len(regexp.MustCompile(`data-event-type="admin.api_key_created"`).FindAllString(p.Body, -1)); n != 1 || strings.Contains(p.Body, `data-event-type="admin.cors_origins_updated"`) {
			t.Fatalf("filtered page:\n%s", p.Body)
		}
		// Server-wide admin events.
		b.get("/admin/activity").want(t, http.StatusOK).contains(t, "admin.signed_in")
	})
}
