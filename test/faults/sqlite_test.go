package faults

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// Storm shape: 16 clients. The first 6 create users through the Users API
// with a password (argon2id hashing, so few a second), the next 6 with an
// imported argon2id hash (no hashing: many writes a second, so the kill
// lands among writes), and the last 4 first do hosted sign-ups (at most 2
// each: every one sends a verification email, and email is limited to 10 a
// minute per client IP), then create with a password.
const (
	stormClients        = 16
	stormPasswordUntil  = 6  // clients [0, 6) send passwords
	stormImportUntil    = 12 // clients [6, 12) send imported hashes
	stormHostedClients  = 4
	stormHostedEach     = 2
	stormMaxPerClient   = 3000             // bounds each client's loop
	stormMaxDuration    = 15 * time.Second // bounds the whole storm
	stormKillAfter      = 2500 * time.Millisecond
	stormMinAckedToKill = 16
)

// signUp is one attempted sign-up and what came of it.
type signUp struct {
	Client  int
	Seq     int
	Hosted  bool
	Import  bool // an imported password hash instead of a password
	Email   string
	First   string
	Last    string
	Meta    map[string]string
	Status  int    // 0 when no response came back
	ID      string // from a 201
	Err     error
	Started time.Time
	Ended   time.Time
}

func (s *signUp) acked() bool {
	if s.Hosted {
		return s.Status == http.StatusSeeOther
	}
	return s.Status == http.StatusCreated
}

