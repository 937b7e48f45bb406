package hosted_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/authflow"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/redirecturi"
	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

const (
	callback    = "https://app.example.com/callback"
	signInPage  = "https://app.example.com/login"
	csrfToken   = "ccccccccccccccccccccccccccccccccccccccccccc"
	fuzzBaseURL = "http://gatehouse.test"
)

type fuzzServer struct {
	srv *server.Server
	env *store.Environment
}

// newFuzzServer starts the real server (no network) on SQLite with one
// environment, its redirect URI and sign-in endpoint, and a user.
func newFuzzServer(f *testing.F) *fuzzServer {
	ctx := f.Context()
	db, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "g.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		f.Fatal(err)
	}
	k, _ := secretbox.ParseKey(secretbox.GenerateKey())
	box, _ := secretbox.New(k)
	srv := server.New(server.Deps{Store: db, Box: box, BaseURL: fuzzBaseURL, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Hasher: password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 0)})
	env, err := srv.Environments.Create(ctx, "Fuzz", store.Development)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := srv.Environments.AddRedirect(ctx, env, store.RedirectURI, callback, true); err != nil {
		f.Fatal(err)
	}
	if _, err := srv.Environments.AddRedirect(ctx, env, store.SignOutRedirect, "https://app.example.com/", true); err != nil {
		f.Fatal(err)
	}
	if env, err = srv.Environments.SetSignInEndpoint(ctx, env, signInPage); err != nil {
		f.Fatal(err)
	}
	return &fuzzServer{srv: srv, env: env}
}

// serve runs one request through the server; ok is false when the target
// is not a URL a client could send.
func (s *fuzzServer) serve(method, target, contentType, cookie string, body string) (*httptest.ResponseRecorder, bool) {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, false
	}
	req := &http.Request{Method: method, URL: u, RequestURI: target, Host: "gatehouse.test", Header: http.Header{},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), RemoteAddr: "192.0.2.1:1234",
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	s.srv.ServeHTTP(w, req)
	return w, true
}

// checkResponse fails on a server error, a header carrying CR/LF/NUL, or
// a Location outside this server and the app's registered URIs.
func checkResponse(t *testing.T, w *httptest.ResponseRecorder, what string) {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("%s: %d %s", what, w.Code, w.Body.String())
	}
	for k, vs := range w.Header() {
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n\x00") {
				t.Fatalf("%s: header %s = %q", what, k, v)
			}
		}
	}
	loc := w.Header().Get("Location")
	if loc == "" {
		return
	}
	if strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") && !strings.ContainsAny(loc, "\\\t ") {
		return
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("%s: Location %q: %v", what, loc, err)
	}
	base := u.Scheme + "://" + u.Host + u.EscapedPath()
	if u.User != nil || (!redirecturi.Match(callback, base) && !redirecturi.Match(signInPage, base) && !redirecturi.Match("https://app.example.com/", base)) ||
		strings.ContainsAny(loc, "\\\t @") {
		t.Fatalf("%s: Location %q is outside the registered URIs", what, loc)
	}
}

