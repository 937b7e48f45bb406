package admin_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/adminauth"
	"github.com/gatehouse/gatehouse/internal/authflow"
	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
)

const wantCSP = "default-src 'none'; style-src 'self'; img-src 'self' data: https:; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func TestSignInLink(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		ctx := t.Context()
		a, created, err := ts.Srv.Admin.EnsureDevAdmin(ctx)
		if err != nil || !created || a.Email != adminauth.DevAdminEmail || a.PasswordHash != "" {
			t.Fatalf("EnsureDevAdmin = %+v, %v, %v", a, created, err)
		}
		if again, created, err := ts.Srv.Admin.EnsureDevAdmin(ctx); err != nil || created || again.ID != a.ID {
			t.Fatalf("second EnsureDevAdmin = %+v, %v, %v", again, created, err)
		}
		link, err := ts.Srv.Admin.IssueSignInLink(ctx, a.ID)
		if err != nil || !strings.HasPrefix(link, ts.URL+"/admin/login/") {
			t.Fatalf("link = %q, %v", link, err)
		}

		// Before: the dashboard sends the browser to sign in.
		b := newBrowser(t, ts)
		p := b.get("/admin/").want(t, http.StatusSeeOther)
		if p.Location != "/admin/login" {
			t.Fatalf("Location = %q", p.Location)
		}
		for k, v := range map[string]string{"Content-Security-Policy": wantCSP, "X-Content-Type-Options": "nosniff",
			"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
			if got := p.Header.Get(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}

		// The link signs in once.
		p = b.get(link).want(t, http.StatusSeeOther)
		var cookie *http.Cookie
		for _, c := range (&http.Response{Header: p.Header}).Cookies() {
			if c.Name == "gh_admin" {
				cookie = c
			}
		}
		if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/admin" || cookie.Secure {
			t.Fatalf("session cookie = %+v", cookie)
		}
		b.get("/admin/").want(t, http.StatusSeeOther)
		b.get(ts.envPath("users")).want(t, http.StatusOK).contains(t, "admin@localhost", `id="sign-out"`)
		if got, _ := ts.Store.GetAdmin(ctx, a.ID); got.LastSignInAt == nil {
			t.Error("last sign-in not recorded")
		}

		// A second use fails, and signs nobody in.
		other := newBrowser(t, ts)
		other.get(link).want(t, http.StatusBadRequest).contains(t, "This link is not valid")
		other.get(ts.envPath("users")).want(t, http.StatusSeeOther)

		// A link older than 15 minutes fails.
		link2, _ := ts.Srv.Admin.IssueSignInLink(ctx, a.ID)
		ts.Clock.Advance(adminauth.SignInLinkTTL + time.Second)
		late := newBrowser(t, ts)
		late.get(link2).want(t, http.StatusBadRequest)
		late.get(ts.envPath("users")).want(t, http.StatusSeeOther)

		// A garbage token fails the same way.
		late.get("/admin/login/not-a-token").want(t, http.StatusBadRequest)

		if ev := events(t, ts, "", adminauth.EventSignedIn); len(ev) != 1 || ev[0].ActorID != a.ID || ev[0].Data["method"] != "link" {
			t.Errorf("sign-in events = %+v", ev)
		}
	})
}

