package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
)

// A --rate 70% run whose machine slowed after the calibration is marked
// OVERDRIVEN; one that stayed near 70 % of the peak measured after it is
// not.
func TestOverdrivenRateMarked(t *testing.T) {
	m, err := parseMix("refresh")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config{ratePct: 70}
	for _, tc := range []struct {
		after float64 // the peak measured after the run
		want  bool
	}{{after: 1400, want: false}, {after: 1000, want: true}} {
		res := &Results{
			Calibrate: &PhaseResult{TopLevelPerS: 1430},
			Run:       &PhaseResult{Rate: 1000, elapsed: time.Second, ElapsedS: 1, Ops: []OpResult{{Op: "refresh", Count: 1000, P99Ms: 10}}},
			Recheck:   &PhaseResult{TopLevelPerS: tc.after},
		}
		var note string
		for _, tg := range evaluate(cfg, m, &target{backend: "sqlite"}, res) {
			if tg.Name == "p99 refresh" {
				note = tg.Note
			}
		}
		if note == "" {
			t.Fatalf("no p99 refresh verdict for a fixed-rate run")
		}
		if got := strings.Contains(note, "OVERDRIVEN"); got != tc.want {
			t.Errorf("peak after %v: note %q, OVERDRIVEN %v, want %v", tc.after, note, got, tc.want)
		}
	}
}

// The summary table gives each run's rate as a share of the bare-handler
// ceiling measured in the same run: the main operation's for a single-op
// mix, the HTTP requests' for a mixed one, and "-" without a ceiling.
func TestSummaryRowCeilingRatio(t *testing.T) {
	refresh, err := parseMix("refresh")
	if err != nil {
		t.Fatal(err)
	}
	mixed, err := parseMix("default")
	if err != nil {
		t.Fatal(err)
	}
	ceiling := &CeilingResult{PerSecond: 40000}
	for _, tc := range []struct {
		name string
		res  *Results
		want string
	}{
		{"single op", &Results{Mix: refresh, Ceiling: ceiling, Run: &PhaseResult{RequestsPerS: 2000,
			Ops: []OpResult{{Op: "refresh", PerSecond: 1000, OfCeiling: 0.025}}}}, "| 1000 | 0.025 |"},
		{"mixed", &Results{Mix: mixed, Ceiling: ceiling, Run: &PhaseResult{TopLevelPerS: 300, RequestsPerS: 800}}, "| 300 ops | 0.020 |"},
		{"no ceiling", &Results{Mix: refresh, Run: &PhaseResult{RequestsPerS: 2000,
			Ops: []OpResult{{Op: "refresh", PerSecond: 1000}}}}, "| 1000 | - |"},
	} {
		if got := summaryRow("x.json", tc.res); !strings.Contains(got, tc.want) {
			t.Errorf("%s: row %q does not contain %q", tc.name, got, tc.want)
		}
	}
}

// Argon2id alone is measured at the concurrency of all the nodes' hash
// slots together, so a two-node sign-in run is set against two hashes at
// once, as its nodes compute them.
func TestHashAloneBoundCountsNodes(t *testing.T) {
	t.Setenv("GATEHOUSE_HASH_CONCURRENCY", "3")
	if got := hashAloneBound(2); got != 6 {
		t.Errorf("3 slots, 2 nodes: bound %d, want 6", got)
	}
	t.Setenv("GATEHOUSE_HASH_CONCURRENCY", "")
	if got, want := hashAloneBound(2), 2*password.DefaultConcurrency(); got != want {
		t.Errorf("default slots, 2 nodes: bound %d, want %d", got, want)
	}
}

func TestScrapeHashStats(t *testing.T) {
	serve := func(body string, code int) string {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/metrics" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(code)
			io.WriteString(w, body)
		}))
		t.Cleanup(ts.Close)
		return ts.URL
	}
	both := "# HELP gatehouse_password_hashes_total x\ngatehouse_password_hashes_total 1246\n" +
		"gatehouse_password_hash_cpu_seconds_total 14.01\ngatehouse_password_hashes_total_other 7\n"
	h := scrapeHashStats(t.Context(), serve(both, 200))
	if !h.ok || h.computations != 1246 || h.cpu != 14010*time.Millisecond {
		t.Errorf("scrapeHashStats = %+v, want 1246 computations and 14.01 s", h)
	}
	for name, url := range map[string]string{
		"one metric missing": serve("gatehouse_password_hashes_total 3\n", 200),
		"error status":       serve(both, 500),
		"unreachable":        "http://127.0.0.1:1",
	} {
		if h := scrapeHashStats(t.Context(), url); h.ok {
			t.Errorf("%s: scrapeHashStats = %+v, want not ok", name, h)
		}
	}
}

// A fixed-rate run whose requests all went to one route names that route's
// p99 from the server's access log in its p99 verdicts; a run over several
// routes does not, since a route's p99 is then not one operation's.
func TestServerP99InVerdict(t *testing.T) {
	m, err := parseMix("refresh")
	if err != nil {
		t.Fatal(err)
	}
	auth := RouteLatency{Route: "POST /user_management/authenticate", Count: 1000, P50Ms: 1.5, P99Ms: 61.2, MaxMs: 86}
	jwks := RouteLatency{Route: "GET /sso/jwks/{client_id}", Count: 10, P50Ms: 1, P99Ms: 2, MaxMs: 2}
	for _, tc := range []struct {
		routes []RouteLatency
		want   string
	}{
		{[]RouteLatency{auth}, "the server's own p99 (access log, POST /user_management/authenticate): 61.2 ms"},
		{[]RouteLatency{auth, jwks}, ""},
		{nil, ""},
	} {
		res := &Results{Run: &PhaseResult{Rate: 1000, elapsed: time.Second, ElapsedS: 1,
			Ops: []OpResult{{Op: "refresh", Count: 1000, P99Ms: 133.6}}, ServerLatency: tc.routes}}
		var note string
		for _, tg := range evaluate(&config{}, m, &target{backend: "sqlite"}, res) {
			if tg.Name == "p99 refresh" {
				note = tg.Note
			}
		}
		has := strings.Contains(note, "server's own p99")
		if tc.want == "" && has || tc.want != "" && !strings.Contains(note, tc.want) {
			t.Errorf("%d routes: note %q, want %q", len(tc.routes), note, tc.want)
		}
	}
}
