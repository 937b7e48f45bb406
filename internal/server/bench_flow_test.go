package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authflow"
	"github.com/gatehouse/gatehouse/internal/environments"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/users"
)

// Flow benchmarks (issue 3). Run with:
//
//	GATEHOUSE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test ./internal/server/ -run '^$' -bench 'Ceiling|CodeExchange|Refresh|JWKS|PasswordSignIn|Argon2' -benchtime 3s
//
// Compare each figure with BenchmarkCeiling from the same run.

type flowBench struct {
	url    string
	srv    *server.Server
	env    *store.Environment
	key    string
	client *http.Client
}

func newFlowBench(b *testing.B, st store.Store, alg string, hasher *password.Hasher) *flowBench {
	b.Helper()
	hs := httptest.NewUnstartedServer(nil)
	srv := server.New(server.Deps{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Hasher: hasher,
		Box: newBox(b), BaseURL: "http://" + hs.Listener.Addr().String()})
	hs.Config.Handler = srv
	hs.Start()
	b.Cleanup(hs.Close)
	ctx := b.Context()
	env, err := srv.Environments.Create(ctx, "Bench", store.Development)
	if err != nil {
		b.Fatal(err)
	}
	if env, err = srv.Environments.UpdateSettings(ctx, env, environments.SettingsInput{SigningAlgorithm: &alg}); err != nil {
		b.Fatal(err)
	}
	if _, err := srv.Environments.AddRedirect(ctx, env, store.RedirectURI, callback, true); err != nil {
		b.Fatal(err)
	}
	key, _, err := srv.Environments.CreateAPIKey(ctx, env, "bench")
	if err != nil {
		b.Fatal(err)
	}
	client := hs.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 512
	return &flowBench{url: hs.URL, srv: srv, env: env, key: key, client: client}
}

// codes makes n authorization codes for one user through the domain
// (no password hashing), outside the timed part.
func (f *flowBench) codes(b *testing.B, n int) []string {
	b.Helper()
	ctx := b.Context()
	u, err := f.srv.Users.Create(ctx, f.env.ID, usersInput(fmt.Sprintf("bench-%d@example.com", seq.Add(1))))
	if err != nil {
		b.Fatal(err)
	}
	out := make([]string, 0, n)
	for range n {
		_, req, err := f.srv.Flow.CheckAuthorization(ctx, authflow.AuthorizeParams{ClientID: f.env.ClientID, RedirectURI: callback,
			ResponseType: "code", Provider: "authkit"})
		if err != nil {
			b.Fatal(err)
		}
		to, err := f.srv.Flow.Grant(ctx, f.env, req, u, "", "password", authflow.Client{IP: "127.0.0.1"})
		if err != nil {
			b.Fatal(err)
		}
		_, code, _ := bytesCut(to, "code=")
		out = append(out, code)
	}
	return out
}

func bytesCut(s, sep string) (string, string, bool) {
	i := bytes.Index([]byte(s), []byte(sep))
	if i < 0 {
		return s, "", false
	}
	rest := s[i+len(sep):]
	if j := bytes.IndexByte([]byte(rest), '&'); j >= 0 {
		rest = rest[:j]
	}
	return s[:i], rest, true
}

// post sends an authenticate request with body and, if idempotencyKey is
// set, that Idempotency-Key.
func (f *flowBench) post(b *testing.B, body map[string]any, idempotencyKey ...string) map[string]any {
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", f.url+"/user_management/authenticate", bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if len(idempotencyKey) > 0 {
		req.Header.Set("Idempotency-Key", idempotencyKey[0])
	}
	res, err := f.client.Do(req)
	if err != nil {
		b.Error(err)
		return nil
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	if res.StatusCode != 200 {
		b.Errorf("authenticate = %d %v", res.StatusCode, out)
		return nil
	}
	return out
}

