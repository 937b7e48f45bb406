package hostile

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// redirectTricks are ways to name another site, or a target that is not
// exactly a registered one, while looking like the app's. Equivalent marks
// the ones that are the registered URI in another spelling (a redirect to
// them is still a redirect to the app).
var redirectTricks = []struct {
	uri        string
	equivalent bool
}{
	{"https://app.example.com.evil.com/callback", false},
	{"https://app.example.com@evil.com/callback", false},
	{"https://evil.com@app.example.com/callback", false},
	{"https://app.example.com:@evil.com/callback", false},
	{"https://app.example.com%40evil.com/callback", false},
	{"//evil.com/callback", false},
	{"///evil.com/callback", false},
	{"/\\evil.com/callback", false},
	{"\\\\evil.com/callback", false},
	{"https:\\\\evil.com\\callback", false},
	{"https://app.example.com\\@evil.com/callback", false},
	{"https://app.example.com\\.evil.com/callback", false},
	{"https://evil.com\\app.example.com/callback", false},
	{"https://evil.com/app.example.com/callback", false},
	{"https://evil.com?app.example.com/callback", false},
	{"https://evil.com#app.example.com/callback", false},
	{"https://app.example.com/callback#@evil.com", false},
	{"https://app.example.com/callback/../../evil", false},
	{"https://app.example.com/callback/%2e%2e/evil", false},
	{"https://app.example.com/%2e%2e/callback", false},
	{"https://app.example.com/callback%2f..%2f..%2fevil", false},
	{"https://app.example.com%2eevil.com/callback", false},
	{"https://app%2eexample%2ecom/callback", false},
	{"https://app.example.com./callback", false},
	{"https://app.example.com:443/callback", false},
	{"https://app.example.com:8443/callback", false},
	{"https://app.exаmple.com/callback", false}, // Cyrillic а
	{"https://аpp.example.com/callback", false}, // Cyrillic а
	{"https://app.example.com\u3002evil.com/callback", false},
	{"https://ａｐｐ.example.com/callback", false}, // fullwidth
	{"https://xn--pp-7ka.example.com/callback", false},
	{"https://app.xn--exmple-cua.com/callback", false},
	{"https://app.example.com/CALLBACK", false},
	{"https://app.example.com/callback/", false},
	{"https://app.example.com/callback?next=https://evil.com", false},
	{"https://app.example.com/callback\t", false},
	{"https://app.example.com\t/callback", false},
	{"https://app.example.com/call\nback", false},
	{" https://app.example.com/callback", false},
	{"https://app.example.com/callback\r\nX-Injected: 1", false},
	{"https://app.example.com/callback%0d%0aX-Injected:%201", false},
	{"http://app.example.com/callback", false},
	{"javascript:alert(1)//app.example.com/callback", false},
	{"data:text/html,<script>alert(1)</script>", false},
	{"https:app.example.com/callback", false},
	{"https:/app.example.com/callback", false},
	{"https://evil.com/.tenants.example.com/callback", false},
	{"https://a.b.tenants.example.com/callback", false},
	{"https://.tenants.example.com/callback", false},
	{"https://*.tenants.example.com/callback", false},
	{"https://%2A.tenants.example.com/callback", false},
	{"https://x.tenants.example.com.evil.com/callback", false},
	{"https://x.tenants.example.com@evil.com/callback", false},
	{"https://evil.com#.tenants.example.com/callback", false},
	{"https://evil.com?.tenants.example.com/callback", false},
	{"https://x_y.tenants.example.com/callback", false},
	{"http://localhost:3000@evil.com/callback", false},
	{"http://localhost:3000.evil.com/callback", false},
	{"http://localhost:3001/callback", false},
	{"http://127.0.0.1:3000/callback", false},
	{"http://[::1]:3000/callback", false},
	{"http://0x7f.1:3000/callback", false},
	{"HTTPS://APP.EXAMPLE.COM/callback", true},
	{"https://App.Example.Com/callback", true},
	{"https://tenant-1.tenants.example.com/callback", true},
	{"https://TENANT.Tenants.Example.com/callback", true},
}

// TestOpenRedirectAuthorize: an authorization request whose redirect_uri
// is not exactly a registered one gets an error page, never a redirect.
func TestOpenRedirectAuthorize(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		for _, tc := range redirectTricks {
			t.Run(tc.uri, func(t *testing.T) {
				q := url.Values{"client_id": {ts.Env.ClientID}, "redirect_uri": {tc.uri}, "response_type": {"code"}, "provider": {"authkit"},
					"state": {"st"}}
				before := ts.snapshot(t)
				r := ts.send(t, request{Method: "GET", Target: "/user_management/authorize?" + q.Encode()})
				after := ts.snapshot(t)
				loc := r.Header.Get("Location")
				for _, p := range ts.headerProblems(r) {
					t.Errorf("BUG: %s", p)
				}
				switch {
				case tc.equivalent:
					if r.Status != 302 || !strings.HasPrefix(loc, "/hosted/") {
						t.Errorf("BUG? the registered URI spelled %q: %s, Location %q", tc.uri, r, loc)
					}
				case r.Status != 400 || loc != "":
					t.Errorf("BUG: redirect_uri %q: %d Location %q, want a 400 error page and no redirect", tc.uri, r.Status, loc)
				default:
					if d := changed(before, after, nil); len(d) > 0 {
						t.Errorf("BUG: stored: %v", d)
					}
				}
			})
		}
	})
}