// FuzzAuthorize drives GET /user_management/authorize with arbitrary
// parameters and cookies: never a server error, never a Location outside
// the registered URIs, never a header carrying CR/LF.
func FuzzAuthorize(f *testing.F) {
	s := newFuzzServer(f)
	f.Add(true, callback, "code", "authkit", "state", "", "", "", "", "")
	f.Add(true, "https://app.example.com.evil.com/callback", "code", "authkit", "s", "sign-up", "ada@example.com", "", "", "")
	f.Add(true, "https://app.example.com@evil.com/callback", "token", "authkit", "x\r\nSet-Cookie: a=b", "", "", "", "", "gh_x=1")
	f.Add(false, "//evil.com", "code", "google", "", "sideways", "\xff", "abc", "plain", "")
	f.Add(true, callback, "code", "authkit", strings.Repeat("s", 9000), "", strings.Repeat("h", 400), strings.Repeat("C", 43), "S256", "gh_=; gh_csrf=\xff")
	f.Add(true, "HTTPS://APP.EXAMPLE.COM/callback", "code", "authkit", "\x00", "sign-in", "\x00", "", "S256", "")
	f.Add(true, callback+"?x=1", "code", "authkit", "'; DROP TABLE users; --", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, knownClient bool, redirect, responseType, provider, state, hint, loginHint, challenge, method, cookie string) {
		q := url.Values{"redirect_uri": {redirect}, "response_type": {responseType}, "provider": {provider}, "state": {state},
			"screen_hint": {hint}, "login_hint": {loginHint}, "code_challenge": {challenge}, "code_challenge_method": {method}}
		if knownClient {
			q.Set("client_id", s.env.ClientID)
		} else {
			q.Set("client_id", redirect)
		}
		for k, v := range q {
			if v[0] == "" {
				delete(q, k)
			}
		}
		w, ok := s.serve("GET", "/user_management/authorize?"+q.Encode(), "", cookie, "")
		if !ok {
			return
		}
		checkResponse(t, w, "authorize")
		loc := w.Header().Get("Location")
		if strings.HasPrefix(loc, "https://") && !strings.Contains(loc, "error=") {
			t.Fatalf("authorize without a session sent the browser to the app with no error: %q", loc)
		}
		if strings.HasPrefix(loc, "https://") && !redirecturi.Match(callback, redirect) {
			t.Fatalf("redirect_uri %q is not registered, yet Location = %q", redirect, loc)
		}
	})
}

// FuzzHostedForm posts arbitrary forms, content types and cookies to the
// hosted pages, with and without a live request and a matching CSRF token.
func FuzzHostedForm(f *testing.F) {
	s := newFuzzServer(f)
	pages := []string{"sign-in", "sign-up", "verify-email", "magic", "magic-code", "forgot-password", "reset-password"}
	f.Add(uint8(0), true, true, "application/x-www-form-urlencoded", "email=nobody%40example.com&password=wrong+password+1")
	f.Add(uint8(1), true, true, "application/x-www-form-urlencoded", "email=a%FF%40example.com&password=correct+horse+battery+staple")
	f.Add(uint8(2), true, true, "application/x-www-form-urlencoded", "verification=%00&code=123456&action=resend")
	f.Add(uint8(3), false, true, "multipart/form-data; boundary=x", "--x\r\n\r\n--x--")
	f.Add(uint8(4), true, false, "application/json", `{"email":"x"}`)
	f.Add(uint8(5), true, true, "application/x-www-form-urlencoded", "email=%27+OR+1%3D1+--&request=%00")
	f.Add(uint8(6), true, true, "application/x-www-form-urlencoded", "token=%0d%0a&password=a%00bcdefgh")
	f.Add(uint8(0), true, true, "application/x-www-form-urlencoded; charset=\"", "a=%zz&b=%")
	f.Fuzz(func(t *testing.T, page uint8, withRequest, withCSRF bool, contentType, body string) {
		p := pages[int(page)%len(pages)]
		if withRequest {
			_, req, err := s.srv.Flow.CheckAuthorization(t.Context(), authflow.AuthorizeParams{ClientID: s.env.ClientID, RedirectURI: callback,
				ResponseType: "code", Provider: "authkit"})
			if err == nil {
				err = s.srv.Flow.SaveAuthorization(t.Context(), req)
			}
			if err != nil {
				t.Fatal(err)
			}
			body += "&request=" + req.ID
		}
		cookie := ""
		if withCSRF {
			body += "&csrf_token=" + csrfToken
			cookie = "gh_csrf=" + csrfToken
		}
		w, ok := s.serve("POST", "/hosted/"+s.env.ClientID+"/"+p, contentType, cookie, body)
		if !ok {
			return
		}
		checkResponse(t, w, p)
		if strings.Contains(w.Body.String(), "<script>alert(") {
			t.Fatalf("%s reflects a script: %s", p, w.Body.String())
		}
	})
}
