package gatehouse

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks of what an app pays per request (no network: keys are
// generated here and the JWKS is served by a local httptest server that is
// fetched once, before the timer starts). Run them per core with
//
//	go test ./gatehouse -run '^$' -bench . -cpu 1,2
//
// Authenticate (unseal + JSON decode + signature verify) and Middleware
// (the same through net/http with a cookie) should cost little more than
// the primitives alone (IronUnseal + VerifyJWT).

// benchFixture is a session manager with a warm JWKS cache and a valid
// sealed session signed by key.
type benchFixture struct {
	m      *SessionManager
	key    *testKey
	vk     *verifyKey
	token  string
	sealed string
}

func benchUser() User {
	created := time.Date(2026, 11, 1, 12, 0, 0, 123e6, time.UTC)
	signIn := created.Add(48 * time.Hour)
	return User{ID: "user_01JD8ZQ5Y1N9W4T6K3H2G7F0EX", Email: "ada.lovelace@example.com", EmailVerified: true,
		FirstName: "Ada", LastName: "Lovelace", LastSignInAt: &signIn, Metadata: map[string]string{},
		CreatedAt: created, UpdatedAt: signIn}
}

// benchClaims are an access token's claims as Gatehouse issues them.
func benchClaims(exp time.Time) map[string]any {
	return map[string]any{"iss": "https://auth.example.com/user_management/client_01JD8ZQ5Y1N9W4T6K3H2G7F0EX",
		"sub": "user_01JD8ZQ5Y1N9W4T6K3H2G7F0EX", "sid": "session_01JD8ZQ5Y1N9W4T6K3H2G7F0EX",
		"jti": "jti_01JD8ZQ5Y1N9W4T6K3H2G7F0EX", "iat": exp.Add(-5 * time.Minute).Unix(), "exp": exp.Unix()}
}

func newBenchFixture(b *testing.B, key *testKey, base string) *benchFixture {
	b.Helper()
	c, err := NewClient(base, "sk_test_bench", "client_123")
	if err != nil {
		b.Fatal(err)
	}
	m, err := NewSessionManager(c, vectorPassword, SessionOptions{})
	if err != nil {
		b.Fatal(err)
	}
	f := &benchFixture{m: m, key: key}
	f.token = key.sign(b, benchClaims(time.Now().Add(time.Hour)))
	if f.sealed, err = m.Seal(&AuthResponse{User: benchUser(), AccessToken: f.token, RefreshToken: strings.Repeat("r", 43),
		AuthenticationMethod: "Password"}); err != nil {
		b.Fatal(err)
	}
	// Warm the JWKS cache: the only fetch.
	s, err := m.Authenticate(b.Context(), f.sealed)
	if err != nil || !s.Authenticated {
		b.Fatalf("warm-up: %+v, %v", s, err)
	}
	keys, _ := parseJWKS(jwksJSON(key))
	f.vk = keys[key.kid]
	f.vk.verified = nil // the primitive: every signature checked
	return f
}

// forget makes the session manager check every signature, as on the first
// request with each access token, instead of remembering those it has
// verified.
func (f *benchFixture) forget() {
	f.m.jwks.set.Load().keys[f.key.kid].verified = nil
}

func benchKeys(b *testing.B) []*testKey {
	return []*testKey{newRSAKey(b, "rs1"), newECKey(b, "ec1")}
}

// reportCPU reports the process CPU time per operation since start as
// "cpu-ns/op". On a shared machine it is steadier than wall time, and
// 1e9 / cpu-ns/op is the throughput of one core.
func reportCPU(b *testing.B, start time.Duration) {
	if d := cpuTime() - start; start > 0 && b.N > 0 {
		b.ReportMetric(float64(d)/float64(b.N), "cpu-ns/op")
	}
}

// run runs op serially and with RunParallel.
func run(b *testing.B, name string, op func() error) {
	b.Run(name+"/serial", func(b *testing.B) {
		b.ReportAllocs()
		start := cpuTime()
		for b.Loop() {
			if err := op(); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, start)
	})
	b.Run(name+"/parallel", func(b *testing.B) {
		b.ReportAllocs()
		start := cpuTime()
		defer reportCPU(b, start)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkPrimitives measures the two unavoidable costs alone: opening
// the iron seal, and verifying the JWS (header and claims decode plus the
// signature).
func BenchmarkPrimitives(b *testing.B) {
	keys := benchKeys(b)
	srv := newJWKSServer(b, keys...)
	for _, k := range keys {
		f := newBenchFixture(b, k, srv.URL)
		now := time.Now()
		if k.alg == algRS256 {
			run(b, "IronUnseal", func() error {
				_, err := unseal(vectorPassword, f.sealed, now)
				return err
			})
		}
		run(b, "VerifyJWT/"+k.alg, func() error {
			t, err := parseJWT(f.token)
			if err != nil {
				return err
			}
			return verifyJWT(t, f.vk, now, "")
		})
	}
}

// BenchmarkAuthenticate measures SessionManager.Authenticate of a valid
// sealed session: unseal, decode the session JSON, verify the token. The
// token's signature is checked once and then remembered (the steady
// state: a session sends the same token until it is refreshed); the
// "/first" runs check it every time, as on each token's first request.
func BenchmarkAuthenticate(b *testing.B) {
	keys := benchKeys(b)
	srv := newJWKSServer(b, keys...)
	for _, k := range keys {
		f := newBenchFixture(b, k, srv.URL)
		ctx := context.Background()
		op := func() error {
			s, err := f.m.Authenticate(ctx, f.sealed)
			if err == nil && !s.Authenticated {
				err = fmt.Errorf("not authenticated: %s", s.Reason)
			}
			return err
		}
		run(b, k.alg, op)
		f.forget()
		run(b, k.alg+"/first", op)
	}
	if n := srv.fetches.Load(); n != int32(len(keys)) {
		b.Fatalf("%d JWKS fetches, want one per fixture", n)
	}
}

// BenchmarkMiddleware measures a request with a valid session cookie
// through the middleware to a handler that reads the session, with the
// token's signature remembered and ("/first") checked every time.
func BenchmarkMiddleware(b *testing.B) {
	keys := benchKeys(b)
	srv := newJWKSServer(b, keys...)
	for _, k := range keys {
		f := newBenchFixture(b, k, srv.URL)
		h := f.m.Middleware(MiddlewareOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := SessionFromContext(r.Context()); !ok {
				w.WriteHeader(500)
			}
		}))
		cookie := DefaultCookieName + "=" + f.sealed
		op := func() error {
			r := httptest.NewRequest("GET", "/app", nil)
			r.Header.Set("Cookie", cookie)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				return fmt.Errorf("status %d", w.Code)
			}
			return nil
		}
		run(b, k.alg, op)
		f.forget()
		run(b, k.alg+"/first", op)
	}
}

// BenchmarkRefreshMiddleware measures a request whose access token has
// expired: the middleware authenticates it, refreshes it through a local
// fake of POST /user_management/authenticate (loopback HTTP, a canned
// response with a fresh refresh token each time; the fake is used only
// here: test/gosdk checks refresh against the real server), seals the new
// session, sets the cookie and calls the handler. Every iteration uses its
// own cookie, so nothing is served from the refresh memory.
func BenchmarkRefreshMiddleware(b *testing.B) {
	rs := newRSAKey(b, "rs1")
	fresh := rs.sign(b, benchClaims(time.Now().Add(time.Hour)))
	expired := rs.sign(b, benchClaims(time.Now().Add(-time.Minute)))
	user := `{"object":"user","id":"user_01JD8ZQ5Y1N9W4T6K3H2G7F0EX","email":"ada.lovelace@example.com","email_verified":true,` +
		`"first_name":"Ada","last_name":"Lovelace","name":null,"profile_picture_url":null,"last_sign_in_at":"2026-11-03T12:00:00.123Z",` +
		`"locale":null,"external_id":null,"metadata":{},"created_at":"2026-11-01T12:00:00.123Z","updated_at":"2026-11-03T12:00:00.123Z"}`
	var n atomic.Int64
	jwks := jwksJSON(rs)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/sso/jwks/client_123" {
			w.Write(jwks)
			return
		}
		io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, `{"user":%s,"access_token":%q,"refresh_token":"rt_%043d","authentication_method":"Password"}`, user, fresh, n.Add(1))
	}))
	b.Cleanup(srv.Close)
	c, _ := NewClient(srv.URL, "sk_test_bench", "client_123")
	m, _ := NewSessionManager(c, vectorPassword, SessionOptions{})
	h := m.Middleware(MiddlewareOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	seal := func(i int) string {
		s, err := m.Seal(&AuthResponse{User: benchUser(), AccessToken: expired, RefreshToken: fmt.Sprintf("old_%039d", i)})
		if err != nil {
			b.Fatal(err)
		}
		return DefaultCookieName + "=" + s
	}
	// Warm the JWKS cache and the connection.
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", seal(-1))
	h.ServeHTTP(httptest.NewRecorder(), r)

	b.Run("RS256/serial", func(b *testing.B) {
		b.ReportAllocs()
		cookies := make([]string, b.N)
		for i := range cookies {
			cookies[i] = seal(i)
		}
		b.ResetTimer()
		start := cpuTime()
		defer reportCPU(b, start)
		for i := 0; i < b.N; i++ {
			r := httptest.NewRequest("GET", "/app", nil)
			r.Header.Set("Cookie", cookies[i])
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 || !strings.Contains(w.Header().Get("Set-Cookie"), DefaultCookieName+"=Fe26.2") {
				b.Fatalf("status %d, Set-Cookie %q", w.Code, w.Header().Get("Set-Cookie"))
			}
		}
	})
}

