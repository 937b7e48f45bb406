package main

import (
	"maps"
	"slices"
	"sort"
	"sync/atomic"
	"time"
)

// op names one kind of operation the virtual users perform.
type op int

const (
	opRefresh op = iota
	opExchange
	opFlow
	opHosted
	opSignin
	opSignup
	opVerify
	opEmail
	opJWKS
	opUserGet
	opUserList
	nOps
)

var opNames = [nOps]string{
	opRefresh:  "refresh",
	opExchange: "exchange",
	opFlow:     "flow",
	opHosted:   "hosted-signin",
	opSignin:   "signin",
	opSignup:   "signup",
	opVerify:   "signup-verify",
	opEmail:    "email-delivery",
	opJWKS:     "jwks",
	opUserGet:  "user-get",
	opUserList: "user-list",
}

// opInfo documents each operation for the report: HTTP requests per op and
// whether it runs an argon2id hash (password ops are excluded from the p99
// target and are bounded by hashing).
var opInfo = [nOps]struct {
	requests string
	password bool
	what     string
}{
	opRefresh:  {"1", false, "POST /user_management/authenticate grant_type=refresh_token; each VU follows its own rotation chain"},
	opExchange: {"1", false, "POST /user_management/authenticate grant_type=authorization_code (timed alone, also inside flow, hosted-signin, signup-verify)"},
	opFlow:     {"2", false, "returning browser: GET /user_management/authorize with the browser-session cookie → 302 redirect_uri?code → exchange"},
	opHosted:   {"4", true, "new browser: GET authorize → 302 → GET hosted sign-in page → POST form (argon2id) → 303 redirect_uri?code → exchange"},
	opSignin:   {"1", true, "POST /user_management/authenticate grant_type=password (argon2id)"},
	opSignup:   {"3", true, "new browser from its own IP: GET authorize?screen_hint=sign-up → 302 → GET sign-up page → POST form (argon2id hash, user, challenge, email queued) → 303 verify-email"},
	opVerify:   {"3", false, "after the email arrives: GET verify-email page → POST the 6-digit code → 303 redirect_uri?code → exchange"},
	opEmail:    {"-", false, "not a request: time from the sign-up's 303 to the verification email reaching the bench's SMTP sink"},
	opJWKS:     {"1", false, "GET /sso/jwks/{client_id}"},
	opUserGet:  {"1", false, "GET /user_management/users/{id} (API key), random pool user"},
	opUserList: {"1", false, "GET /user_management/users?limit=10 (API key)"},
}

func opByName(name string) (op, bool) {
	for i, n := range opNames {
		if n == name {
			return op(i), true
		}
	}
	return 0, false
}

// recorder holds one virtual user's samples for one phase; VUs never
// share a recorder, so recording takes no lock.
type recorder struct {
	done [nOps]int             // successes that ended inside the window
	lat  [nOps][]time.Duration // latencies of those that also started in it
	errs [nOps]map[string]int  // failures that ended inside the window, by kind
	// at a fixed rate: operations started in the window over
	// lateStartLimit after their scheduled time, and the latest of them
	lateStarts int
	lateMax    time.Duration
}

// started records when an operation scheduled for due began.
func (r *recorder) started(w *window, due time.Time) {
	if late := time.Since(due); late > lateStartLimit && w.measuring(due) {
		r.lateStarts++
		r.lateMax = max(r.lateMax, late)
	}
}

func newRecorder() *recorder {
	r := &recorder{}
	for i := range r.errs {
		r.errs[i] = map[string]int{}
	}
	return r
}

// window is the measured part of a phase. An operation counts towards
// the rates and errors when it ended inside the window, whenever it
// started: in a closed loop the operations in flight when the window
// opens end inside it, on CPU time the window measures (with 32 VUs
// queued for one hash slot, ~0.6 s of sign-ins). Its latency is kept only
// when it also started inside the window, so warm-up queueing does not
// reach the percentiles.
type window struct {
	start   atomic.Int64 // unix nanos; 0 = not measuring yet
	stopped atomic.Bool
	// live counters for the progress line (all phases, warm-up included)
	ok, failed [nOps]atomic.Int64
	requests   atomic.Int64 // HTTP requests sent (all)
	measuredRq atomic.Int64 // HTTP requests sent inside the window
}