func TestSetupLinkAndPasswordSignIn(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		ctx := t.Context()
		a, err := ts.Srv.Admin.Create(ctx, "Ops@Example.com")
		if err != nil || a.Email != "ops@example.com" {
			t.Fatalf("Create = %+v, %v", a, err)
		}
		if _, err := ts.Srv.Admin.Create(ctx, "ops@example.com"); err == nil {
			t.Fatal("duplicate admin created")
		}
		link, _ := ts.Srv.Admin.IssueSetupLink(ctx, a.ID)
		path := strings.TrimPrefix(link, ts.URL)
		if !strings.HasPrefix(path, "/admin/setup/") {
			t.Fatalf("setup link = %q", link)
		}
		// A sign-in link is not a set-up link and vice versa.
		b := newBrowser(t, ts)
		b.get("/admin/login/"+strings.TrimPrefix(path, "/admin/setup/")).want(t, http.StatusBadRequest)
		setupLink, _ := ts.Srv.Admin.IssueSetupLink(ctx, a.ID)
		path = strings.TrimPrefix(setupLink, ts.URL)

		// No password can sign in before set-up: there is no default one.
		b.get("/admin/login").want(t, http.StatusOK)
		b.post("/admin/login", url.Values{"email": {"ops@example.com"}, "password": {""}}).want(t, http.StatusBadRequest)

		b.get(path).want(t, http.StatusOK).contains(t, `id="setup-form"`)
		// The policy refuses a weak password and the link stays usable.
		b.post(path, url.Values{"password": {"password"}, "confirm_password": {"password"}}).want(t, http.StatusUnprocessableEntity).contains(t, "password-error")
		b.post(path, url.Values{"password": {"a long enough passphrase"}, "confirm_password": {"different"}}).want(t, http.StatusUnprocessableEntity)
		p := b.post(path, url.Values{"password": {"a long enough passphrase"}, "confirm_password": {"a long enough passphrase"}}).want(t, http.StatusSeeOther)
		if !strings.HasPrefix(p.Location, "/admin/") {
			t.Fatalf("after set-up Location = %q", p.Location)
		}
		b.get(ts.envPath("users")).want(t, http.StatusOK)
		got, _ := ts.Store.GetAdmin(ctx, a.ID)
		if !strings.HasPrefix(got.PasswordHash, "$argon2id$") {
			t.Fatalf("stored hash = %q", got.PasswordHash)
		}
		// Used up.
		newBrowser(t, ts).post(path, url.Values{"password": {"another passphrase!"}, "confirm_password": {"another passphrase!"}}).want(t, http.StatusForbidden)
		c := newBrowser(t, ts)
		c.get(path).want(t, http.StatusOK)
		c.post(path, url.Values{"password": {"another passphrase!"}, "confirm_password": {"another passphrase!"}}).want(t, http.StatusBadRequest).contains(t, "This link is not valid")

		// Password sign-in, with one generic error for every failure.
		c.get("/admin/login?next="+url.QueryEscape(ts.envPath("settings"))).want(t, http.StatusOK)
		wrong := c.post("/admin/login", url.Values{"email": {"ops@example.com"}, "password": {"wrong password"}, "next": {ts.envPath("settings")}}).want(t, http.StatusUnauthorized)
		unknown := c.post("/admin/login", url.Values{"email": {"nobody@example.com"}, "password": {"wrong password"}}).want(t, http.StatusUnauthorized)
		if !strings.Contains(wrong.Body, "Incorrect email or password.") || !strings.Contains(unknown.Body, "Incorrect email or password.") {
			t.Fatal("failures do not share the generic message")
		}
		p = c.post("/admin/login", url.Values{"email": {"OPS@example.com "}, "password": {"a long enough passphrase"}, "next": {ts.envPath("settings")}}).want(t, http.StatusSeeOther)
		if p.Location != ts.envPath("settings") {
			t.Fatalf("next not honoured: %q", p.Location)
		}
		// An off-site next is ignored.
		d := newBrowser(t, ts)
		d.get("/admin/login").want(t, http.StatusOK)
		p = d.post("/admin/login", url.Values{"email": {"ops@example.com"}, "password": {"a long enough passphrase"}, "next": {"//evil.example/admin/"}}).want(t, http.StatusSeeOther)
		if p.Location != "/admin/" {
			t.Fatalf("off-site next followed: %q", p.Location)
		}
		if ev := events(t, ts, "", adminauth.EventSignInFailed); len(ev) != 2 {
			t.Errorf("failed sign-in events = %d, want 2", len(ev))
		}
	})
}

func TestSignInThrottle(t *testing.T) {
	sqliteOnly(t, func(t *testing.T, ts *testServer) {
		b := newBrowser(t, ts)
		b.get("/admin/login").want(t, http.StatusOK)
		for i := range adminauth.FreeEmailFailures {
			if p := b.post("/admin/login", url.Values{"email": {"target@example.com"}, "password": {"guess"}}); p.Status != http.StatusUnauthorized {
				t.Fatalf("attempt %d = %d", i+1, p.Status)
			}
		}
		p := b.post("/admin/login", url.Values{"email": {"target@example.com"}, "password": {"guess"}}).want(t, http.StatusTooManyRequests)
		if p.Header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		p.contains(t, "Too many sign-in attempts")
		if _, err := ts.Store.GetThrottle(t.Context(), "admin:email:target@example.com"); err != nil {
			t.Fatal(err)
		}
	})
}

