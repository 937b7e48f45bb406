package hostile

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// routes are the routes the server registers (internal/api/routes.go,
// internal/hosted/hosted.go, the operations routes in internal/server and
// the dashboard's sign-in pages); each must have hostile cases.
var routes = []string{
	"GET /user_management/users", "POST /user_management/users",
	"GET /user_management/users/{id}", "PUT /user_management/users/{id}", "DELETE /user_management/users/{id}",
	"GET /user_management/users/external_id/{external_id}", "GET /user_management/users/{id}/sessions",
	"POST /user_management/users/{id}/email_verification/send", "POST /user_management/users/{id}/email_verification/confirm",
	"GET /user_management/email_verification/{id}",
	"POST /user_management/password_reset", "GET /user_management/password_reset/{id}", "POST /user_management/password_reset/confirm",
	"POST /user_management/magic_auth", "GET /user_management/magic_auth/{id}",
	"POST /user_management/sessions/revoke",
	"POST /user_management/authenticate (JSON)", "POST /user_management/authenticate (form)", "OPTIONS /user_management/authenticate",
	"GET /sso/jwks/{client_id}",
	"GET /user_management/authorize", "GET /user_management/sessions/logout",
	"GET /hosted/{client_id}/sign-in", "POST /hosted/{client_id}/sign-in",
	"GET /hosted/{client_id}/sign-up", "POST /hosted/{client_id}/sign-up",
	"GET /hosted/{client_id}/verify-email", "POST /hosted/{client_id}/verify-email",
	"GET /hosted/{client_id}/magic", "POST /hosted/{client_id}/magic",
	"GET /hosted/{client_id}/magic-code", "POST /hosted/{client_id}/magic-code",
	"GET /hosted/{client_id}/forgot-password", "POST /hosted/{client_id}/forgot-password",
	"GET /hosted/{client_id}/reset-password", "POST /hosted/{client_id}/reset-password",
	"GET /admin/login", "POST /admin/login", "POST /admin/login/totp", "GET /admin/login/{token}",
	"GET /admin/setup/{token}", "POST /admin/setup/{token}",
	"GET /healthz", "GET /readyz", "GET /metrics",
	"GET /_dev/inbox", "GET /_dev/inbox.json", "GET /_dev/inbox/{id}",
}

// minCases is the fewest cases any endpoint gets: the whole-request
// classes alone are 8.
const minCases = 8

var safeRequestID = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// TestHostileInput sends every hostile case to every endpoint.
func TestHostileInput(t *testing.T) {
	if testing.Short() {
		t.Skip("the hostile input suite sends thousands of requests")
	}
	backends(t, func(t *testing.T, ts *testServer) {
		eps := endpoints()
		var names []string
		for _, e := range eps {
			names = append(names, e.Name)
		}
		for _, r := range routes {
			if !slices.Contains(names, r) {
				t.Errorf("route %s has no hostile cases", r)
			}
		}
		type tally struct{ cases, failed int }
		perEndpoint := map[string]*tally{}
		perClass := map[string]int{}
		total, failed := 0, 0
		start := time.Now()
		for _, e := range eps {
			cs := e.cases(ts, t)
			tl := &tally{cases: len(cs)}
			perEndpoint[e.Name] = tl
			for _, c := range cs {
				perClass[classFamily(c.Class)]++
				total++
				if !t.Run(e.Name+"/"+c.name(), func(t *testing.T) { ts.run(t, c) }) {
					tl.failed++
					failed++
				}
			}
			if tl.cases < minCases {
				t.Errorf("%s has %d cases, want at least %d", e.Name, tl.cases, minCases)
			}
		}
		ts.healthy(t)

		var b strings.Builder
		fmt.Fprintf(&b, "hostile input on %s: %d cases over %d endpoints in %s, %d failed\n", ts.Backend, total, len(eps),
			time.Since(start).Round(time.Millisecond), failed)
		fmt.Fprintf(&b, "  %-62s %6s %6s\n", "endpoint", "cases", "failed")
		for _, e := range eps {
			tl := perEndpoint[e.Name]
			fmt.Fprintf(&b, "  %-62s %6d %6d\n", e.Name, tl.cases, tl.failed)
		}
		var classes []string
		for c := range perClass {
			classes = append(classes, c)
		}
		sort.Strings(classes)
		fmt.Fprintf(&b, "  by class:")
		for _, c := range classes {
			fmt.Fprintf(&b, " %s=%d", c, perClass[c])
		}
		t.Log(b.String())
		if len(eps) < len(routes) {
			t.Errorf("%d endpoints, want at least %d (one per route)", len(eps), len(routes))
		}
	})
}