func TestSQLiteKillDuringSignUpStorm(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "gatehouse.db")
	dbURL := "sqlite://" + dbPath
	key := secretbox.GenerateKey()
	sink := startSink(t)
	a := setupApp(t, dbURL, key, "Storm")
	cfg := serveConfig{DatabaseURL: dbURL, SecretKey: key, SMTPURL: sink.URL()}
	srv := startServe(t, "sqlite-before-kill", cfg)
	imported, err := password.NewHasher(password.DefaultParams, 0).Hash(t.Context(), userPassword)
	if err != nil {
		t.Fatal(err)
	}

	// The storm.
	var (
		mu       sync.Mutex
		attempts []*signUp
		acked    atomic.Int64
		stop     atomic.Bool
		wg       sync.WaitGroup
	)
	record := func(s *signUp) {
		mu.Lock()
		attempts = append(attempts, s)
		mu.Unlock()
		if s.acked() {
			acked.Add(1)
		}
	}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: stormClients}}
	stormStart := time.Now()
	for c := range stormClients {
		wg.Go(func() {
			hostedLeft := 0
			if c >= stormClients-stormHostedClients {
				hostedLeft = stormHostedEach
			}
			for seq := 0; seq < stormMaxPerClient && !stop.Load() && time.Since(stormStart) < stormMaxDuration; seq++ {
				s := &signUp{Client: c, Seq: seq, Email: fmt.Sprintf("storm-%02d-%03d@example.com", c, seq),
					First: fmt.Sprintf("Client%02d", c), Last: fmt.Sprintf("Seq%03d", seq),
					Meta: map[string]string{"client": fmt.Sprint(c), "seq": fmt.Sprint(seq)}}
				if hostedLeft > 0 {
					hostedLeft--
					s.Hosted = true
					if !hostedSignUp(srv.URL, a, s) {
						continue // stopped before the form was sent: no sign-up attempted
					}
				} else {
					body := map[string]any{"email": s.Email, "email_verified": true,
						"first_name": s.First, "last_name": s.Last, "metadata": s.Meta}
					if c >= stormPasswordUntil && c < stormImportUntil {
						s.Import = true
						body["password_hash"], body["password_hash_type"] = imported, "argon2"
					} else {
						body["password"] = userPassword
					}
					s.Started = time.Now()
					r := call(client, "POST", srv.URL+"/user_management/users", a.APIKey, body)
					s.Ended = time.Now()
					s.Status, s.Err, s.ID = r.Status, r.Err, str(r.Body, "id")
				}
				record(s)
			}
		})
	}
	// Kill mid-storm: after stormKillAfter and once some sign-ups are in.
	for time.Since(stormStart) < stormKillAfter || acked.Load() < stormMinAckedToKill {
		if time.Since(stormStart) > stormMaxDuration-2*time.Second {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop.Store(true) // no new sign-ups; those in flight meet the kill
	killAt := time.Now()
	srv.kill()
	wg.Wait()
	if ws, ok := srv.cmd.ProcessState.Sys().(interface{ Signaled() bool }); !ok || !ws.Signaled() {
		t.Errorf("the server was not killed by a signal: %v", srv.cmd.ProcessState)
	}

	// Tally.
	var sent, ack, transportErrs, inFlightAtKill, hostedSent, hostedAcked, importSent, importAcked int
	otherStatus := map[int]int{}
	byEmail := map[string]*signUp{}
	for _, s := range attempts {
		sent++
		byEmail[s.Email] = s
		if s.Hosted {
			hostedSent++
		}
		if s.Import {
			importSent++
		}
		switch {
		case s.acked():
			ack++
			if s.Hosted {
				hostedAcked++
			}
			if s.Import {
				importAcked++
			}
		case s.Err != nil:
			transportErrs++
		default:
			otherStatus[s.Status]++
		}
		if s.Err != nil && !s.Started.After(killAt) {
			inFlightAtKill++
		}
	}
	t.Logf("storm: %d clients for %s before kill -9; sign-ups sent %d (hosted %d, imported hash %d), acknowledged %d (hosted %d, imported hash %d), transport errors %d (%d in flight at the kill), other statuses %v",
		stormClients, killAt.Sub(stormStart).Round(time.Millisecond), sent, hostedSent, importSent, ack, hostedAcked, importAcked, transportErrs, inFlightAtKill, otherStatus)
	if ack < stormMinAckedToKill {
		t.Fatalf("only %d sign-ups were acknowledged before the kill; the storm did not get going\n%s", ack, srv.logTail(30))
	}
	for st, n := range otherStatus {
		t.Errorf("%d sign-ups got status %d before the kill (want only 201/303 or no answer)", n, st)
	}

	// The file after the crash, before anything reopens it for writing.
	ctx := t.Context()
	rows := checkSQLiteFile(t, ctx, dbPath, a.EnvID)
	found := 0
	for email, row := range rows {
		if !strings.HasPrefix(email, "storm-") {
			continue
		}
		found++
		s := byEmail[email]
		switch {
		case s == nil:
			t.Errorf("user %s (%s) exists but was never sent", row.ID, email)
		case s.acked():
		case s.Err == nil:
			t.Errorf("user %s exists although its sign-up was answered %d", email, s.Status)
		}
	}
	unackedFound := found - ack
	t.Logf("after the crash: %d storm users in the file: %d acknowledged + %d whose answer the kill swallowed (of %d unanswered)",
		found, ack, unackedFound, transportErrs)

	// Restart on the same file.
	srv2 := startServe(t, "sqlite-after-restart", cfg)
	if r := call(apiClient, "GET", srv2.URL+"/readyz", "", nil); r.Status != 200 {
		t.Fatalf("readyz after restart: %s", r)
	}
	var (
		checkWG  sync.WaitGroup
		missing  atomic.Int64
		verified atomic.Int64
		jobs     = make(chan *signUp)
	)
	for range 8 {
		checkWG.Go(func() {
			for s := range jobs {
				if err := checkAcked(srv2.URL, a.APIKey, s); err != nil {
					missing.Add(1)
					t.Errorf("acknowledged sign-up %s: %v", s.Email, err)
				} else {
					verified.Add(1)
				}
			}
		})
	}
	for _, s := range attempts {
		if s.acked() {
			jobs <- s
		}
	}
	close(jobs)
	checkWG.Wait()
	t.Logf("after restart: %d of %d acknowledged sign-ups found by ID and by email with their fields, %d missing or wrong",
		verified.Load(), ack, missing.Load())

	// Their passwords work: the stored hashes are whole.
	signIns := map[bool]int{}
	for _, s := range attempts {
		if s.acked() && !s.Hosted && signIns[s.Import] < 2 {
			signIns[s.Import]++
			if r := passwordGrant(apiClient, srv2.URL, a, s.Email, userPassword); r.Status != 200 {
				t.Errorf("password sign-in of acknowledged user %s after restart: %s", s.Email, r)
			}
		}
	}
	// And the server takes new sign-ups.
	id := createUser(t, srv2.URL, a.APIKey, "after-restart@example.com")
	if r := call(apiClient, "GET", srv2.URL+"/user_management/users/"+id, a.APIKey, nil); r.Status != 200 {
		t.Errorf("get the user made after restart: %s", r)
	}
	srv2.stop()
	if srv2.waitErr != nil {
		t.Errorf("the restarted server did not stop cleanly: %v\n%s", srv2.waitErr, srv2.logTail(20))
	}
	rows = checkSQLiteFile(t, ctx, dbPath, a.EnvID)
	if _, ok := rows["after-restart@example.com"]; !ok {
		t.Errorf("the user made after restart is not in the file")
	}
}

// hostedSignUp runs authorize, the sign-up page and the form post; it
// returns false when the storm stopped before the form was sent.
func hostedSignUp(base string, a app, s *signUp) bool {
	b := newBrowser()
	p := b.get(base + authorizePath(a, ""))
	if p.Err != nil || p.Status != http.StatusFound {
		return false
	}
	p = b.get(base + strings.Replace(p.Location, "/sign-in", "/sign-up", 1))
	if p.Err != nil || p.Status != 200 {
		return false
	}
	action, form, err := formFields(p.Body)
	if err != nil {
		return false
	}
	form.Set("email", s.Email)
	form.Set("password", userPassword)
	form.Set("first_name", s.First)
	form.Set("last_name", s.Last)
	s.Started = time.Now()
	p = b.post(base+action, form)
	s.Ended = time.Now()
	s.Status, s.Err = p.Status, p.Err
	if p.Err == nil && p.Status == http.StatusSeeOther && !strings.Contains(p.Location, "/verify-email") {
		s.Status = -p.Status // a 303 elsewhere is not the expected answer
	}
	return true
}

// checkAcked checks an acknowledged sign-up through the restarted server:
// by ID (API sign-ups) and by email, with the fields that were sent.
func checkAcked(base, apiKey string, s *signUp) error {
	r := call(apiClient, "GET", base+"/user_management/users?"+url.Values{"email": {s.Email}}.Encode(), apiKey, nil)
	if r.Status != 200 {
		return fmt.Errorf("list by email: %s", r)
	}
	data, _ := r.Body["data"].([]any)
	if len(data) != 1 {
		return fmt.Errorf("list by email found %d users: %s", len(data), r.Raw)
	}
	u, _ := data[0].(map[string]any)
	if s.ID != "" && str(u, "id") != s.ID {
		return fmt.Errorf("by email the ID is %s, the 201 said %s", str(u, "id"), s.ID)
	}
	if str(u, "first_name") != s.First || str(u, "last_name") != s.Last {
		return fmt.Errorf("names = %q %q, want %q %q", str(u, "first_name"), str(u, "last_name"), s.First, s.Last)
	}
	if s.Hosted {
		return nil
	}
	r = call(apiClient, "GET", base+"/user_management/users/"+s.ID, apiKey, nil)
	if r.Status != 200 {
		return fmt.Errorf("get by ID: %s", r)
	}
	meta, _ := r.Body["metadata"].(map[string]any)
	if str(r.Body, "email") != s.Email || r.Body["email_verified"] != true || str(meta, "client") != s.Meta["client"] || str(meta, "seq") != s.Meta["seq"] {
		return fmt.Errorf("get by ID returned %s", r.Raw)
	}
	return nil
}

// userRow is a user as the file holds it.
type userRow struct {
	ID, Email, Hash string
}

// checkSQLiteFile opens the database file with the store (which runs no
// migration), checks PRAGMA integrity_check and foreign keys, that every
// user row is whole and that no row points at a missing user or session,
// and returns the environment's users by email.
func checkSQLiteFile(t *testing.T, ctx context.Context, path, envID string) map[string]userRow {
	t.Helper()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("open the file after the crash: %v", err)
	}
	defer db.Close()
	if err := db.IntegrityCheck(ctx); err != nil {
		t.Fatalf("integrity check: %v", err)
	}
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	fk, err := raw.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		t.Fatal(err)
	}
	var fkProblems []string
	for fk.Next() {
		var table, parent string
		var rowid, fkid sql.NullInt64
		if err := fk.Scan(&table, &rowid, &parent, &fkid); err != nil {
			t.Fatal(err)
		}
		fkProblems = append(fkProblems, fmt.Sprintf("%s row %d → %s", table, rowid.Int64, parent))
	}
	fk.Close()
	if len(fkProblems) > 0 {
		t.Errorf("PRAGMA foreign_key_check: %d problems: %v", len(fkProblems), fkProblems)
	}
	// Rows that name a user or session that does not exist.
	orphans := map[string]string{
		"sessions":         "SELECT count(*) FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id)",
		"browser_sessions": "SELECT count(*) FROM browser_sessions b WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = b.user_id)",
		"auth_codes":       "SELECT count(*) FROM auth_codes c WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = c.user_id)",
		"challenges":       "SELECT count(*) FROM challenges c WHERE c.user_id <> '' AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = c.user_id)",
		"refresh_tokens":   "SELECT count(*) FROM refresh_tokens r WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = r.session_id)",
		"events":           "SELECT count(*) FROM events e WHERE e.target_id LIKE 'user_%' AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = e.target_id)",
	}
	names := make([]string, 0, len(orphans))
	for n := range orphans {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, table := range names {
		var n int
		if err := raw.QueryRowContext(ctx, orphans[table]).Scan(&n); err != nil {
			t.Errorf("orphan check on %s: %v", table, err)
		} else if n > 0 {
			t.Errorf("%d orphan rows in %s", n, table)
		}
	}
	// Every user row is whole.
	rows, err := raw.QueryContext(ctx, `SELECT id, environment_id, email, password_hash, metadata, created_at, updated_at FROM users`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]userRow{}
	bad := 0
	for rows.Next() {
		var r userRow
		var env, meta string
		var created, updated int64
		if err := rows.Scan(&r.ID, &env, &r.Email, &r.Hash, &meta, &created, &updated); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(r.ID, "user_") || env != envID || !strings.Contains(r.Email, "@") ||
			!strings.HasPrefix(r.Hash, "$argon2id$") || !strings.HasPrefix(meta, "{") || created <= 0 || updated < created {
			bad++
			if bad <= 5 {
				t.Errorf("half-written user row: id=%q env=%q email=%q hash=%.12q metadata=%q created=%d updated=%d", r.ID, env, r.Email, r.Hash, meta, created, updated)
			}
		}
		out[r.Email] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if bad > 0 {
		t.Errorf("%d half-written user rows", bad)
	}
	// The store reads them all back too (it parses every field).
	n := 0
	for u, err := range listAllUsers(ctx, db, envID) {
		if err != nil {
			t.Fatalf("list users through the store: %v", err)
		}
		if _, ok := out[u]; !ok {
			t.Errorf("the store lists %s, the table does not", u)
		}
		n++
	}
	if n != len(out) {
		t.Errorf("the store lists %d users, the table holds %d", n, len(out))
	}
	return out
}

// listAllUsers yields the email of every user of envID, page by page,
// through the store.
func listAllUsers(ctx context.Context, db *sqlite.DB, envID string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		after := ""
		for {
			p, err := db.ListUsers(ctx, envID, store.UserFilter{}, store.ListParams{Limit: store.MaxLimit, After: after, Order: store.Asc})
			if err != nil {
				yield("", err)
				return
			}
			for _, u := range p.Data {
				if !yield(u.Email, nil) {
					return
				}
			}
			if p.After == "" {
				return
			}
			after = p.After
		}
	}
}
