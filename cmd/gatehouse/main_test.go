package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/tokens"
)

// syncBuffer is a bytes.Buffer safe to write from the server goroutine
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// startDev runs `gatehouse dev` on a free port and waits for the env file
// and for the box of credentials on stdout, which dev prints after it
// writes the file.
func startDev(t *testing.T, dir string, extra ...string) (vars map[string]string, stdout *syncBuffer, stop func() error) {
	t.Helper()
	envFile := filepath.Join(dir, "app.env")
	ctx, cancel := context.WithCancel(t.Context())
	stdout = &syncBuffer{}
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	args := append([]string{"dev", "--addr", "127.0.0.1:0", "--data", filepath.Join(dir, ".gatehouse"), "--env-file", envFile}, extra...)
	go func() { done <- run(ctx, args, env(nil), stdout, stderr) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err := os.ReadFile(envFile)
		if err == nil && bytes.Contains(b, []byte("WORKOS_COOKIE_PASSWORD=")) && strings.Contains(stdout.String(), "└") {
			vars = map[string]string{}
			sc := bufio.NewScanner(bytes.NewReader(b))
			for sc.Scan() {
				k, v, _ := strings.Cut(sc.Text(), "=")
				vars[k] = v
			}
			break
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("dev exited early: %v\nstderr: %s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("dev did not write its env file and print its box within 20s\nstdout: %s\nstderr: %s", stdout.String(), stderr.String())
		}
	}
	stop = func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("dev did not stop within 10s of cancel")
			return nil
		}
	}
	t.Cleanup(func() { cancel() })
	return vars, stdout, stop
}

