package idempotency_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/idempotency"
	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/internal/store/sqlite/sqlitetest"
)

// newService returns a Service on a new SQLite file, and the file's store.
func newService(t *testing.T) (*idempotency.Service, *sqlite.DB) {
	t.Helper()
	db := sqlitetest.New(t)
	k, _ := secretbox.ParseKey(secretbox.GenerateKey())
	box, err := secretbox.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return &idempotency.Service{Store: db, Box: box, Now: time.Now, Wait: 300 * time.Millisecond}, db
}

func TestReplay(t *testing.T) {
	s, _ := newService(t)
	ctx := t.Context()
	const scope = "POST /user_management/authenticate"
	req := []byte(`{"grant_type":"authorization_code","code":"c1"}`)
	replay, claim, err := s.Begin(ctx, scope, "retry-1", req)
	if err != nil || replay != nil || claim == nil {
		t.Fatalf("first Begin: %v %v %v; want a claim", replay, claim, err)
	}
	want := idempotency.Response{Status: 200, Header: map[string][]string{"Content-Type": {"application/json"}}, Body: []byte(`{"refresh_token":"secret-rt"}`)}
	if err := claim.Finish(ctx, want); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		replay, claim, err = s.Begin(ctx, scope, "retry-1", req)
		if err != nil || claim != nil || replay == nil {
			t.Fatalf("retry: %v %v %v; want a replay", replay, claim, err)
		}
		if replay.Status != 200 || !bytes.Equal(replay.Body, want.Body) || replay.Header["Content-Type"][0] != "application/json" {
			t.Fatalf("replayed %+v, want %+v", replay, want)
		}
	}
	// Another request under the key is refused; the key in another scope,
	// or another key, is new.
	if _, _, err := s.Begin(ctx, scope, "retry-1", []byte(`{"grant_type":"authorization_code","code":"c2"}`)); !errors.Is(err, idempotency.ErrKeyReused) {
		t.Fatalf("same key, other request: %v, want ErrKeyReused", err)
	}
	for _, tc := range [][2]string{{"POST /elsewhere", "retry-1"}, {scope, "retry-2"}} {
		if replay, claim, err := s.Begin(ctx, tc[0], tc[1], req); err != nil || replay != nil || claim == nil {
			t.Fatalf("%s %s: %v %v %v; want a claim", tc[0], tc[1], replay, claim, err)
		}
	}
	// Keys are 1 to 255 bytes.
	for _, k := range []string{"", string(make([]byte, 256))} {
		if _, _, err := s.Begin(ctx, scope, k, req); err == nil {
			t.Errorf("a key of %d bytes was accepted", len(k))
		}
	}
}

// The kept response is sealed: the tokens in it are not in the database
// in clear.
func TestKeptResponseIsSealed(t *testing.T) {
	s, db := newService(t)
	_, claim, err := s.Begin(t.Context(), "scope", "key", []byte("request"))
	if err != nil {
		t.Fatal(err)
	}
	if err := claim.Finish(t.Context(), idempotency.Response{Status: 200, Body: []byte("refresh-token-in-clear")}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw := readFile(t, db.Path())
	for _, clear := range []string{"refresh-token-in-clear", base64.StdEncoding.EncodeToString([]byte("refresh-token-in-clear"))} {
		if bytes.Contains(raw, []byte(clear)) {
			t.Fatalf("the kept response is in the database file in clear (%s)", clear)
		}
	}
}

func TestRetryWhileTheFirstRuns(t *testing.T) {
	s, _ := newService(t)
	ctx := t.Context()
	_, claim, err := s.Begin(ctx, "scope", "k", []byte("r"))
	if err != nil {
		t.Fatal(err)
	}
	// Nothing finishes it: the retry gives up after Wait.
	if _, _, err := s.Begin(ctx, "scope", "k", []byte("r")); !errors.Is(err, idempotency.ErrInProgress) {
		t.Fatalf("retry while running: %v, want ErrInProgress", err)
	}
	// A retry waiting when the first finishes gets its response.
	s.Wait = 10 * time.Second
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(100 * time.Millisecond)
		if err := claim.Finish(ctx, idempotency.Response{Status: 400, Body: []byte(`{"error":"invalid_grant"}`)}); err != nil {
			t.Error(err)
		}
	}()
	replay, _, err := s.Begin(ctx, "scope", "k", []byte("r"))
	<-done
	if err != nil || replay == nil || replay.Status != 400 {
		t.Fatalf("waiting retry: %+v, %v; want the 400", replay, err)
	}
	// A released key runs again.
	_, claim, _ = s.Begin(ctx, "scope", "k2", []byte("r"))
	if err := claim.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if replay, claim, err := s.Begin(ctx, "scope", "k2", []byte("r")); err != nil || replay != nil || claim == nil {
		t.Fatalf("after release: %v %v %v; want a claim", replay, claim, err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	var all []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}