// BenchmarkAuthenticateOverhead alternates Authenticate and the primitives
// (IronUnseal + VerifyJWT) on the same sealed session in one loop, timing
// each, so machine load affects both alike. It reports both costs and the
// overhead of Authenticate over the primitives (target: under 20%).
func BenchmarkAuthenticateOverhead(b *testing.B) {
	keys := benchKeys(b)
	srv := newJWKSServer(b, keys...)
	for _, k := range keys {
		f := newBenchFixture(b, k, srv.URL)
		f.forget() // the same work as the primitives
		ctx := context.Background()
		b.Run(k.alg, func(b *testing.B) {
			var auth, prim time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, err := unseal(vectorPassword, f.sealed, t0); err != nil {
					b.Fatal(err)
				}
				t, err := parseJWT(f.token)
				if err != nil {
					b.Fatal(err)
				}
				if err := verifyJWT(t, f.vk, t0, ""); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if s, err := f.m.Authenticate(ctx, f.sealed); err != nil || !s.Authenticated {
					b.Fatal(err)
				}
				t2 := time.Now()
				prim += t1.Sub(t0)
				auth += t2.Sub(t1)
			}
			b.ReportMetric(float64(auth)/float64(b.N), "auth-ns/op")
			b.ReportMetric(float64(prim)/float64(b.N), "primitives-ns/op")
			b.ReportMetric(100*(float64(auth)/float64(prim)-1), "overhead-%")
		})
	}
}