// open reports whether the window is open now.
func (w *window) open() bool { return w.start.Load() != 0 && !w.stopped.Load() }

// measuring reports whether an operation that started at started, and
// has not yet ended, lies wholly inside the window so far.
func (w *window) measuring(started time.Time) bool {
	return w.open() && started.UnixNano() >= w.start.Load()
}

// add records one operation that has just ended, having started at started
// (its scheduled start in fixed-rate mode), and failed with kind ("" =
// success).
func (r *recorder) add(w *window, o op, started time.Time, d time.Duration, kind string) {
	if kind == "" {
		w.ok[o].Add(1)
	} else {
		w.failed[o].Add(1)
	}
	switch {
	case !w.open():
	case kind != "":
		r.errs[o][kind]++
	default:
		r.done[o]++
		if w.measuring(started) {
			r.lat[o] = append(r.lat[o], d)
		}
	}
}

// OpResult is the summary of one operation over the measured window.
type OpResult struct {
	Op       string `json:"op"`
	Requests string `json:"http_requests_per_op"`
	Password bool   `json:"argon2id"`
	Count    int    `json:"count"` // successes that ended in the window
	// LatencySamples is how many of them also started in the window: the
	// percentiles are theirs.
	LatencySamples int            `json:"latency_samples"`
	Errors         int            `json:"errors"`
	ErrorKinds     map[string]int `json:"error_kinds,omitempty"`
	PerSecond      float64        `json:"per_second"`
	P50Ms          float64        `json:"p50_ms"`
	P95Ms          float64        `json:"p95_ms"`
	P99Ms          float64        `json:"p99_ms"`
	MaxMs          float64        `json:"max_ms"`
	MeanMs         float64        `json:"mean_ms"`
	// OfCeiling is PerSecond over the bare net/http handler's rate.
	OfCeiling float64 `json:"of_ceiling,omitempty"`
	// PerServerCPUSecond is how many of these ops one fully used server
	// vCPU completes (count over the server's CPU seconds), set when the
	// run was dominated by this op (single-op mixes).
	PerServerCPUSecond float64 `json:"per_server_cpu_second,omitempty"`
}

// summarize merges the VUs' recorders into per-operation results.
func summarize(recs []*recorder, elapsed time.Duration) []OpResult {
	var out []OpResult
	for o := range nOps {
		var all []time.Duration
		errs := map[string]int{}
		done := 0
		for _, r := range recs {
			done += r.done[o]
			all = append(all, r.lat[o]...)
			for k, v := range r.errs[o] {
				errs[k] += v
			}
		}
		nerr := 0
		for _, v := range errs {
			nerr += v
		}
		if done == 0 && nerr == 0 {
			continue
		}
		slices.Sort(all)
		res := OpResult{Op: opNames[o], Requests: opInfo[o].requests, Password: opInfo[o].password,
			Count: done, LatencySamples: len(all), Errors: nerr, PerSecond: float64(done) / elapsed.Seconds()}
		if nerr > 0 {
			res.ErrorKinds = errs
		}
		if len(all) > 0 {
			var sum time.Duration
			for _, d := range all {
				sum += d
			}
			res.P50Ms = ms(quantile(all, 0.50))
			res.P95Ms = ms(quantile(all, 0.95))
			res.P99Ms = ms(quantile(all, 0.99))
			res.MaxMs = ms(all[len(all)-1])
			res.MeanMs = ms(sum / time.Duration(len(all)))
		}
		out = append(out, res)
	}
	return out
}

// quantile returns the q-quantile of sorted samples (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// sortedKinds lists error kinds, most frequent first.
func sortedKinds(m map[string]int) []string {
	ks := slices.Collect(maps.Keys(m))
	sort.Slice(ks, func(i, j int) bool {
		if m[ks[i]] != m[ks[j]] {
			return m[ks[i]] > m[ks[j]]
		}
		return ks[i] < ks[j]
	})
	return ks
}
