package faults

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

// privatePG is a PostgreSQL cluster of this test's own, so it can be stopped
// without touching the shared one other packages use.
type privatePG struct {
	t       *testing.T
	bin     string // directory of initdb, pg_ctl, postgres
	dir     string // owned by the postgres OS user when running as root
	data    string
	port    int
	asRoot  bool
	URL     string // the gatehouse database
	logPath string
}

// findPostgresBin returns the directory holding initdb and pg_ctl, newest
// version first, or "".
func findPostgresBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if fileExists(filepath.Join(d, "initdb")) && fileExists(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if fileExists(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// startPrivatePG initdb's a cluster in a temporary directory and starts it
// on a free port. Without the PostgreSQL binaries it skips, or fails when
// GATEHOUSE_TEST_REQUIRE_POSTGRES=1.
func startPrivatePG(t *testing.T) *privatePG {
	t.Helper()
	if testing.Short() && os.Getenv(pgtest.RequireEnv) != "1" {
		t.Skipf("private PostgreSQL cluster test skipped in -short mode (set %s=1 to run it anyway)", pgtest.RequireEnv)
	}
	bin := findPostgresBin()
	if bin == "" {
		msg := "the PostgreSQL server binaries (initdb, pg_ctl) are not installed (looked in /usr/lib/postgresql/*/bin and PATH); apt-get install postgresql"
		if os.Getenv(pgtest.RequireEnv) == "1" {
			t.Fatalf("%s=1 but %s", pgtest.RequireEnv, msg)
		}
		t.Skip("private PostgreSQL cluster test skipped: " + msg)
	}
	pg := &privatePG{t: t, bin: bin, asRoot: os.Geteuid() == 0}
	// Not t.TempDir: its parents are private to root, and postgres refuses
	// to run as root, so the cluster lives in a directory postgres owns.
	dir, err := os.MkdirTemp("", "gatehouse-faults-pg-")
	if err != nil {
		t.Fatal(err)
	}
	pg.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if pg.asRoot {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, the cluster must run as the postgres OS user, which does not exist: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	pg.data = filepath.Join(dir, "data")
	pg.logPath = filepath.Join(dir, "postgres.log")
	pg.port = freePort(t)
	pg.run("initdb", "-D", pg.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
	t.Cleanup(func() {
		// Immediate: the cluster is thrown away.
		pg.cmd("pg_ctl", "-D", pg.data, "-m", "immediate", "-w", "stop").Run()
	})
	pg.start()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.port))
	if err != nil {
		t.Fatalf("connect to the private cluster: %v\n%s", err, pg.log())
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE gatehouse"); err != nil {
		t.Fatal(err)
	}
	pg.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/gatehouse?sslmode=disable", pg.port)
	return pg
}

// cmd is a PostgreSQL program run as the postgres OS user when needed.
func (pg *privatePG) cmd(name string, args ...string) *exec.Cmd {
	path := filepath.Join(pg.bin, name)
	if pg.asRoot {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func (pg *privatePG) run(name string, args ...string) {
	pg.t.Helper()
	out, err := pg.cmd(name, args...).CombinedOutput()
	if err != nil {
		pg.t.Fatalf("%s %s: %v\n%s\n%s", name, strings.Join(args, " "), err, out, pg.log())
	}
}

func (pg *privatePG) start() {
	pg.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60", pg.port, pg.dir)
	pg.run("pg_ctl", "-D", pg.data, "-l", pg.logPath, "-o", opts, "-w", "-t", "60", "start")
}

// stop is a fast shutdown: sessions are ended, transactions rolled back.
func (pg *privatePG) stop() {
	pg.t.Helper()
	pg.run("pg_ctl", "-D", pg.data, "-m", "fast", "-w", "-t", "60", "stop")
}

func (pg *privatePG) log() string {
	b, _ := os.ReadFile(pg.logPath)
	return string(b)
}

// Phases of the outage test.
const (
	phaseBefore   = "before"   // the database is up
	phaseStopping = "stopping" // pg_ctl stop -m fast is running
	phaseDown     = "down"     // the database is stopped
	phaseStarting = "starting" // pg_ctl start is running
	phaseAfter    = "after"    // the database is up again
)

var phases = []string{phaseBefore, phaseStopping, phaseDown, phaseStarting, phaseAfter}

// outcome is one request of the load.
type outcome struct {
	Kind       string    // one of loadKinds
	Phase      string    // when it was answered
	Mixed      bool      // sent in another phase than the one it was answered in
	At         time.Time // when it was answered
	Status     int
	OK         bool // the status the kind gets when all is well
	RetryAfter string
	Latency    time.Duration
	Err        error
	Detail     string
}

// loadKinds are the requests of the load: a user read (API key), a refresh
// rotation, the start of a hosted sign-in (302 when all is well), the JWKS,
// and the operations endpoints.
var loadKinds = []string{"get", "refresh", "authorize", "jwks", "healthz", "readyz"}

// dbKinds are the kinds that need the database.
var dbKinds = []string{"get", "refresh", "authorize", "jwks", "readyz"}

const (
	maxAnswerTime     = 2 * time.Second  // every request, database up or down
	maxRecovery       = 10 * time.Second // from the database's restart to steady success
	outageLoadWorkers = 4                // per kind (user reads, refresh rotations)
	outageMaxRequests = 20000            // bounds the whole load
)

func TestPostgresStoppedAndRestartedUnderLoad(t *testing.T) {
	t.Parallel()
	pg := startPrivatePG(t)
	key := secretbox.GenerateKey()
	sink := startSink(t)
	a := setupApp(t, pg.URL, key, "Outage")
	srv := startServe(t, "pg-outage", serveConfig{DatabaseURL: pg.URL, SecretKey: key, SMTPURL: sink.URL()})

	// One user per refresh worker, each with a session.
	var userIDs, refreshTokens []string
	for i := range outageLoadWorkers {
		email := fmt.Sprintf("outage-%d@example.com", i)
		userIDs = append(userIDs, createUser(t, srv.URL, a.APIKey, email))
		r := passwordGrant(apiClient, srv.URL, a, email, userPassword)
		if r.Status != 200 {
			t.Fatalf("sign in %s: %s", email, r)
		}
		refreshTokens = append(refreshTokens, str(r.Body, "refresh_token"))
	}

	var (
		phase    atomic.Value
		mu       sync.Mutex
		outcomes []outcome
		total    atomic.Int64
		stopLoad atomic.Bool
		wg       sync.WaitGroup
		lost     atomic.Int64 // sessions whose refresh got invalid_grant
	)
	phase.Store(phaseBefore)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(kind, method, path, apiKey string, body any) (result, outcome) {
		sentIn := phase.Load().(string)
		r := call(client, method, srv.URL+path, apiKey, body)
		o := outcome{Kind: kind, Phase: phase.Load().(string), At: time.Now(), Status: r.Status, Latency: r.Latency, Err: r.Err}
		o.Mixed = o.Phase != sentIn
		if kind == "authorize" {
			o.OK = r.Status == http.StatusFound && strings.Contains(r.Header.Get("Location"), "/hosted/")
		} else {
			o.OK = r.Status == 200
		}
		if r.Header != nil {
			o.RetryAfter = r.Header.Get("Retry-After")
		}
		if !o.OK {
			o.Detail = r.String()
		}
		mu.Lock()
		outcomes = append(outcomes, o)
		mu.Unlock()
		return r, o
	}
	running := func() bool { return !stopLoad.Load() && total.Add(1) <= outageMaxRequests }
	for i := range outageLoadWorkers {
		wg.Go(func() { // user reads
			for running() {
				send("get", "GET", "/user_management/users/"+userIDs[i], a.APIKey, nil)
				time.Sleep(10 * time.Millisecond)
			}
		})
		wg.Go(func() { // refresh rotations, keeping the token until one succeeds
			rt := refreshTokens[i]
			for running() {
				r, o := send("refresh", "POST", "/user_management/authenticate", "", map[string]any{
					"grant_type": "refresh_token", "client_id": a.ClientID, "client_secret": a.APIKey, "refresh_token": rt})
				switch {
				case o.Status == 200:
					rt = str(r.Body, "refresh_token")
				case o.Status == 400:
					lost.Add(1)
					t.Errorf("refresh worker %d lost its session (phase %s): %s", i, o.Phase, r)
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	wg.Go(func() { // hosted sign-in start, JWKS, operations endpoints
		for running() {
			send("authorize", "GET", authorizePath(a, "s"), "", nil)
			send("jwks", "GET", "/sso/jwks/"+a.ClientID, "", nil)
			send("healthz", "GET", "/healthz", "", nil)
			send("readyz", "GET", "/readyz", "", nil)
			time.Sleep(100 * time.Millisecond)
		}
	})

	time.Sleep(1500 * time.Millisecond)
	phase.Store(phaseStopping)
	stopBegan := time.Now()
	pg.stop()
	phase.Store(phaseDown)
	downAt := time.Now()
	t.Logf("pg_ctl stop -m fast took %s", downAt.Sub(stopBegan).Round(time.Millisecond))
	time.Sleep(3 * time.Second)
	phase.Store(phaseStarting)
	startBegan := time.Now()
	pg.start()
	phase.Store(phaseAfter)
	upAt := time.Now()
	t.Logf("database down for %s; pg_ctl start took %s", upAt.Sub(downAt).Round(time.Millisecond), upAt.Sub(startBegan).Round(time.Millisecond))

	// Wait for steady success: every kind 200 for a whole second, within
	// maxRecovery of the restart.
	steadySince := func() (time.Time, bool) {
		mu.Lock()
		defer mu.Unlock()
		var lastBad time.Time
		seen := map[string]bool{}
		for _, o := range outcomes {
			if o.Phase != phaseAfter {
				continue
			}
			seen[o.Kind] = true
			if !o.OK && o.At.After(lastBad) {
				lastBad = o.At
			}
		}
		for _, k := range loadKinds {
			if !seen[k] {
				return time.Time{}, false
			}
		}
		if lastBad.IsZero() {
			lastBad = upAt
		}
		return lastBad, time.Since(lastBad) >= time.Second
	}
	var recoveredAt time.Time
	for {
		last, ok := steadySince()
		if ok {
			recoveredAt = last
			break
		}
		if time.Since(upAt) > maxRecovery+2*time.Second || !srv.alive() {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopLoad.Store(true)
	wg.Wait()

	// Tally per phase and kind.
	type tally struct {
		n, ok, unavailable, noRetryAfter, other, errs int
		maxLatency                                    time.Duration
	}
	counts := map[string]map[string]*tally{}
	for _, ph := range phases {
		counts[ph] = map[string]*tally{}
	}
	lastFailure := map[string]time.Time{}
	for _, o := range outcomes {
		c := counts[o.Phase][o.Kind]
		if c == nil {
			c = &tally{}
			counts[o.Phase][o.Kind] = c
		}
		c.n++
		c.maxLatency = max(c.maxLatency, o.Latency)
		switch {
		case o.Err != nil:
			c.errs++
		case o.OK:
			c.ok++
		case o.Status == 503:
			c.unavailable++
			if o.RetryAfter == "" {
				c.noRetryAfter++
			}
		default:
			c.other++
		}
		if o.Phase == phaseAfter && !o.OK && o.At.After(lastFailure[o.Kind]) {
			lastFailure[o.Kind] = o.At
		}
	}
	for _, ph := range phases {
		for _, kind := range loadKinds {
			if c := counts[ph][kind]; c != nil {
				t.Logf("%-8s %-9s sent %4d: ok %4d, 503 %4d (%d without Retry-After), other %d, no answer %d; slowest %s",
					ph, kind, c.n, c.ok, c.unavailable, c.noRetryAfter, c.other, c.errs, c.maxLatency.Round(time.Millisecond))
			}
		}
	}

	// Judge every request.
	reported := 0
	fail := func(format string, args ...any) {
		if reported++; reported <= 20 {
			t.Errorf(format, args...)
		}
	}
	for _, o := range outcomes {
		if o.Err != nil {
			fail("%s %s: no answer after %s: %v", o.Phase, o.Kind, o.Latency.Round(time.Millisecond), o.Err)
			continue
		}
		if o.Latency > maxAnswerTime {
			fail("%s %s took %s (limit %s): %d", o.Phase, o.Kind, o.Latency.Round(time.Millisecond), maxAnswerTime, o.Status)
		}
		if o.Status == 503 && o.RetryAfter == "" {
			fail("%s %s: 503 without Retry-After", o.Phase, o.Kind)
		}
		switch {
		case o.Kind == "healthz":
			if !o.OK {
				fail("%s healthz = %s", o.Phase, o.Detail)
			}
		case o.Phase == phaseBefore:
			if !o.OK {
				fail("before the outage %s = %s", o.Kind, o.Detail)
			}
		case o.Phase == phaseDown && !o.Mixed && o.Kind == "jwks":
			// The JWKS needs only the environment and its public keys, which
			// each node keeps in memory for a while (GATEHOUSE_CACHE_TTL and
			// the 30 s key reload): serving them through an outage is right.
			if !o.OK && o.Status != 503 {
				fail("database down: jwks = %s, want 200 from memory or 503", o.Detail)
			}
		case o.Phase == phaseDown && !o.Mixed:
			if o.Status != 503 {
				fail("database down: %s = %s, want 503", o.Kind, o.Detail)
			}
		default: // stopping, starting, after, and requests across a phase change
			if !o.OK && o.Status != 503 {
				fail("%s %s = %s, want its normal answer or 503", o.Phase, o.Kind, o.Detail)
			}
		}
	}
	if reported > 20 {
		t.Errorf("… and %d more bad answers", reported-20)
	}
	for _, kind := range dbKinds {
		if c := counts[phaseDown][kind]; c == nil || c.n == 0 {
			t.Errorf("no %s request was answered while the database was down", kind)
		}
	}
	if recoveredAt.IsZero() {
		t.Errorf("no steady success within %s of the database's restart (last failures after restart: %v)", maxRecovery+2*time.Second, lastFailure)
	} else {
		rec := recoveredAt.Sub(upAt)
		var per []string
		for _, k := range dbKinds {
			if !lastFailure[k].IsZero() {
				per = append(per, k+" "+since(lastFailure[k], upAt))
			}
		}
		if len(per) == 0 {
			t.Logf("recovered without restarting gatehouse: no request failed once pg_ctl start had returned")
		} else {
			t.Logf("recovered without restarting gatehouse: last failure %s after pg_ctl start returned (%s)",
				rec.Round(time.Millisecond), strings.Join(per, ", "))
		}
		if rec > maxRecovery {
			t.Errorf("requests kept failing for %s after the database was back (limit %s)", rec.Round(time.Millisecond), maxRecovery)
		}
	}
	if lost.Load() > 0 {
		t.Errorf("%d sessions were lost: a refresh during the outage must not end the session", lost.Load())
	}
	if !srv.alive() {
		t.Fatalf("gatehouse exited during the outage: %v\n%s", srv.waitErr, srv.logTail(30))
	}
	if p := srv.panics(); len(p) > 0 {
		t.Errorf("gatehouse logged %d panics, first: %s", len(p), p[0])
	}
	if r := call(apiClient, "GET", srv.URL+"/readyz", "", nil); r.Status != 200 {
		t.Errorf("readyz at the end: %s", r)
	}
	// The server writes again.
	createUser(t, srv.URL, a.APIKey, "outage-after@example.com")
}

// since formats when t came after ref, or "-" for never.
func since(t, ref time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Sub(ref).Round(time.Millisecond).String()
}