var (
	totpSecretRE = regexp.MustCompile(`id="totp-secret" type="text" readonly value="([A-Z2-7]+)"`)
	ticketRE     = regexp.MustCompile(`name="ticket" value="([^"]+)"`)
)

func TestPasswordSignInWithTOTP(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		b, a := signedIn(t, ts, "mfa@example.com")
		// Signed in by link with no password: set one without a current one.
		b.get("/admin/account").want(t, http.StatusOK).contains(t, "Set a password")
		b.post("/admin/account/password", url.Values{"new_password": {"correct horse battery"}, "confirm_password": {"correct horse battery"}}).want(t, http.StatusSeeOther)
		// Now changing it needs the current one.
		b.get("/admin/account").want(t, http.StatusOK).contains(t, `id="current_password"`)
		b.post("/admin/account/password", url.Values{"current_password": {"nope"}, "new_password": {"x correct horse"}, "confirm_password": {"x correct horse"}}).
			want(t, http.StatusUnprocessableEntity).contains(t, "current password is not correct")

		// Enrol: the page shows a secret; a wrong code is refused.
		p := b.get("/admin/account/totp").want(t, http.StatusOK).contains(t, "otpauth://totp/Gatehouse:mfa@example.com?")
		m := totpSecretRE.FindStringSubmatch(p.Body)
		if m == nil {
			t.Fatalf("no secret on the page:\n%s", p.Body)
		}
		secret, err := adminauth.DecodeTOTPSecret(m[1])
		if err != nil {
			t.Fatal(err)
		}
		b.post("/admin/account/totp", url.Values{"secret": {m[1]}, "code": {"000000"}}).want(t, http.StatusUnprocessableEntity).contains(t, m[1])
		code := adminauth.TOTP(secret, ts.Clock.Now())
		if code == "000000" {
			code = adminauth.TOTP(secret, ts.Clock.Now().Add(30*time.Second))
		}
		b.post("/admin/account/totp", url.Values{"secret": {m[1]}, "code": {code}}).want(t, http.StatusSeeOther)
		got, _ := ts.Store.GetAdmin(t.Context(), a.ID)
		if got.TOTPSecret == "" || strings.Contains(got.TOTPSecret, m[1]) {
			t.Fatalf("TOTP secret stored as %q (want sealed)", got.TOTPSecret)
		}
		b.get("/admin/account").want(t, http.StatusOK).contains(t, `id="totp-status">On<`)
		b.post("/admin/logout", nil).want(t, http.StatusSeeOther)
		b.get(ts.envPath("users")).want(t, http.StatusSeeOther)

		// Sign in: password, then the code.
		c := newBrowser(t, ts)
		c.get("/admin/login").want(t, http.StatusOK)
		p = c.post("/admin/login", url.Values{"email": {"mfa@example.com"}, "password": {"correct horse battery"}}).want(t, http.StatusOK).contains(t, `id="totp-form"`)
		ticket := ticketRE.FindStringSubmatch(p.Body)[1]
		// The password alone signs nobody in.
		c.get(ts.envPath("users")).want(t, http.StatusSeeOther)
		c.post("/admin/login/totp", url.Values{"ticket": {ticket}, "code": {"123456"}}).want(t, http.StatusUnauthorized).contains(t, "That code is not valid")
		c.post("/admin/login/totp", url.Values{"ticket": {"forged"}, "code": {code}}).want(t, http.StatusUnauthorized).contains(t, `id="login-form"`)
		ts.Clock.Advance(30 * time.Second)
		now := adminauth.TOTP(secret, ts.Clock.Now())
		c.post("/admin/login/totp", url.Values{"ticket": {ticket}, "code": {now}}).want(t, http.StatusSeeOther)
		c.get(ts.envPath("users")).want(t, http.StatusOK)
		if ev := events(t, ts, "", adminauth.EventSignedIn); ev[0].Data["method"] != "password+totp" {
			t.Errorf("latest sign-in = %+v", ev[0])
		}

		// An expired ticket starts over.
		d := newBrowser(t, ts)
		d.get("/admin/login").want(t, http.StatusOK)
		p = d.post("/admin/login", url.Values{"email": {"mfa@example.com"}, "password": {"correct horse battery"}}).want(t, http.StatusOK)
		ticket = ticketRE.FindStringSubmatch(p.Body)[1]
		ts.Clock.Advance(adminauth.TicketTTL + time.Second)
		d.post("/admin/login/totp", url.Values{"ticket": {ticket}, "code": {adminauth.TOTP(secret, ts.Clock.Now())}}).
			want(t, http.StatusUnauthorized).contains(t, "took too long")

		// Turning TOTP off needs the password.
		c.get("/admin/account").want(t, http.StatusOK)
		c.post("/admin/account/totp/disable", url.Values{"password": {"wrong"}}).want(t, http.StatusUnprocessableEntity)
		c.post("/admin/account/totp/disable", url.Values{"password": {"correct horse battery"}}).want(t, http.StatusSeeOther)
		if got, _ := ts.Store.GetAdmin(t.Context(), a.ID); got.TOTPSecret != "" {
			t.Fatal("TOTP still on")
		}
		for _, typ := range []string{adminauth.EventTOTPEnabled, adminauth.EventTOTPDisabled, adminauth.EventSignedOut, adminauth.EventPasswordChange} {
			if len(events(t, ts, "", typ)) == 0 {
				t.Errorf("no %s event", typ)
			}
		}
	})
}

