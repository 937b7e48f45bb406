package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The access-log reader keeps the request lines that began and ended in
// the window, from the mark on, and skips everything else.
func TestServerLatency(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node1.log")
	start := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	end := start.Add(10 * time.Second)
	line := func(at time.Time, route string, d time.Duration) string {
		return fmt.Sprintf(`{"time":%q,"level":"INFO","msg":"request","request_id":"req_x","method":"POST","route":%q,"status":200,"bytes":10,"duration":%d}`+"\n",
			at.Format(time.RFC3339Nano), route, d.Nanoseconds())
	}
	auth, jwks := "POST /user_management/authenticate", "GET /sso/jwks/{client_id}"
	// Before the mark: in the window by its times, but written before the
	// window opened, so never read.
	before := line(start.Add(time.Second), auth, 900*time.Millisecond)
	if err := os.WriteFile(path, []byte(before), 0o600); err != nil {
		t.Fatal(err)
	}
	marks := markLogs([]string{path})
	if marks[0] != int64(len(before)) {
		t.Fatalf("mark = %d, want %d", marks[0], len(before))
	}
	var body string
	for i := 1; i <= 100; i++ { // 1..100 ms, ending across the window
		body += line(start.Add(time.Duration(i)*50*time.Millisecond+time.Duration(i)*time.Millisecond), auth, time.Duration(i)*time.Millisecond)
	}
	// A line longer than the reader's buffer, then a request line.
	body += `{"time":"2026-11-29T10:00:03Z","msg":"other","detail":"` + strings.Repeat("x", 200<<10) + "\"}\n"
	body += line(start.Add(2*time.Second), jwks, 3*time.Millisecond)
	body += line(start.Add(3*time.Second), "GET /zzz", 4*time.Millisecond)  // as many as jwks: by name
	body += line(start.Add(10*time.Millisecond), jwks, 20*time.Millisecond) // began before the window
	body += line(end.Add(time.Millisecond), jwks, time.Millisecond)         // ended after it
	body += `{"time":"2026-11-29T10:00:03Z","level":"WARN","msg":"something else","route":"x","duration":5}` + "\n"
	body += `{"time":"2026-11-29T10:00:03Z","msg":"request","route":"POST /cut` + "\n" // cut short
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(body)
	f.Close()

	got := serverLatency([]string{path, filepath.Join(dir, "missing.log")}, append(marks, 0), start, end)
	if len(got) != 3 {
		t.Fatalf("routes = %+v, want 3", got)
	}
	a, j := got[0], got[1]
	if got[2].Route != "GET /zzz" {
		t.Errorf("routes with one request each not in name order: %+v", got)
	}
	if a.Route != auth || a.Count != 100 || a.P50Ms != 50 || a.P99Ms != 99 || a.MaxMs != 100 {
		t.Errorf("authenticate = %+v, want 100 requests, p50 50, p99 99, max 100 ms", a)
	}
	if j.Route != jwks || j.Count != 1 || j.MaxMs != 3 {
		t.Errorf("jwks = %+v, want the one request inside the window, 3 ms", j)
	}
	if got := serverLatency([]string{path}, marks, end.Add(time.Hour), end.Add(2*time.Hour)); got != nil {
		t.Errorf("a window with no requests = %+v, want nil", got)
	}
}
