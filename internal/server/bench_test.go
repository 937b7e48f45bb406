package server_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/sqlite/sqlitetest"
)

// Run with:
//
//	GATEHOUSE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test ./internal/server/ -run '^$' -bench . -benchtime 3s -count 3
//
// Every figure is over real HTTP on loopback with keep-alive, 4 concurrent
// clients per core. "ceiling" is a bare net/http JSON handler on the same
// machine in the same run, so results can be read as ratios.

func benchBackends(b *testing.B, fn func(b *testing.B, st store.Store)) {
	b.Run("sqlite", func(b *testing.B) {
		db := sqlitetest.New(b)
		fn(b, db)
	})
	b.Run("postgres", func(b *testing.B) { fn(b, pgtest.New(b)) })
}

func benchServer(b *testing.B, st store.Store, hasher *password.Hasher) (url, key string, client *http.Client) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := server.New(server.Deps{Store: st, Logger: logger, Hasher: hasher, Box: newBox(b), BaseURL: "http://127.0.0.1"})
	hs := httptest.NewServer(srv)
	b.Cleanup(hs.Close)
	env, err := srv.Environments.Create(b.Context(), "Bench", store.Development)
	if err != nil {
		b.Fatal(err)
	}
	key, _, err = srv.Environments.CreateAPIKey(b.Context(), env, "bench")
	if err != nil {
		b.Fatal(err)
	}
	client = hs.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	return hs.URL, key, client
}

func call(b *testing.B, client *http.Client, method, url, key, body string, want int) {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != want {
		b.Errorf("%s %s = %d, want %d", method, url, res.StatusCode, want)
	}
}

func BenchmarkCeiling(b *testing.B) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"object":"user","id":"user_01ARYZ6S41TSV4RRFFQ69G5FAV","email":"x@example.com"}`))
	}))
	defer hs.Close()
	client := hs.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			call(b, client, "GET", hs.URL+"/", "", "", 200)
		}
	})
}

var seq atomic.Int64

func BenchmarkUserCreate(b *testing.B) {
	benchBackends(b, func(b *testing.B, st store.Store) {
		url, key, client := benchServer(b, st, nil)
		b.SetParallelism(4)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				body := fmt.Sprintf(`{"email":"bench-%d@example.com","first_name":"Bench","metadata":{"plan":"pro"}}`, seq.Add(1))
				call(b, client, "POST", url+"/user_management/users", key, body, 201)
			}
		})
	})
}

// BenchmarkUserCreateWithPassword includes an argon2id hash at the default
// parameters, which dominates; compare with BenchmarkHash in package password.
func BenchmarkUserCreateWithPassword(b *testing.B) {
	benchBackends(b, func(b *testing.B, st store.Store) {
		url, key, client := benchServer(b, st, password.NewHasher(password.DefaultParams, 0))
		b.SetParallelism(4)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				body := fmt.Sprintf(`{"email":"pw-%d@example.com","password":"a long bench passphrase"}`, seq.Add(1))
				call(b, client, "POST", url+"/user_management/users", key, body, 201)
			}
		})
	})
}

func BenchmarkUserGet(b *testing.B) {
	benchBackends(b, func(b *testing.B, st store.Store) {
		url, key, client := benchServer(b, st, nil)
		// 1,000 users; gets spread over them.
		var ids []string
		for i := range 1000 {
			req, _ := http.NewRequest("POST", url+"/user_management/users", strings.NewReader(fmt.Sprintf(`{"email":"get-%d@example.com"}`, i)))
			req.Header.Set("Authorization", "Bearer "+key)
			res, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			_, rest, _ := strings.Cut(string(body), `"id":"`)
			id, _, _ := strings.Cut(rest, `"`)
			ids = append(ids, id)
		}
		var n atomic.Int64
		b.SetParallelism(4)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				id := ids[n.Add(1)%int64(len(ids))]
				call(b, client, "GET", url+"/user_management/users/"+id, key, "", 200)
			}
		})
	})
}