func TestEndUserSessionDoesNotOpenDashboard(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		ctx := t.Context()
		pw := "a long enough passphrase"
		u, err := ts.Srv.Users.Create(ctx, ts.Env.ID, usersCreate("enduser@example.com", pw))
		if err != nil {
			t.Fatal(err)
		}
		// A hosted sign-in completing a request starts the browser session.
		now := store.Now()
		areq := &store.AuthRequest{ID: ids.New("authreq"), EnvironmentID: ts.Env.ID, ClientID: ts.Env.ClientID,
			RedirectURI: "http://localhost:3000/callback", ScreenHint: "sign-in", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := ts.Srv.Flow.SaveAuthorization(ctx, areq); err != nil {
			t.Fatal(err)
		}
		_, tok, err := ts.Srv.Flow.Complete(ctx, ts.Env, areq, u, "password", authflow.Client{})
		if err != nil {
			t.Fatal(err)
		}
		// The end user's cookie, under its own name and under the admin one.
		for _, name := range []string{"gh_" + ts.Env.ID, "gh_admin"} {
			b := newBrowser(t, ts)
			req, _ := http.NewRequest("GET", ts.URL+ts.envPath("users"), nil)
			req.AddCookie(&http.Cookie{Name: name, Value: tok})
			p := b.do(req).want(t, http.StatusSeeOther)
			if !strings.HasPrefix(p.Location, "/admin/login") {
				t.Fatalf("with %s: Location = %q", name, p.Location)
			}
		}
		// The admin's cookie does not work as an end user's either: the
		// hosted pages never read gh_admin, and its path is /admin.
	})
}

func TestSessionIdleAndAbsoluteTimeout(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		b, _ := signedIn(t, ts, "idle@example.com")
		ts.Clock.Advance(29 * time.Minute)
		b.get(ts.envPath("users")).want(t, http.StatusOK)
		ts.Clock.Advance(29 * time.Minute) // 58 minutes in, but active 29 minutes ago
		b.get(ts.envPath("users")).want(t, http.StatusOK)
		ts.Clock.Advance(adminauth.SessionIdleTimeout + time.Minute)
		p := b.get(ts.envPath("settings")).want(t, http.StatusSeeOther)
		if p.Location != "/admin/login?next="+url.QueryEscape(ts.envPath("settings")) {
			t.Fatalf("Location = %q", p.Location)
		}
		// The stale cookie is cleared, and a POST is refused too.
		b.get("/admin/login").want(t, http.StatusOK)
		before, _ := ts.Store.GetEnvironment(t.Context(), ts.Env.ID)
		b.post(ts.envPath("branding"), url.Values{"app_name": {"Changed"}}).want(t, http.StatusSeeOther)
		if after, _ := ts.Store.GetEnvironment(t.Context(), ts.Env.ID); after.Branding != before.Branding {
			t.Fatal("an expired session changed branding")
		}

		// However busy, a session ends 12 hours after sign-in.
		c, _ := signedIn(t, ts, "busy@example.com")
		for elapsed := time.Duration(0); elapsed < adminauth.SessionLifetime-20*time.Minute; elapsed += 20 * time.Minute {
			ts.Clock.Advance(20 * time.Minute)
			c.get(ts.envPath("users")).want(t, http.StatusOK)
		}
		ts.Clock.Advance(21 * time.Minute)
		c.get(ts.envPath("users")).want(t, http.StatusSeeOther)
	})
}