// TestOpenRedirectLogout: a return_to that is not exactly a registered
// sign-out redirect goes to the default one.
func TestOpenRedirectLogout(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		tricks := map[string]bool{}
		for _, tc := range redirectTricks {
			if !strings.Contains(tc.uri, "tenant") {
				tricks[strings.ReplaceAll(tc.uri, "callback", "goodbye")] = tc.equivalent
			}
		}
		for trick, equivalent := range tricks {
			t.Run(trick, func(t *testing.T) {
				q := url.Values{"session_id": {ts.liveSession(t)}, "return_to": {trick}}
				r := ts.send(t, request{Method: "GET", Target: "/user_management/sessions/logout?" + q.Encode()})
				for _, p := range ts.headerProblems(r) {
					t.Errorf("BUG: %s", p)
				}
				loc := r.Header.Get("Location")
				if r.Status != 302 || (loc != signOutHome && !(equivalent && loc == trick)) {
					t.Errorf("BUG: return_to %q: %d Location %q, want the default sign-out redirect %s", trick, r.Status, loc, signOutHome)
				}
			})
		}
	})
}

// TestOpenRedirectAdminNext: the dashboard's next parameter only ever
// leads to a dashboard page.
func TestOpenRedirectAdminNext(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		for _, next := range []string{
			"//evil.com", "///evil.com", "/\\evil.com", "\\\\evil.com", "https://evil.com/admin/", "/admin//evil.com",
			"/admin/\\evil.com", "/admin/..//evil.com", "/admin/../..//evil.com", "/admin/%2F%2Fevil.com", "/admin/..%2F..%2F%2Fevil.com",
			"/admin/\r\nX-Injected: 1", "/admin/\t/evil.com", "/admin/%0d%0aX-Injected:%201", "/admin/ /evil.com",
			"/admin/login?next=//evil.com", "/admin/#//evil.com", "/admin/?x=\x00", "/admin/\xff\xfe", "javascript:alert(1)",
		} {
			t.Run(next, func(t *testing.T) {
				ts.clearThrottles(t)
				form := url.Values{"email": {adminEmail}, "password": {adminPassword}, "next": {next}, "csrf_token": {csrf}}
				r := ts.send(t, request{Method: "POST", Target: "/admin/login", Body: []byte(form.Encode()),
					Header: [][2]string{{"Content-Type", "application/x-www-form-urlencoded"}, {"Cookie", "gh_admin_csrf=" + csrf}}})
				loc := r.Header.Get("Location")
				for _, p := range ts.headerProblems(r) {
					t.Errorf("BUG: %s", p)
				}
				refused := r.Status == 400 && loc == "" && (strings.ContainsRune(next, 0) || !utf8.ValidString(next))
				if !refused && (r.Status != 303 || !strings.HasPrefix(loc, "/admin/") || strings.HasPrefix(loc, "/admin//")) {
					t.Errorf("BUG (minor: same host, not an open redirect): next %q: %s, Location %q; want a 303 to a dashboard page", next, r, loc)
				}
				// A browser drops tabs and newlines, then resolves the Location
				// against the server: it must stay there.
				base, _ := url.Parse(ts.URL + "/admin/login")
				if u, err := base.Parse(strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(loc)); err != nil || u.Host != base.Host {
					t.Errorf("BUG: next %q: Location %q resolves to %v (%v)", next, loc, u, err)
				}
			})
		}
	})
}

// TestStateHeaderInjection: a state with CR/LF, quotes and markup reaches
// the app percent-encoded inside the Location, byte for byte, and adds no
// header.
func TestStateHeaderInjection(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		cookie := ts.browserSession(t)
		for _, state := range []string{
			"x\r\nX-Injected: 1\r\nSet-Cookie: injected=1",
			"x\nX-Injected: 1", "x\rX-Injected: 1", "%0d%0aX-Injected:%201", `"><script>alert(1)</script>`,
			"' OR '1'='1' --", "\u2028\u2029\u0085", strings.Repeat("s", 8<<10),
		} {
			t.Run(clip(state, 40), func(t *testing.T) {
				q := url.Values{"client_id": {ts.Env.ClientID}, "redirect_uri": {appCallback}, "response_type": {"code"},
					"provider": {"authkit"}, "state": {state}}
				r := ts.send(t, request{Method: "GET", Target: "/user_management/authorize?" + q.Encode(),
					Header: [][2]string{{"Cookie", "gh_" + ts.Env.ID + "=" + cookie}}})
				for _, p := range ts.headerProblems(r) {
					t.Errorf("BUG: %s", p)
				}
				loc := r.Header.Get("Location")
				u, err := url.Parse(loc)
				if r.Status != 302 || err != nil || !strings.HasPrefix(loc, appCallback+"?") || u.Query().Get("code") == "" {
					t.Fatalf("BUG: %s, Location %q; want a 302 to the app with a code", r, loc)
				}
				if got := u.Query().Get("state"); got != state {
					t.Errorf("BUG: state came back as %q, want %q", clip(got, 80), clip(state, 80))
				}
			})
		}
	})
}

// browserSession signs Ada in on the hosted page and returns the value of
// the browser-session cookie.
func (ts *testServer) browserSession(t *testing.T) string {
	t.Helper()
	form := url.Values{"csrf_token": {csrf}, "request": {ts.pendingRequest(t)}, "email": {adaEmail}, "password": {adaPassword}}
	r := ts.send(t, request{Method: "POST", Target: "/hosted/" + ts.Env.ClientID + "/sign-in", Body: []byte(form.Encode()),
		Header: [][2]string{{"Content-Type", "application/x-www-form-urlencoded"}, {"Cookie", "gh_csrf=" + csrf}}})
	for _, c := range r.Header.Values("Set-Cookie") {
		if v, ok := strings.CutPrefix(c, "gh_"+ts.Env.ID+"="); ok {
			v, _, _ = strings.Cut(v, ";")
			return v
		}
	}
	t.Fatalf("sign-in set no browser-session cookie: %s %v", r, r.Header)
	return ""
}