// BenchmarkCodeExchange exchanges codes, without an Idempotency-Key and
// with a new one on every request (as the WorkOS Node SDK sends when its
// retries are on), whose response is then kept.
func BenchmarkCodeExchange(b *testing.B) {
	for _, keyed := range []bool{false, true} {
		b.Run(fmt.Sprintf("idempotency-key=%v", keyed), func(b *testing.B) {
			benchBackends(b, func(b *testing.B, st store.Store) {
				f := newFlowBench(b, st, "RS256", nil)
				codes := f.codes(b, b.N)
				var i atomic.Int64
				b.SetParallelism(4)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						n := i.Add(1) - 1
						body := map[string]any{"grant_type": "authorization_code", "client_id": f.env.ClientID, "client_secret": f.key, "code": codes[n]}
						if keyed {
							f.post(b, body, fmt.Sprintf("retry-bench-%d", n))
						} else {
							f.post(b, body)
						}
					}
				})
			})
		})
	}
}

// BenchmarkRefresh refreshes with one chain per client goroutine, each
// using the token the previous refresh returned.
func BenchmarkRefresh(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256"} {
		b.Run(alg, func(b *testing.B) {
			benchBackends(b, func(b *testing.B, st store.Store) {
				f := newFlowBench(b, st, alg, nil)
				const chains = 64
				tokens := make(chan string, chains)
				for _, code := range f.codes(b, chains) {
					out := f.post(b, map[string]any{"grant_type": "authorization_code", "client_id": f.env.ClientID, "client_secret": f.key, "code": code})
					tokens <- out["refresh_token"].(string)
				}
				b.SetParallelism(4)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					rt := <-tokens
					for pb.Next() {
						out := f.post(b, map[string]any{"grant_type": "refresh_token", "client_id": f.env.ClientID, "client_secret": f.key, "refresh_token": rt})
						if out != nil {
							rt = out["refresh_token"].(string)
						}
					}
				})
			})
		})
	}
}

func BenchmarkJWKS(b *testing.B) {
	benchBackends(b, func(b *testing.B, st store.Store) {
		f := newFlowBench(b, st, "RS256", nil)
		f.codes(b, 1)
		if _, err := f.srv.Keys.Signer(b.Context(), f.env); err != nil {
			b.Fatal(err)
		}
		b.SetParallelism(4)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				res, err := f.client.Get(f.url + "/sso/jwks/" + f.env.ClientID)
				if err != nil {
					b.Error(err)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		})
	})
}

// BenchmarkPasswordSignIn runs 200 concurrent password sign-ins (the
// password grant) at the default argon2id parameters and reports the peak
// Go heap, which the bounded hashing concurrency keeps small.
func BenchmarkPasswordSignIn(b *testing.B) {
	benchBackends(b, func(b *testing.B, st store.Store) {
		hasher := password.NewHasher(password.DefaultParams, 0)
		f := newFlowBench(b, st, "RS256", hasher)
		pw := "correct horse battery staple"
		in := usersInput("signin@example.com")
		in.Password = &pw
		if _, err := f.srv.Users.Create(b.Context(), f.env.ID, in); err != nil {
			b.Fatal(err)
		}
		peak := samplePeakHeap(b.Context())
		runtime.GC()
		b.SetParallelism(100) // 100 × GOMAXPROCS(2) = 200 concurrent sign-ins
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				f.post(b, map[string]any{"grant_type": "password", "client_id": f.env.ClientID, "client_secret": f.key,
					"email": "signin@example.com", "password": pw, "ip_address": fmt.Sprintf("10.0.%d.%d", seq.Add(1)%250, seq.Load()%250)})
			}
		})
		b.StopTimer()
		b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MiB")
	})
}

// BenchmarkArgon2Alone is the hash rate at the same parameters with the
// same concurrency bound and no HTTP or database: the ceiling for sign-ins.
func BenchmarkArgon2Alone(b *testing.B) {
	h := password.NewHasher(password.DefaultParams, 0)
	enc, err := h.Hash(b.Context(), "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(100)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Verify(context.Background(), enc, "correct horse battery staple")
		}
	})
}

// samplePeakHeap samples the heap every few milliseconds until ctx ends
// and returns a function that reports the peak seen so far.
func samplePeakHeap(ctx context.Context) func() uint64 {
	var mu sync.Mutex
	var peak uint64
	go func() {
		var m runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				runtime.ReadMemStats(&m)
				mu.Lock()
				peak = max(peak, m.HeapInuse)
				mu.Unlock()
			}
		}
	}()
	return func() uint64 { mu.Lock(); defer mu.Unlock(); return peak }
}

func usersInput(email string) users.CreateInput { return users.CreateInput{Email: email} }