// classFamily groups numbered classes (sql-1…sql-5) for the summary.
func classFamily(c string) string {
	if i := strings.LastIndexByte(c, '-'); i > 0 && strings.Trim(c[i+1:], "0123456789") == "" {
		return c[:i]
	}
	if strings.HasPrefix(c, "not-an-object") {
		return "not-an-object"
	}
	return c
}

// run sends one case and checks everything a hostile request must not do.
func (ts *testServer) run(t *testing.T, c *hcase) {
	ts.clearThrottles(t)
	req := c.build(t, ts)
	before := ts.snapshot(t)
	mark := ts.logs.mark()
	began := time.Now()
	r := ts.send(t, req)
	elapsed := time.Since(began)
	after := ts.snapshot(t)
	if os.Getenv("HOSTILE_DEBUG") != "" {
		t.Logf("request %s %q %q\nresult %s\nLocation %q", req.Method, clip(req.Target, 300), clip(string(req.Body), 300), r, r.Header.Get("Location"))
	}

	var problems []string
	if elapsed > 4*time.Second {
		problems = append(problems, fmt.Sprintf("took %s", elapsed.Round(time.Millisecond)))
	}
	switch {
	case r.Closed:
		if !c.MayClose {
			problems = append(problems, r.String())
		}
	case r.Status >= 500:
		problems = append(problems, "server error: "+r.String())
	case c.Want != nil:
		if !slices.Contains(c.Want, r.Status) {
			problems = append(problems, fmt.Sprintf("status %d, want %v: %s", r.Status, c.Want, clip(string(r.Body), 200)))
		} else if c.Code != "" {
			m := r.jsonBody()
			if m == nil || (m["code"] != c.Code && m["error"] != c.Code) {
				problems = append(problems, fmt.Sprintf("status %d body %s, want code %s", r.Status, clip(string(r.Body), 200), c.Code))
			}
		}
	default:
		if p := c.E.Accept(ts, c, r); p != "" {
			problems = append(problems, p)
		}
	}
	if !r.Closed {
		problems = append(problems, ts.headerProblems(r)...)
		if c.E.Kind != kPlain {
			if l := leaks(r.Body); l != "" {
				problems = append(problems, fmt.Sprintf("the body leaks internals (%q): %s", l, clip(string(r.Body), 300)))
			}
		}
		if bytes.Contains(r.Body, []byte("<script>alert(1)")) {
			problems = append(problems, "the body reflects a script unescaped")
		}
		if id := r.Header.Get("X-Request-ID"); id != "" && !safeRequestID.MatchString(id) {
			problems = append(problems, fmt.Sprintf("X-Request-ID %q", id))
		}
		if o := r.Header.Get("Access-Control-Allow-Origin"); o != "" && o != "*" {
			problems = append(problems, fmt.Sprintf("CORS allows %q, which no environment lists", o))
		}
		if c.E.Kind.isAPI() && r.Status >= 400 && c.Want == nil && r.Header.Get("Content-Type") != "application/json" {
			problems = append(problems, fmt.Sprintf("API error with Content-Type %q", r.Header.Get("Content-Type")))
		}
	}
	allowed := map[string]bool{"throttles": true, "events": true}
	if c.E.Allowed != nil && !r.Closed {
		for _, k := range c.E.Allowed(r) {
			allowed[k] = true
		}
	}
	if d := changed(before, after, allowed); len(d) > 0 {
		problems = append(problems, "stored: "+strings.Join(d, ", "))
	}
	if logged, _ := ts.logs.errorsSince(mark); len(logged) > 0 {
		problems = append(problems, fmt.Sprintf("the server logged %d error(s), first: %s", len(logged), clip(logged[0], 500)))
	}
	for _, p := range problems {
		t.Errorf("BUG: %s\n    request: %s %s (%d-byte body)", p, req.Method, clip(fmt.Sprintf("%q", req.Target), 200), len(req.Body))
	}
}
