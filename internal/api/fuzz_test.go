package api_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

type fuzzServer struct {
	srv *server.Server
	env *store.Environment
	key string
}

// newFuzzServer starts the real server (no network) on SQLite with one
// environment, an API key and a user.
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
	srv := server.New(server.Deps{Store: db, Box: box, BaseURL: "http://gatehouse.test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Hasher: password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 0)})
	env, err := srv.Environments.Create(ctx, "Fuzz", store.Development)
	if err != nil {
		f.Fatal(err)
	}
	key, _, err := srv.Environments.CreateAPIKey(ctx, env, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	return &fuzzServer{srv: srv, env: env, key: key}
}

func (s *fuzzServer) serve(method, target, contentType, auth, body string) (*httptest.ResponseRecorder, bool) {
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
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	s.srv.ServeHTTP(w, req)
	return w, true
}

// checkJSON fails on a server error or a response that is not JSON.
func checkJSON(t *testing.T, w *httptest.ResponseRecorder, what string) map[string]any {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("%s: %d %s", what, w.Code, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: Content-Type %q", what, ct)
	}
	if w.Code == http.StatusNoContent {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("%s: %d body %q is not a JSON object", what, w.Code, w.Body.String())
	}
	return m
}

// FuzzAuthenticate posts arbitrary bodies to /user_management/authenticate
// as JSON or a form: never a server error, always a JSON answer, and no
// tokens for credentials the fuzzer cannot know.
func FuzzAuthenticate(f *testing.F) {
	s := newFuzzServer(f)
	for _, b := range []struct{ ct, body string }{
		{"application/json", `{"grant_type":"password","client_id":"CLIENT","client_secret":"KEY","email":"nobody@example.com","password":"x"}`},
		{"application/json", `{"grant_type":"authorization_code","client_id":"CLIENT","code":"abc","code_verifier":"` + strings.Repeat("v", 43) + `"}`},
		{"application/json", `{"grant_type":"refresh_token","client_id":"CLIENT","refresh_token":"\u0000"}`},
		{"application/x-www-form-urlencoded", "grant_type=password&client_id=CLIENT&client_secret=KEY&email=%FF&password=%00"},
		{"application/x-www-form-urlencoded", "grant_type=urn%3Aworkos%3Aoauth%3Agrant-type%3Aemail-verification%3Acode&client_id=CLIENT&code=1&pending_authentication_token=x"},
		{"application/json", `{"grant_type":"urn:workos:oauth:grant-type:magic-auth:code","client_id":"CLIENT","client_secret":"KEY","email":"a@b.co","code":"000000"}`},
		{"application/json", `{"client_id":["x"]}`}, {"text/plain", `{}`}, {"", `{"grant_type":`}, {"application/json", "{\"client_id\":\"\xff\"}"},
	} {
		f.Add(b.ct, b.body)
	}
	f.Fuzz(func(t *testing.T, contentType, body string) {
		body = strings.NewReplacer("CLIENT", s.env.ClientID, "KEY", s.key).Replace(body)
		w, ok := s.serve("POST", "/user_management/authenticate", contentType, "", body)
		if !ok {
			return
		}
		m := checkJSON(t, w, "authenticate")
		if w.Code == 200 || m["access_token"] != nil {
			t.Fatalf("authenticate %q gave tokens: %s", body, w.Body.String())
		}
	})
}

// FuzzUsersAPI sends arbitrary methods, paths, queries and bodies to the
// management API with a valid key: never a server error, always JSON.
func FuzzUsersAPI(f *testing.F) {
	s := newFuzzServer(f)
	f.Add("GET", "users", "limit=5&order=asc&after=user_01", "")
	f.Add("POST", "users", "", `{"email":"ada@example.com","password":"correct horse battery staple","metadata":{"a":"b"}}`)
	f.Add("PUT", "users/user_01ARZ3NDEKTSV4RRFFQ69G5FAV", "", `{"first_name":null,"metadata":{"a":null}}`)
	f.Add("GET", "users/external_id/%00", "", "")
	f.Add("GET", "users/x/sessions", "before=%27+OR+1%3D1", "")
	f.Add("POST", "magic_auth", "", `{"email":"eve@example.com"}`)
	f.Add("POST", "password_reset/confirm", "", `{"token":"x","new_password":"y"}`)
	f.Add("DELETE", "users/%FF", "", "")
	f.Add("POST", "sessions/revoke", "", `{"session_id":"'; DROP TABLE sessions; --"}`)
	f.Fuzz(func(t *testing.T, method, path, query, body string) {
		switch method {
		case "GET", "POST", "PUT", "DELETE", "PATCH":
		default:
			return
		}
		if strings.Contains(path, "authorize") || strings.Contains(path, "logout") {
			return // hosted (HTML) routes under the same prefix
		}
		target := "/user_management/" + path
		if query != "" {
			target += "?" + query
		}
		w, ok := s.serve(method, target, "application/json", "Bearer "+s.key, body)
		if !ok {
			return
		}
		if w.Code >= 300 && w.Code < 400 {
			// The mux redirects unclean paths to their clean form on this server.
			if loc := w.Header().Get("Location"); !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") {
				t.Fatalf("%s %s: %d to %q", method, target, w.Code, loc)
			}
			return
		}
		checkJSON(t, w, method+" "+target)
	})
}
