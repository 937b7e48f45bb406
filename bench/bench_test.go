package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	line := []byte("1234 (gate house) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0")
	d, err := parseStatCPU(line)
	if err != nil || d != 3*time.Second {
		t.Fatalf("parseStatCPU = %v, %v; want 3s", d, err)
	}
	if _, err := parseStatCPU([]byte("garbage")); err == nil {
		t.Fatal("garbage parsed")
	}
}

func TestAutogroup(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]string{"1\n": ", autogroup on", "0\n": ", autogroup off"} {
		path := filepath.Join(dir, "sched_autogroup_enabled")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := autogroup(path); got != want {
			t.Errorf("autogroup with %q = %q, want %q", content, got, want)
		}
	}
	if got := autogroup(filepath.Join(dir, "missing")); got != "" {
		t.Errorf("autogroup without the setting = %q, want \"\"", got)
	}
}

func TestWithoutPoolParams(t *testing.T) {
	got, err := withoutPoolParams("postgres://u:pw@db:5432/test?sslmode=disable&pool_max_conns=4&pool_min_conns=1")
	if err != nil {
		t.Fatal(err)
	}
	if want := "postgres://u:pw@db:5432/test?sslmode=disable"; got != want {
		t.Errorf("withoutPoolParams = %q, want %q", got, want)
	}
	if _, err := withoutPoolParams("postgres://db/%zz"); err == nil {
		t.Error("an unparseable URL was accepted")
	}
}

func TestProcOfSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	rss, hwm, err := procMem(os.Getpid())
	if err != nil || rss == 0 || hwm < rss {
		t.Fatalf("procMem = %d, %d, %v", rss, hwm, err)
	}
	// Each sleep gives the thread's CPU up: at least one switch apiece.
	before := procSwitches(os.Getpid())
	for range 20 {
		time.Sleep(time.Millisecond)
	}
	if after := procSwitches(os.Getpid()); after < before+20 {
		t.Errorf("procSwitches went from %d to %d over 20 sleeps", before, after)
	}
}

func TestQuantile(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{0.5: 50 * time.Millisecond, 0.95: 95 * time.Millisecond, 0.99: 99 * time.Millisecond, 1: 100 * time.Millisecond} {
		if got := quantile(s, q); got != want {
			t.Errorf("quantile(%v) = %v, want %v", q, got, want)
		}
	}
	if quantile(nil, 0.5) != 0 || quantile(s[:1], 0.99) != time.Millisecond {
		t.Error("edge cases")
	}
}

func TestExtractCode(t *testing.T) {
	msg := "From: a@example.com\r\nTo: b@example.com\r\nSubject: Verify your email for Bench 123456\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=XX\r\n\r\n" +
		"--XX\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"Verify your email\r\n\r\nEnter this code to verify your email address with Bench:\r\n\r\n    654321\r\n\r\nThe code expires in 10 minutes.=\r\n\r\n" +
		"--XX\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>999999</p>\r\n--XX--\r\n"
	if got := extractCode([]byte(msg)); got != "654321" {
		t.Fatalf("extractCode = %q", got)
	}
}

