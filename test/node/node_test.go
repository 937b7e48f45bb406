// Package node_test checks Gatehouse against the official WorkOS Node SDK:
// it starts the real server on loopback for each storage backend and runs
// the node:test files in this directory against it.
//
// The SDK is pinned in package.json and package-lock.json; install it with
//
//	npm ci --prefix test/node
//
// PostgreSQL runs only when GATEHOUSE_TEST_POSTGRES_URL is set (see pgtest).
//
// Emails are not sent: the server writes them to its outbox, and a small
// test-only HTTP server beside it (outboxHandler) lets the Node tests read
// the newest one to an address, as a person would read their inbox.
package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/sqlite/sqlitetest"
)

// nodeTimeout bounds one run of the Node tests.
const nodeTimeout = 5 * time.Minute

// cheapParams make password hashing fast; the tests are about the wire
// format, not hashing cost.
var cheapParams = password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestUsersSDK(t *testing.T) {
	runOnEachStore(t, "users.test.mjs")
}

// TestEmailSDK covers email verification, password reset and Magic Auth
// through the SDK, reading codes from the outbox.
func TestEmailSDK(t *testing.T) {
	runOnEachStore(t, "email.test.mjs")
}

// runOnEachStore runs one node:test file against a fresh SQLite store and a
// fresh PostgreSQL schema.
func runOnEachStore(t *testing.T, file string) {
	node := requireNode(t)
	t.Run("sqlite", func(t *testing.T) {
		db := sqlitetest.New(t)
		runNode(t, node, db, file)
	})
	t.Run("postgres", func(t *testing.T) {
		runNode(t, node, pgtest.New(t), file)
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
	outbox := httptest.NewServer(outboxHandler(st))
	t.Cleanup(outbox.Close)
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
		"GATEHOUSE_OUTBOX_URL="+outbox.URL,
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

// outboxEmail is what the outbox helper tells the Node tests about one
// address: how many emails it got and the newest, with the code or link
// picked out of its text.
type outboxEmail struct {
	Count  int           `json:"count"`
	Latest *outboxLatest `json:"latest"`
}

type outboxLatest struct {
	ID      string `json:"id"`
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	Code    string `json:"code"` // "" when the email has no code
	Link    string `json:"link"` // "" when the email has no link
}

var (
	// The code stands alone on an indented line of the text part.
	outboxCodeRE = regexp.MustCompile(`(?m)^[ \t]+(\d{6})[ \t]*$`)
	outboxLinkRE = regexp.MustCompile(`https?://[^\s]+`)
)

// outboxHandler serves GET /?to=ADDRESS from the store's outbox (test only;
// gatehouse dev has /_dev/inbox.json for the same purpose).
func outboxHandler(st store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		to := strings.ToLower(r.URL.Query().Get("to"))
		if r.Method != http.MethodGet || to == "" {
			http.Error(w, "GET /?to=ADDRESS", http.StatusBadRequest)
			return
		}
		var out outboxEmail
		after := ""
		for {
			page, err := st.ListEmails(r.Context(), "", store.ListParams{Limit: 100, After: after, Order: store.Desc})
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			for _, e := range page.Data {
				if strings.ToLower(e.To) != to {
					continue
				}
				out.Count++
				if out.Latest == nil {
					out.Latest = &outboxLatest{ID: e.ID, To: e.To, Subject: e.Subject, Text: e.Text}
					if m := outboxCodeRE.FindStringSubmatch(e.Text); m != nil {
						out.Latest.Code = m[1]
					}
					out.Latest.Link = outboxLinkRE.FindString(e.Text)
				}
			}
			if page.After == "" {
				break
			}
			after = page.After
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	})
}