func get(t *testing.T, url, key string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

func TestDevFirstStartAndRestart(t *testing.T) {
	dir := t.TempDir()
	// An existing app .env keeps its other lines.
	os.WriteFile(filepath.Join(dir, "app.env"), []byte("PORT=3000\nWORKOS_API_KEY=old\n"), 0o600)
	vars, out, stop := startDev(t, dir)
	for _, k := range []string{"GATEHOUSE_URL", "WORKOS_API_KEY", "WORKOS_CLIENT_ID", "WORKOS_COOKIE_PASSWORD"} {
		if vars[k] == "" {
			t.Fatalf("env file lacks %s: %v", k, vars)
		}
		if !strings.Contains(out.String(), vars[k]) {
			t.Errorf("the printed box lacks %s", k)
		}
	}
	if len(vars["WORKOS_COOKIE_PASSWORD"]) < 32 {
		t.Errorf("cookie password %q is shorter than 32", vars["WORKOS_COOKIE_PASSWORD"])
	}
	if !strings.HasPrefix(vars["WORKOS_API_KEY"], "sk_test_") || !strings.HasPrefix(vars["WORKOS_CLIENT_ID"], "client_") {
		t.Errorf("credentials = %v", vars)
	}
	if res := get(t, vars["GATEHOUSE_URL"]+"/user_management/users", vars["WORKOS_API_KEY"]); res.StatusCode != 200 {
		t.Fatalf("the printed API key does not work: %d", res.StatusCode)
	}
	st, _ := os.Stat(filepath.Join(dir, ".gatehouse", "gatehouse.db"))
	if st == nil || st.Mode().Perm() != 0o600 {
		t.Errorf("database file mode = %v, want 0600", st)
	}

	// The dev environment has the derived redirect settings.
	var adminOut syncBuffer
	t.Chdir(dir)
	if err := run(t.Context(), []string{"redirect-uris", "list", "--database-url", "sqlite://.gatehouse/gatehouse.db"}, env(nil), &adminOut, &adminOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(adminOut.String(), "* http://localhost:3000/callback") {
		t.Errorf("redirect URIs:\n%s", adminOut.String())
	}
	adminOut = syncBuffer{}
	run(t.Context(), []string{"sign-in-endpoint", "show", "--database-url", "sqlite://.gatehouse/gatehouse.db"}, env(nil), &adminOut, &adminOut)
	if strings.TrimSpace(adminOut.String()) != "http://localhost:3000/login" {
		t.Errorf("sign-in endpoint = %q", adminOut.String())
	}
	if err := stop(); err != nil {
		t.Fatalf("dev stopped with %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "app.env"))
	if !strings.Contains(string(b), "PORT=3000") || strings.Contains(string(b), "WORKOS_API_KEY=old") {
		t.Errorf("env file = %s", b)
	}

	// A restart reuses the environment, keys and data.
	os.Remove(filepath.Join(dir, "app.env"))
	vars2, out2, stop2 := startDev(t, dir)
	defer stop2()
	for _, k := range []string{"WORKOS_API_KEY", "WORKOS_CLIENT_ID", "WORKOS_COOKIE_PASSWORD"} {
		if vars2[k] != vars[k] {
			t.Errorf("%s changed across restart: %q → %q", k, vars[k], vars2[k])
		}
	}
	if !strings.Contains(out2.String(), "reusing") {
		t.Errorf("restart box does not say it reused the environment:\n%s", out2.String())
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	var out, errOut syncBuffer
	err := run(t.Context(), []string{"serve"}, env(map[string]string{"GATEHOUSE_ADDR": "nonsense", "GATEHOUSE_LOG_LEVEL": "loud"}), &out, &errOut)
	if err == nil {
		t.Fatal("serve started without a database or secret key")
	}
	msg := err.Error()
	// Every problem is reported at once, each with what to do.
	for _, want := range []string{"GATEHOUSE_DATABASE_URL is not set", "GATEHOUSE_SECRET_KEY is not set", "gatehouse keygen", "GATEHOUSE_ADDR", "GATEHOUSE_LOG_LEVEL",
		"GATEHOUSE_SMTP_URL is not set", "GATEHOUSE_MAIL_FROM is not set", "GATEHOUSE_PUBLIC_URL is not set"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	err = run(t.Context(), []string{"serve"}, env(map[string]string{"GATEHOUSE_DATABASE_URL": "mysql://x", "GATEHOUSE_SECRET_KEY": "too-short"}), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "sqlite:// or postgres://") || !strings.Contains(err.Error(), "32 random bytes") {
		t.Fatalf("err = %v", err)
	}
}

func TestServeWrongSecretKey(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "g.db")
	ctx, cancel := context.WithCancel(t.Context())
	vars := map[string]string{"GATEHOUSE_DATABASE_URL": db, "GATEHOUSE_SECRET_KEY": secretbox.GenerateKey(), "GATEHOUSE_ADDR": "127.0.0.1:0", "GATEHOUSE_PUBLIC_URL": "http://127.0.0.1", "GATEHOUSE_SMTP_URL": "smtp://127.0.0.1:2525?tls=none", "GATEHOUSE_MAIL_FROM": "auth@example.com"}
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, env(vars), &out, &errOut) }()
	for !strings.Contains(errOut.String(), "listening") {
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("graceful stop returned %v", err)
	}
	vars["GATEHOUSE_SECRET_KEY"] = secretbox.GenerateKey()
	err := run(t.Context(), []string{"serve"}, env(vars), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("serve with another key: %v", err)
	}
}

func TestServeRefusesABadHashCgroup(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"GATEHOUSE_DATABASE_URL": "sqlite://" + filepath.Join(dir, "g.db"), "GATEHOUSE_SECRET_KEY": secretbox.GenerateKey(), "GATEHOUSE_ADDR": "127.0.0.1:0", "GATEHOUSE_PUBLIC_URL": "http://127.0.0.1", "GATEHOUSE_SMTP_URL": "smtp://127.0.0.1:2525?tls=none", "GATEHOUSE_MAIL_FROM": "auth@example.com",
		"GATEHOUSE_HASH_CGROUP": dir} // a directory, but not a cgroup
	var out, errOut syncBuffer
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // if it starts anyway, it stops
	defer cancel()
	err := run(ctx, []string{"serve"}, env(vars), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_HASH_CGROUP") || !strings.Contains(err.Error(), "docs/performance.md") {
		t.Fatalf("serve with a directory that is not a cgroup: %v", err)
	}
}

// startServe runs `gatehouse serve` on SQLite in dir with JSON logs, with
// vars added to its environment, and waits until it listens.
func startServe(t *testing.T, dir string, vars map[string]string) (addr string, errOut *syncBuffer, cancel func(), done <-chan error) {
	t.Helper()
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte(secretbox.GenerateKey()), 0o600)
	all := map[string]string{"GATEHOUSE_DATABASE_URL": "sqlite://" + filepath.Join(dir, "g.db"), "GATEHOUSE_SECRET_KEY_FILE": keyFile, "GATEHOUSE_PUBLIC_URL": "http://127.0.0.1", "GATEHOUSE_SMTP_URL": "smtp://127.0.0.1:2525?tls=none", "GATEHOUSE_MAIL_FROM": "auth@example.com"}
	for k, v := range vars {
		all[k] = v
	}
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	var out syncBuffer
	errOut = &syncBuffer{}
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, env(all), &out, errOut)
	}()
	for addr == "" {
		for _, line := range strings.Split(errOut.String(), "\n") {
			if strings.Contains(line, `"msg":"listening"`) {
				_, rest, _ := strings.Cut(line, `"addr":"`)
				addr, _, _ = strings.Cut(rest, `"`)
			}
		}
		select {
		case err := <-errc:
			t.Fatalf("serve exited: %v\n%s", err, errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return addr, errOut, cancel, errc
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	addr, errOut, cancel, done := startServe(t, t.TempDir(), nil)
	// Open a slow request (a body that arrives late), then ask to stop.
	pr, pw := newSlowBody()
	resc := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", "http://"+addr+"/user_management/users", pr)
		req.Header.Set("Authorization", "Bearer sk_test_none")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			resc <- -1
			return
		}
		res.Body.Close()
		resc <- res.StatusCode
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	time.Sleep(100 * time.Millisecond)
	pw.Write([]byte(`{}`))
	pw.Close()
	if code := <-resc; code != 401 {
		t.Fatalf("in-flight request got %d, want its normal 401 answer", code)
	}
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
	if !strings.Contains(errOut.String(), "stopped") {
		t.Errorf("no stop log:\n%s", errOut.String())
	}
}

// A GOMAXPROCS gone stale (as when a container's CPU limit changes, which
// the runtime no longer follows once GOMAXPROCS is set) is brought back to
// the runtime's default plus the hash slots, and the change is logged.
func TestHashProcessorsFollowDefault(t *testing.T) {
	defer func(d time.Duration) { hashProcsCheck = d }(hashProcsCheck)
	hashProcsCheck = 10 * time.Millisecond
	runtime.SetDefaultGOMAXPROCS()
	def := runtime.GOMAXPROCS(0)
	var logs syncBuffer
	procs, added, restore := addHashProcessors(2, env(nil), newLogger(&logs, "info", "json"))
	if procs != def+2 || !added {
		t.Fatalf("addHashProcessors = %d, %v; want %d, true", procs, added, def+2)
	}
	runtime.GOMAXPROCS(def + 7)
	for deadline := time.Now().Add(5 * time.Second); runtime.GOMAXPROCS(0) != def+2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			restore()
			t.Fatalf("GOMAXPROCS stayed %d, want %d", runtime.GOMAXPROCS(0), def+2)
		}
	}
	restore()
	if got := runtime.GOMAXPROCS(0); got != def {
		t.Errorf("GOMAXPROCS after restore = %d, want the default %d", got, def)
	}
	if want := fmt.Sprintf(`"gomaxprocs":%d`, def+2); !strings.Contains(logs.String(), "follows the CPU limit") || !strings.Contains(logs.String(), want) {
		t.Errorf("no log of the change with %s:\n%s", want, logs.String())
	}
}