func TestCrossSiteLinkGetsContinuePage(t *testing.T) {
	sqliteOnly(t, func(t *testing.T, ts *testServer) {
		signedIn(t, ts, "x@example.com")
		// A navigation from another site does not carry the SameSite=Strict
		// cookie in a real browser; the page offers a same-site link.
		req, _ := http.NewRequest("GET", ts.URL+ts.envPath("users"), nil)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		newBrowser(t, ts).do(req).want(t, http.StatusOK).contains(t, `id="continue"`, ts.envPath("users"))
	})
}

func TestCSRF(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		b, _ := signedIn(t, ts, "csrf@example.com")
		b.get(ts.envPath("branding")).want(t, http.StatusOK)
		good := b.csrf
		form := func(tok string) url.Values {
			v := url.Values{"app_name": {"Evil"}, "primary_color": {"#ff0000"}, "appearance": {"dark"}}
			if tok != "-" {
				v.Set("csrf_token", tok)
			}
			return v
		}
		// No token, a wrong token, and the right token sent cross-site.
		b.post(ts.envPath("branding"), form("")).want(t, http.StatusForbidden).contains(t, "This form has expired")
		b.post(ts.envPath("branding"), form(strings.Repeat("A", 43))).want(t, http.StatusForbidden)
		b.post(ts.envPath("branding"), form(good), "Sec-Fetch-Site", "cross-site").want(t, http.StatusForbidden)
		b.post(ts.envPath("branding"), form(good), "Sec-Fetch-Site", "same-site").want(t, http.StatusForbidden)
		// Another browser's token does not fit this browser's cookie.
		other := newBrowser(t, ts)
		other.get("/admin/login")
		b.post(ts.envPath("api-keys"), url.Values{"name": {"x"}, "csrf_token": {other.csrf}}).want(t, http.StatusForbidden)
		// Sign-out needs the token too.
		b.post("/admin/logout", url.Values{"csrf_token": {""}}).want(t, http.StatusForbidden)
		b.post("/admin/login", url.Values{"csrf_token": {""}, "email": {"csrf@example.com"}, "password": {"x"}}).want(t, http.StatusForbidden)

		env, _ := ts.Store.GetEnvironment(t.Context(), ts.Env.ID)
		if env.Branding != (store.Branding{}) {
			t.Fatalf("a refused POST changed branding: %+v", env.Branding)
		}
		keys, _ := ts.Store.ListAPIKeys(t.Context(), ts.Env.ID)
		if len(keys) != 1 {
			t.Fatalf("a refused POST created a key: %d keys", len(keys))
		}
		b.get(ts.envPath("users")).want(t, http.StatusOK) // still signed in

		// The right token works (a browser without Sec-Fetch-Site too).
		b.post(ts.envPath("branding"), form(good), "Sec-Fetch-Site", "").want(t, http.StatusSeeOther)
		env, _ = ts.Store.GetEnvironment(t.Context(), ts.Env.ID)
		if env.Branding.AppName != "Evil" {
			t.Fatalf("branding = %+v", env.Branding)
		}
	})
}

func TestAdminIDsAreNotUserIDs(t *testing.T) {
	sqliteOnly(t, func(t *testing.T, ts *testServer) {
		_, a := signedIn(t, ts, "ids@example.com")
		if !ids.Valid(a.ID, "admin") {
			t.Fatalf("admin ID = %q", a.ID)
		}
	})
}
