// Package node_test checks Gatehouse against the official WorkOS Node SDK:
// it starts the real server on loopback for each storage backend and runs
// the node:test files in this directory against it.
//
// The SDK is pinned in package.json and package-lock.json; install it with
//
//	npm ci --prefix test/node
//
// PostgreSQL runs only when GATEHOUSE_TEST_POSTGRES_URL is set (see pgtest).
package node_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// nodeTimeout bounds one run of the Node tests.
const nodeTimeout = 5 * time.Minute

// cheapParams make password hashing fast; the tests are about the wire
// format, not hashing cost.
var cheapParams = password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestUsersSDK(t *testing.T) {
	node := requireNode(t)
	t.Run("sqlite", func(t *testing.T) {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		runNode(t, node, db, "users.test.mjs")
	})
	t.Run("postgres", func(t *testing.T) {
		runNode(t, node, pgtest.New(t), "users.test.mjs")
	})
}

// requireNode returns the node binary, failing (never skipping) when node or
// the pinned SDK is missing.
func requireNode(t *testing.T) string {
	t.Helper()
	const fix = "run `npm ci --prefix test/node` (needs Node.js 20 or later on PATH)"
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH: %v; install Node.js, then %s", err, fix)
	}
	if _, err := os.Stat(filepath.Join("node_modules", "@workos-inc", "node", "package.json")); err != nil {
		t.Fatalf("the WorkOS Node SDK is not installed (%v): %s", err, fix)
	}
	return node
}

// runNode serves Gatehouse on st over real HTTP on loopback, makes an
// environment and API key, and runs one node:test file against it.
func runNode(t *testing.T, node string, st store.Store, file string) {
	t.Helper()
	key, _ := secretbox.ParseKey(secretbox.GenerateKey())
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	srv := server.New(server.Deps{
		Store:   st,
		Box:     box,
		Hasher:  password.NewHasher(cheapParams, 0),
		Logger:  slog.New(slog.NewTextHandler(t.Output(), nil)),
		BaseURL: "http://" + ts.Listener.Addr().String(),
	})
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)
	host, port, err := net.SplitHostPort(ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}

	ctx := t.Context()
	env, err := srv.Environments.Create(ctx, "Compat", store.Development)
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := srv.Environments.CreateAPIKey(ctx, env, "node-sdk")
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(ctx, nodeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", file)
	cmd.Env = append(os.Environ(),
		"GATEHOUSE_HOST="+host,
		"GATEHOUSE_PORT="+port,
		"WORKOS_API_KEY="+secret,
		"WORKOS_CLIENT_ID="+env.ClientID,
		"NO_COLOR=1",
	)
	cmd.Stdout = t.Output()
	cmd.Stderr = t.Output()
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("node --test %s did not finish within %v", file, nodeTimeout)
		}
		t.Fatalf("node --test %s failed: %v (its output is above)", file, err)
	}
}