// serve on SQLite exports the group commit's counters and the log's
// length through its store cache; PostgreSQL has neither (internal/server's
// tests).
func TestServeExportsSQLiteMetrics(t *testing.T) {
	addr, _, cancel, done := startServe(t, t.TempDir(), nil)
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, m := range []string{"gatehouse_sqlite_commits_total ", "gatehouse_sqlite_commit_writes_total ", "gatehouse_sqlite_wal_frames "} {
		if !strings.Contains(string(b), "\n"+m) {
			t.Errorf("metrics lack %s", m)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
}

// serve gives each hash slot a processor of its own on top of GOMAXPROCS,
// unless the operator set GOMAXPROCS, and gives the runtime its default
// back when it stops.
func TestServeAddsHashProcessors(t *testing.T) {
	runtime.SetDefaultGOMAXPROCS()
	def := runtime.GOMAXPROCS(0)
	for _, tc := range []struct {
		name string
		vars map[string]string
		want int
	}{
		{"default", map[string]string{"GATEHOUSE_HASH_CONCURRENCY": "3"}, def + 3},
		{"GOMAXPROCS set", map[string]string{"GATEHOUSE_HASH_CONCURRENCY": "3", "GOMAXPROCS": "7"}, def},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, cancel, done := startServe(t, t.TempDir(), tc.vars)
			if got := runtime.GOMAXPROCS(0); got != tc.want {
				t.Errorf("GOMAXPROCS while serving = %d, want %d", got, tc.want)
			}
			if logged := fmt.Sprintf(`"slots":3,"gomaxprocs":%d,"own_processors":%t`, tc.want, tc.want != def); !strings.Contains(errOut.String(), logged) {
				t.Errorf("no log with %s:\n%s", logged, errOut.String())
			}
			if logged := `"msg":"RS256 signatures","signer":"` + tokens.RSASigner() + `"`; !strings.Contains(errOut.String(), logged) {
				t.Errorf("no log with %s:\n%s", logged, errOut.String())
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("serve returned %v", err)
			}
			if got := runtime.GOMAXPROCS(0); got != def {
				t.Errorf("GOMAXPROCS after serve = %d, want the default %d back", got, def)
			}
		})
	}
}