func TestParseMix(t *testing.T) {
	m, err := parseMix("default")
	if err != nil || !m.has(opRefresh, opSignup) || !m.passwordOps() {
		t.Fatalf("default: %v %v", m, err)
	}
	m, err = parseMix("refresh=3,jwks=1")
	if err != nil || m.Name != "custom" || len(m.ops) != 2 {
		t.Fatalf("custom: %v %v", m, err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	n := map[op]int{}
	for range 4000 {
		n[m.pick(r)]++
	}
	if n[opRefresh] < 2700 || n[opRefresh] > 3300 {
		t.Errorf("weights: %v", n)
	}
	for _, bad := range []string{"nope", "refresh=x", "email-delivery", "exchange,refresh", "refresh=0"} {
		if _, err := parseMix(bad); err == nil {
			t.Errorf("parseMix(%q) accepted", bad)
		}
	}
}

// TestSmokeInProcess runs every operation of the default mix for a moment
// against an in-process server on SQLite and checks that they all succeed.
func TestSmokeInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	res := runInProcess(t, "--mix", "refresh=4,flow=2,jwks=1,user-get=1,user-list=1,signin=1,hosted-signin=1,signup=1",
		"--vus", "4", "--users", "5", "--duration", "3s", "--ceiling", "--ceiling-time", "200ms")
	seen := map[string]bool{}
	for _, o := range res.Run.Ops {
		if o.Errors > 0 {
			t.Errorf("%s: %d errors: %v", o.Op, o.Errors, o.ErrorKinds)
		}
		if o.Count > 0 {
			seen[o.Op] = true
		}
	}
	for _, want := range []string{"refresh", "flow", "exchange", "jwks", "user-get", "user-list"} {
		if !seen[want] {
			t.Errorf("no successful %s in 3s: %+v", want, res.Run.Ops)
		}
	}
	if res.Ceiling == nil || res.Ceiling.PerSecond <= 0 {
		t.Errorf("ceiling = %+v", res.Ceiling)
	}
	// The server's own latency, from its access log, for the routes the
	// mix sent.
	routes := map[string]RouteLatency{}
	for _, l := range res.Run.ServerLatency {
		routes[l.Route] = l
	}
	for _, want := range []string{"POST /user_management/authenticate", "GET /user_management/authorize", "GET /sso/jwks/{client_id}"} {
		if l := routes[want]; l.Count == 0 || l.P99Ms <= 0 || l.MaxMs < l.P99Ms {
			t.Errorf("server latency of %s = %+v; all: %+v", want, l, res.Run.ServerLatency)
		}
	}
}

// An exchange run mints codes for its own length at the rate minting
// reached in its first two seconds, not the 20,000 a second of room it
// has (40,000 codes here).
func TestExchangeMintsForTheRun(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	res := runInProcess(t, "--mix", "exchange", "--vus", "1", "--users", "5", "--duration", "2s")
	m := res.Minted
	if m == nil || m.Codes == 0 {
		t.Fatalf("minted = %+v", m)
	}
	if m.Codes >= 40000 && m.Seconds < 2 {
		t.Skipf("minted all 40,000 codes in %.1fs, before the 2 s probe", m.Seconds)
	}
	// One VU: at most one authorize in flight past the aim.
	if m.Aim >= 40000 || m.Codes > m.Aim+1 || m.Codes < m.Aim-1 {
		t.Errorf("minted %d codes aiming at %d in %.1fs; want the aim set by the probe, under 40,000", m.Codes, m.Aim, m.Seconds)
	}
	if ex := res.Run.Ops[0]; ex.Op != "exchange" || ex.Count == 0 || ex.Errors > 0 {
		t.Errorf("exchange = %+v", ex)
	}
}

func TestHashRatePools(t *testing.T) {
	h := newHashRate(4, 2)
	h.add(HashRun{Verifications: 100, Seconds: 2, CPUSeconds: 4})
	if h.PerSecond != 50 || h.PerCPUSecond != 25 {
		t.Fatalf("one run: %v/s, %v per CPU-s", h.PerSecond, h.PerCPUSecond)
	}
	h.add(HashRun{Verifications: 200, Seconds: 4, CPUSeconds: 6})
	if h.PerSecond != 50 || h.PerCPUSecond != 30 || len(h.Runs) != 2 {
		t.Fatalf("pooled: %v/s, %v per CPU-s, %d runs", h.PerSecond, h.PerCPUSecond, len(h.Runs))
	}
}

// TestLateStartsReported runs a fixed rate that one VU cannot keep up with
// on any machine (1,000 operations a second, half of them sign-ins, each
// an argon2id hash that writes 19 MiB twice: milliseconds even on the
// fastest CPUs) and checks that the bench says its own queue held
// operations back, rather than passing that wait off as the server's
// latency.
func TestLateStartsReported(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	res := runInProcess(t, "--mix", "signin=1,jwks=1", "--vus", "1", "--users", "2", "--duration", "2s", "--rate", "1000")
	r := res.Run
	ran := r.TopLevelPerS * r.ElapsedS
	if ran < 5 || float64(r.LateStarts) < ran/2 || r.LateStartMaxMs < 100 {
		t.Fatalf("%d of %.0f operations started late, the latest by %.1f ms; want most of them, by over 100 ms", r.LateStarts, ran, r.LateStartMaxMs)
	}
	flagged := false
	for _, tg := range res.Targets {
		flagged = flagged || strings.Contains(tg.Note, "BENCH-LIMITED")
	}
	if !flagged {
		t.Error("no p99 verdict says the bench limited the run")
	}
}

// runInProcess runs the bench against an in-process server on SQLite, with
// no warm-up, progress or hash-rate runs, and returns its JSON results.
func runInProcess(t *testing.T, args ...string) *Results {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.json")
	args = append([]string{"--inprocess", "--data-dir", t.TempDir(), "--warmup", "0s", "--progress", "0",
		"--hash-rate", "off", "--json", out}, args...)
	if err := run(t.Context(), args); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return &res
}
