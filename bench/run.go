package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/password"
)

// ---- mixes ----

// mix is a weighted choice of top-level operations.
type mix struct {
	Name    string         `json:"name"`
	Weights map[string]int `json:"weights"`
	ops     []op
	cum     []int
}

var presets = map[string]string{
	"default":  "refresh=50,user-get=15,flow=12,jwks=10,user-list=5,signin=3,hosted-signin=3,signup=2",
	"refresh":  "refresh=1",
	"exchange": "exchange=1",
	"flow":     "flow=1",
	"signin":   "signin=1",
	"hosted":   "hosted-signin=1",
	"signup":   "signup=1",
	"jwks":     "jwks=1",
	"users":    "user-get=3,user-list=1",
}

func parseMix(s string) (*mix, error) {
	spec, name := s, s
	if p, ok := presets[s]; ok {
		spec = p
	} else {
		name = "custom"
	}
	m := &mix{Name: name, Weights: map[string]int{}}
	total := 0
	for part := range strings.SplitSeq(spec, ",") {
		k, w, found := strings.Cut(strings.TrimSpace(part), "=")
		n := 1
		if found {
			var err error
			if n, err = strconv.Atoi(w); err != nil || n < 0 {
				return nil, fmt.Errorf("--mix: bad weight in %q", part)
			}
		}
		o, ok := opByName(k)
		if !ok || o == opEmail || o == opVerify {
			return nil, fmt.Errorf("--mix: unknown operation %q (presets: %s; operations: refresh, exchange, flow, hosted-signin, signin, signup, jwks, user-get, user-list)", k, presetNames())
		}
		if n == 0 {
			continue
		}
		if o == opExchange && spec != "exchange=1" {
			return nil, fmt.Errorf("--mix: exchange (pre-minted codes) runs alone; use flow in a mix")
		}
		total += n
		m.ops = append(m.ops, o)
		m.cum = append(m.cum, total)
		m.Weights[k] += n
	}
	if total == 0 {
		return nil, fmt.Errorf("--mix %q has no operations", s)
	}
	return m, nil
}

func presetNames() string {
	var ns []string
	for k := range presets {
		ns = append(ns, k)
	}
	sort.Strings(ns)
	return strings.Join(ns, ", ")
}

func (m *mix) pick(r *rand.Rand) op {
	if len(m.ops) == 1 {
		return m.ops[0]
	}
	n := r.IntN(m.cum[len(m.cum)-1])
	for i, c := range m.cum {
		if n < c {
			return m.ops[i]
		}
	}
	return m.ops[len(m.ops)-1]
}

func (m *mix) has(os ...op) bool {
	for _, o := range m.ops {
		for _, x := range os {
			if o == x {
				return true
			}
		}
	}
	return false
}

// single returns the mix's only operation, if it has one.
func (m *mix) single() (op, bool) {
	if len(m.ops) == 1 {
		return m.ops[0], true
	}
	return 0, false
}

func (m *mix) passwordOps() bool { return m.has(opSignin, opHosted, opSignup) }

// ---- set-up ----

// createPool creates n verified users through the Users API, each with an
// imported argon2id hash of the bench password at the default parameters
// (one hash made here, so the pool costs the server no hashing).
func (l *load) createPool(ctx context.Context, n, workers int, hash string) error {
	l.users = make([]poolUser, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for w := range min(workers, n) {
		v := newVU(-1-w, l)
		wg.Go(func() {
			defer v.raw.close()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				email := fmt.Sprintf("pool-%s-%d@bench.example.com", l.runID, i)
				body, _ := json.Marshal(map[string]any{"email": email, "password_hash": hash, "password_hash_type": "argon2",
					"email_verified": true, "first_name": "Pool", "last_name": strconv.Itoa(i), "metadata": map[string]string{"plan": "bench"}})
				r, err := v.do(ctx, v.api, "POST", l.base()+"/user_management/users", "application/json", body, true)
				if err == nil && r.status != 201 {
					err = statusError("create user", r)
				}
				var u struct{ ID string }
				if err == nil {
					err = json.Unmarshal(r.body, &u)
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				l.users[i] = poolUser{id: u.ID, email: email}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// prepareVUs signs every VU in once on the hosted page (one argon2id
// verification each), which gives it a browser session and a refresh chain.
func (l *load) prepareVUs(ctx context.Context, vus []*vu) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(vus))
	sem := make(chan struct{}, 16)
	for _, v := range vus {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			var err error
			for range 3 {
				var c *http.Client
				var tr *tokenResponse
				if c, tr, err = v.hostedSignIn(ctx, time.Now(), false); err == nil {
					v.browser, v.rt = c, tr.RefreshToken
					return
				}
			}
			errs <- fmt.Errorf("VU %d sign-in: %w", v.id, err)
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// mintCodes makes up to n authorization codes through the VUs' browser
// sessions (authorize → 302 with a code), for the exchange mix, stopping
// after limit; it returns how many it made and how many it aimed at
// (n, or fewer as set below). With fit > 0, it stops
// earlier, at twice what it would mint in fit at the rate of its first
// two seconds, so that a slow machine does not spend limit minting codes
// a run of length fit will not use: exchanges have run at most ~1.2 times
// as fast as minting (ES256 on SQLite; with RS256 an exchange also pays
// for an RSA signature, and runs slower than minting).
func (l *load) mintCodes(ctx context.Context, vus []*vu, n int, limit, fit time.Duration) (int, int, error) {
	l.codes = make(chan string, n)
	var left atomic.Int64
	left.Store(int64(n))
	aim := n // lowered by the probe, read once it has ended
	var firstErr atomic.Pointer[error]
	mctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var probing sync.WaitGroup
	if fit > 0 {
		const probe = 2 * time.Second
		probing.Go(func() {
			select {
			case <-mctx.Done():
				return
			case <-time.After(probe):
			}
			made := int64(len(l.codes))
			enough := 2 * made * int64(fit) / int64(probe)
			for {
				cur := left.Load()
				if enough-made >= cur {
					return
				}
				if left.CompareAndSwap(cur, enough-made) {
					aim = int(enough)
					return
				}
			}
		})
	}
	var wg sync.WaitGroup
	for _, v := range vus {
		wg.Go(func() {
			for left.Add(-1) >= 0 && mctx.Err() == nil {
				code, err := v.authorizeWithSession(mctx)
				if err != nil {
					if mctx.Err() == nil {
						firstErr.CompareAndSwap(nil, &err)
					}
					return
				}
				l.codes <- code
			}
		})
	}
	wg.Wait()
	cancel() // ends the probe if it is still waiting
	probing.Wait()
	if e := firstErr.Load(); e != nil {
		return len(l.codes), aim, *e
	}
	return len(l.codes), aim, ctx.Err()
}

// settle waits (at most 10 s) until the servers' resident memory stops
// falling after the set-up's password hashing, so the peak measured in the
// window belongs to the window's load.
func (l *load) settle(ctx context.Context) {
	if len(l.t.pids) == 0 || l.t.inprocess {
		return
	}
	total := func() uint64 {
		var n uint64
		for _, pid := range l.t.pids {
			r, _, _ := procMem(pid)
			n += r
		}
		return n
	}
	prev := total()
	for range 10 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		cur := total()
		if cur+2<<20 > prev {
			return
		}
		prev = cur
	}
}

// ---- measuring the server ----

type snapshot struct {
	at    time.Time
	cpu   []time.Duration
	hash  []hashStats
	self  time.Duration
	pgCPU time.Duration
	pg    *pgStats
}

type pgStats struct {
	commits, rollbacks, written int64
	walSyncs, walBytes          int64 // cluster-wide (pg_stat_wal)
}

func (l *load) snap(ctx context.Context, pg *pgx.Conn) snapshot {
	s := snapshot{at: time.Now()}
	for _, pid := range l.t.pids {
		d, _ := procCPU(pid)
		s.cpu = append(s.cpu, d)
	}
	for _, u := range l.t.urls {
		s.hash = append(s.hash, scrapeHashStats(ctx, u))
	}
	s.self, _ = procCPU(os.Getpid())
	if pg != nil {
		s.pgCPU = commCPU("postgres")
		var p pgStats
		if err := pg.QueryRow(ctx, `SELECT xact_commit, xact_rollback, tup_inserted + tup_updated + tup_deleted
			FROM pg_stat_database WHERE datname = $1`, l.t.pgDatabase).Scan(&p.commits, &p.rollbacks, &p.written); err == nil {
			s.pg = &p
			pg.QueryRow(ctx, `SELECT wal_sync, wal_bytes::bigint FROM pg_stat_wal`).Scan(&p.walSyncs, &p.walBytes)
		}
	}
	return s
}

// hashStats are a node's password hashing counters (its /metrics).
type hashStats struct {
	computations int64
	cpu          time.Duration
	ok           bool
}

// scrapeHashStats reads gatehouse_password_hashes_total and
// gatehouse_password_hash_cpu_seconds_total from the node at url; ok is
// false if it has no such metrics (an older binary) or cannot be reached.
func scrapeHashStats(ctx context.Context, url string) hashStats {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url+"/metrics", nil)
	if err != nil {
		return hashStats{}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return hashStats{}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil || res.StatusCode != 200 {
		return hashStats{}
	}
	var h hashStats
	var found int
	for line := range strings.Lines(string(b)) {
		name, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			continue
		}
		switch name {
		case "gatehouse_password_hashes_total":
			h.computations, found = int64(f), found+1
		case "gatehouse_password_hash_cpu_seconds_total":
			h.cpu, found = time.Duration(f*1e9), found+1
		}
	}
	h.ok = found == 2
	return h
}

// NodeStats is one server process over the measured window.
type NodeStats struct {
	URL        string  `json:"url"`
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpu_seconds"`
	CPUPercent float64 `json:"cpu_percent"` // 100 = one core
	// HashComputations and HashCPUSeconds are the password hashes the node
	// computed in the window and the CPU time its hashing threads spent on
	// them, from its metrics (absent for a binary without them).
	HashComputations int64   `json:"hash_computations,omitempty"`
	HashCPUSeconds   float64 `json:"hash_cpu_seconds,omitempty"`
	// PeakRSSMB is VmHWM, reset at the start of the window when possible
	// (PeakReset), else since the process started.
	PeakRSSMB       float64 `json:"peak_rss_mb"`
	PeakReset       bool    `json:"peak_reset"`
	MaxSampledRSSMB float64 `json:"max_sampled_rss_mb"`
	// MedianRSSMB is the median of the RSS sampled every 200 ms: the
	// typical footprint, where the peak may be garbage left by password
	// hashing that the Go runtime has not returned yet.
	MedianRSSMB float64 `json:"median_rss_mb"`
	EndRSSMB    float64 `json:"end_rss_mb"`
}

// DBStats is the PostgreSQL load over the measured window. Transactions
// count read-only ones too (every autocommit SELECT is one).
type DBStats struct {
	Transactions       int64   `json:"transactions"`
	Rollbacks          int64   `json:"rollbacks"`
	RowsWritten        int64   `json:"rows_written"`
	WALSyncs           int64   `json:"wal_syncs"`
	WALBytes           int64   `json:"wal_bytes"`
	TxPerRequest       float64 `json:"transactions_per_request"`
	RowsPerRequest     float64 `json:"rows_written_per_request"`
	WALSyncsPerRequest float64 `json:"wal_syncs_per_request"`
	PostgresCPUSeconds float64 `json:"postgres_cpu_seconds"`
	PostgresCPUPercent float64 `json:"postgres_cpu_percent"`
	// PostgresCPUPer100 is the postgres processes' CPU (% of one core) per
	// 100 HTTP requests a second.
	PostgresCPUPer100 float64 `json:"postgres_cpu_percent_per_100_rps"`
	Note              string  `json:"note"`
}

// ServerStats sums up the servers over the measured window.
type ServerStats struct {
	Nodes            []NodeStats `json:"nodes"`
	CPUSeconds       float64     `json:"cpu_seconds"`
	HashComputations int64       `json:"hash_computations,omitempty"`
	HashCPUSeconds   float64     `json:"hash_cpu_seconds,omitempty"`
	CPUPercent       float64     `json:"cpu_percent"`
	InProcess        bool        `json:"in_process"`
	ClientCPUPercent float64     `json:"client_cpu_percent"`
	DB               *DBStats    `json:"db,omitempty"`
}

// ---- phases ----

// PhaseResult is what one timed run measured.
type PhaseResult struct {
	Label        string     `json:"label"`
	Rate         float64    `json:"rate,omitempty"` // fixed arrival rate, ops/s; 0 = closed loop
	ElapsedS     float64    `json:"elapsed_s"`
	Ops          []OpResult `json:"ops"`
	TopLevelPerS float64    `json:"ops_per_second"`
	RequestsPerS float64    `json:"http_requests_per_second"`
	Missed       int64      `json:"missed_arrivals,omitempty"`
	// At a fixed rate: operations that started over lateStartLimit after
	// their scheduled time (every VU was busy, or the load generator was
	// short of CPU), and the longest such wait. Their latency includes
	// the bench's own queue.
	LateStarts     int64         `json:"late_starts,omitempty"`
	LateStartMaxMs float64       `json:"late_start_max_ms,omitempty"`
	EndedEarly     string        `json:"ended_early,omitempty"`
	Server         *ServerStats  `json:"server,omitempty"`
	Interrupted    bool          `json:"interrupted,omitempty"`
	elapsed        time.Duration `json:"-"`

	// ServerLatency is the servers' own latency per route, from their
	// access logs (see RouteLatency).
	ServerLatency []RouteLatency `json:"server_latency,omitempty"`
}

// lateStartShare is the share of the window's operations that started
// late.
func (p *PhaseResult) lateStartShare() float64 {
	n := p.TopLevelPerS * p.ElapsedS
	if n <= 0 {
		return 0
	}
	return float64(p.LateStarts) / n
}

func (p *PhaseResult) op(o op) *OpResult {
	for i := range p.Ops {
		if p.Ops[i].Op == opNames[o] {
			return &p.Ops[i]
		}
	}
	return nil
}

type phaseOpts struct {
	label    string
	warmup   time.Duration
	duration time.Duration
	rate     float64
	progress time.Duration
	onStart  func() // when measuring starts (profiling)
	onStop   func()
}

// lateStartLimit is how late after its scheduled start an operation may
// begin (the schedule ticks every millisecond) before the bench counts
// it as held back by the bench itself.
const lateStartLimit = 5 * time.Millisecond

// phase runs the VUs through the mix: a warm-up that is not recorded, then
// the measured window. With a rate, operations start on a fixed schedule
// (open loop) and latency counts from the scheduled start, so a slow
// server cannot hide its queueing.
func (l *load) phase(ctx context.Context, vus []*vu, m *mix, o phaseOpts) *PhaseResult {
	w := &window{}
	l.win.Store(w)
	for _, v := range vus {
		v.rec = newRecorder()
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var early sync.Once
	earlyC := make(chan struct{})
	endEarly := func() { early.Do(func() { close(earlyC) }) }

	var sched chan time.Time
	var missed atomic.Int64
	if o.rate > 0 {
		sched = make(chan time.Time, 1<<16)
		go func() {
			start := time.Now()
			var i int64
			t := time.NewTicker(time.Millisecond)
			defer t.Stop()
			for {
				now := time.Now()
				for {
					due := start.Add(time.Duration(float64(i) / o.rate * float64(time.Second)))
					if due.After(now) {
						break
					}
					select {
					case sched <- due:
					default:
						missed.Add(1)
					}
					i++
				}
				select {
				case <-pctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for _, v := range vus {
		wg.Go(func() {
			for pctx.Err() == nil {
				start := time.Now()
				if sched != nil {
					select {
					case start = <-sched:
					case <-pctx.Done():
						return
					}
					v.rec.started(w, start)
				}
				if !v.run(pctx, m.pick(v.rng), start) {
					endEarly()
					return
				}
			}
		})
	}

	var pg *pgx.Conn
	if l.t.pgDatabase != "" {
		if c, err := pgx.Connect(ctx, l.t.pgAdminURL); err == nil {
			pg = c
			defer c.Close(context.Background())
		}
	}
	res := &PhaseResult{Label: o.label, Rate: o.rate}
	prog := newProgress(l, m, o.label, o.progress)
	wait := func(d time.Duration) bool {
		deadline := time.After(d)
		for {
			select {
			case <-deadline:
				return true
			case <-ctx.Done():
				res.Interrupted = true
				return false
			case <-earlyC:
				res.EndedEarly = "no pre-minted codes left (raise --codes)"
				return false
			case <-prog.tick():
				prog.print(w)
			}
		}
	}
	var before snapshot
	var sampler *rssSampler
	var reset []bool
	var marks logMarks
	measured := false
	if wait(o.warmup) {
		for _, pid := range l.t.pids {
			reset = append(reset, !l.t.inprocess && resetPeakRSS(pid))
		}
		before = l.snap(ctx, pg)
		sampler = startRSSSampler(l.t.pids, 200*time.Millisecond)
		marks = markLogs(l.t.logs)
		w.start.Store(before.at.UnixNano())
		measured = true
		if o.onStart != nil {
			o.onStart()
		}
		prog.measuring = true
		wait(o.duration)
	}
	w.stopped.Store(true)
	end := time.Now()
	if o.onStop != nil && measured {
		o.onStop()
	}
	var after snapshot
	var peaks map[int]rssStats
	if measured {
		after = l.snap(context.Background(), pg)
		peaks = sampler.Stop()
	}
	cancel()
	wg.Wait()
	prog.done()
	if !measured {
		return res
	}
	res.elapsed = end.Sub(before.at)
	res.ElapsedS = res.elapsed.Seconds()
	var recs []*recorder
	var lateMax time.Duration
	for _, v := range vus {
		recs = append(recs, v.rec)
		res.LateStarts += int64(v.rec.lateStarts)
		lateMax = max(lateMax, v.rec.lateMax)
	}
	res.LateStartMaxMs = float64(lateMax) / 1e6
	res.Ops = summarize(recs, res.elapsed)
	for _, r := range res.Ops {
		if o, _ := opByName(r.Op); m.has(o) {
			res.TopLevelPerS += float64(r.Count+r.Errors) / res.ElapsedS
		}
	}
	res.RequestsPerS = float64(w.measuredRq.Load()) / res.ElapsedS
	res.Missed = missed.Load()
	res.Server = l.serverStats(before, after, peaks, reset, res)
	res.ServerLatency = serverLatency(l.t.logs, marks, before.at, end)
	return res
}

func (l *load) serverStats(before, after snapshot, peaks map[int]rssStats, reset []bool, res *PhaseResult) *ServerStats {
	wall := after.at.Sub(before.at).Seconds()
	s := &ServerStats{InProcess: l.t.inprocess, ClientCPUPercent: 100 * (after.self - before.self).Seconds() / wall}
	for i, pid := range l.t.pids {
		n := NodeStats{PID: pid}
		if i < len(l.t.urls) {
			n.URL = l.t.urls[i]
		}
		if i < len(before.cpu) && i < len(after.cpu) {
			n.CPUSeconds = (after.cpu[i] - before.cpu[i]).Seconds()
			n.CPUPercent = 100 * n.CPUSeconds / wall
		}
		if i < len(before.hash) && i < len(after.hash) && before.hash[i].ok && after.hash[i].ok {
			n.HashComputations = after.hash[i].computations - before.hash[i].computations
			n.HashCPUSeconds = (after.hash[i].cpu - before.hash[i].cpu).Seconds()
		}
		rss, hwm, _ := procMem(pid)
		n.PeakRSSMB, n.EndRSSMB = mb(hwm), mb(rss)
		n.MaxSampledRSSMB, n.MedianRSSMB = mb(peaks[pid].max), mb(peaks[pid].median)
		n.PeakReset = i < len(reset) && reset[i]
		s.Nodes = append(s.Nodes, n)
		s.CPUSeconds += n.CPUSeconds
		s.HashComputations += n.HashComputations
		s.HashCPUSeconds += n.HashCPUSeconds
	}
	if l.t.inprocess {
		s.ClientCPUPercent = 0 // the same process
	}
	s.CPUPercent = 100 * s.CPUSeconds / wall
	if before.pg != nil && after.pg != nil {
		d := &DBStats{Transactions: after.pg.commits - before.pg.commits, Rollbacks: after.pg.rollbacks - before.pg.rollbacks,
			RowsWritten:        after.pg.written - before.pg.written,
			WALSyncs:           after.pg.walSyncs - before.pg.walSyncs,
			WALBytes:           after.pg.walBytes - before.pg.walBytes,
			PostgresCPUSeconds: (after.pgCPU - before.pgCPU).Seconds(),
			Note: "transactions and rows are this database's (pg_stat_database, flushed by backends at most once a second, so exact to about a second of load); " +
				"WAL syncs and postgres CPU are the whole PostgreSQL server's, other databases included"}
		d.PostgresCPUPercent = 100 * d.PostgresCPUSeconds / wall
		if n := res.RequestsPerS * wall; n > 0 {
			d.TxPerRequest = float64(d.Transactions) / n
			d.RowsPerRequest = float64(d.RowsWritten) / n
			d.WALSyncsPerRequest = float64(d.WALSyncs) / n
			d.PostgresCPUPer100 = d.PostgresCPUPercent / (res.RequestsPerS / 100)
		}
		s.DB = d
	}
	return s
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// ---- progress ----

type progress struct {
	l         *load
	m         *mix
	label     string
	every     time.Duration
	t         *time.Ticker
	start     time.Time
	last      time.Time
	lastOK    [nOps]int64
	lastCPU   time.Duration
	measuring bool
}

func newProgress(l *load, m *mix, label string, every time.Duration) *progress {
	p := &progress{l: l, m: m, label: label, every: every, start: time.Now(), last: time.Now()}
	if every > 0 {
		p.t = time.NewTicker(every)
	}
	for _, pid := range l.t.pids {
		d, _ := procCPU(pid)
		p.lastCPU += d
	}
	return p
}

func (p *progress) tick() <-chan time.Time {
	if p.t == nil {
		return nil
	}
	return p.t.C
}

func (p *progress) done() {
	if p.t != nil {
		p.t.Stop()
	}
}

func (p *progress) print(w *window) {
	now := time.Now()
	dt := now.Sub(p.last).Seconds()
	var parts []string
	total, fails := 0.0, int64(0)
	for o := range nOps {
		ok := w.ok[o].Load()
		fails += w.failed[o].Load()
		r := float64(ok-p.lastOK[o]) / dt
		p.lastOK[o] = ok
		if r > 0 && o != opEmail {
			parts = append(parts, fmt.Sprintf("%s %.0f", opNames[o], r))
		}
		if p.m.has(o) {
			total += r
		}
	}
	var cpu time.Duration
	var rss uint64
	for _, pid := range p.l.t.pids {
		d, _ := procCPU(pid)
		cpu += d
		r, _, _ := procMem(pid)
		rss += r
	}
	phase := "warm-up"
	if p.measuring {
		phase = "measuring"
	}
	line := fmt.Sprintf("[%s %5.1fs %s] %.0f ops/s (%s) | errors %d", p.label, now.Sub(p.start).Seconds(), phase, total, strings.Join(parts, ", "), fails)
	if len(p.l.t.pids) > 0 {
		line += fmt.Sprintf(" | server CPU %.0f%% RSS %.0f MB", 100*(cpu-p.lastCPU).Seconds()/dt, mb(rss))
	}
	p.lastCPU, p.last = cpu, now
	fmt.Fprintln(os.Stderr, line)
}

// ---- ceiling and hash rate ----

// CeilingResult is the bare net/http JSON handler under the same VUs.
type CeilingResult struct {
	VUs       int     `json:"vus"`
	PerSecond float64 `json:"per_second"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
}

// measureCeiling serves a small JSON body from a bare net/http handler in
// this process on loopback and drives it like the server's API (the same
// client, the same number of VUs, closed loop).
func measureCeiling(ctx context.Context, vus int, warmup, d time.Duration) (*CeilingResult, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: bareHandler()}
	go hs.Serve(ln)
	defer hs.Close()
	host := ln.Addr().String()
	var startNs atomic.Int64
	var stopped atomic.Bool
	lats := make([][]time.Duration, vus)
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range vus {
		wg.Go(func() {
			rc := newRawClient(nil) // the client API requests use
			defer rc.close()
			for cctx.Err() == nil {
				t0 := time.Now()
				if _, err := rc.do(cctx, "GET", host, "/", "", nil, ""); err != nil {
					continue
				}
				if s := startNs.Load(); s != 0 && t0.UnixNano() >= s && !stopped.Load() {
					lats[i] = append(lats[i], time.Since(t0))
				}
			}
		})
	}
	select {
	case <-time.After(warmup):
	case <-ctx.Done():
	}
	t0 := time.Now()
	startNs.Store(t0.UnixNano())
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	stopped.Store(true)
	elapsed := time.Since(t0)
	cancel()
	wg.Wait()
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return &CeilingResult{VUs: vus, PerSecond: float64(len(all)) / elapsed.Seconds(),
		P50Ms: ms(quantile(all, 0.5)), P99Ms: ms(quantile(all, 0.99))}, nil
}

// HashRate is argon2id verification alone, as the server does it.
type HashRate struct {
	Params    string  `json:"params"`
	Bound     int     `json:"concurrency_bound"`
	Callers   int     `json:"callers"`
	PerSecond float64 `json:"verifications_per_second"`
	// PerCPUSecond is verifications per CPU-second of this process (which
	// does nothing else meanwhile): steadier than PerSecond on a shared
	// machine, and comparable with sign-ins per server CPU-second.
	PerCPUSecond float64 `json:"verifications_per_cpu_second"`
	// Runs are the measurements pooled into the figures above: one before
	// the run and, for password mixes, one after, so that a machine whose
	// speed drifts during the run is compared with both ends of it.
	Runs []HashRun `json:"runs,omitempty"`
}

// HashRun is one measurement of argon2id alone.
type HashRun struct {
	Verifications int64   `json:"verifications"`
	Seconds       float64 `json:"seconds"`
	CPUSeconds    float64 `json:"cpu_seconds"`
	// ThreadCPUSeconds is the hashing threads' own CPU time (Hasher.Stats),
	// without what this process spent around them.
	ThreadCPUSeconds float64 `json:"thread_cpu_seconds"`
}

// add pools another measurement into h.
func (h *HashRate) add(r HashRun) {
	h.Runs = append(h.Runs, r)
	var n int64
	var wall, cpu float64
	for _, r := range h.Runs {
		n, wall, cpu = n+r.Verifications, wall+r.Seconds, cpu+r.CPUSeconds
	}
	h.PerSecond, h.PerCPUSecond = float64(n)/wall, 0
	if cpu > 0 {
		h.PerCPUSecond = float64(n) / cpu
	}
}

// measureHashRate verifies the bench password against its hash with the
// server's Hasher (default parameters, at most GOMAXPROCS at once) from
// callers goroutines: the ceiling for password sign-ins on this machine.
func measureHashRate(ctx context.Context, h *password.Hasher, hash, pw string, callers int, d time.Duration) HashRun {
	var n atomic.Int64
	cctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	cpu0, _ := procCPU(os.Getpid())
	_, thread0 := h.Stats()
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for cctx.Err() == nil {
				if ok, _, err := h.Verify(cctx, hash, pw); ok && err == nil {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	cpu1, _ := procCPU(os.Getpid())
	_, thread1 := h.Stats()
	return HashRun{Verifications: n.Load(), Seconds: time.Since(start).Seconds(), CPUSeconds: (cpu1 - cpu0).Seconds(),
		ThreadCPUSeconds: (thread1 - thread0).Seconds()}
}

func newHashRate(callers, bound int) *HashRate {
	p := password.DefaultParams
	return &HashRate{Params: fmt.Sprintf("argon2id m=%d KiB, t=%d, p=%d", p.Memory, p.Time, p.Threads),
		Bound: bound, Callers: callers}
}

// PairedRatio compares password sign-ins with argon2id alone in short
// alternating slices: hash, sign-ins, hash, sign-ins, … hash. Each sign-in
// slice is set against the two hash slices beside it, so a drift of the
// machine's speed (which moved a before-and-after comparison by ±15 %)
// mostly cancels within the pair; the median pair judges the target.
type PairedRatio struct {
	Pairs  []Pair  `json:"pairs"`
	Median float64 `json:"median_ratio"`
}

// Pair is one sign-in slice and the hash rate around it.
type Pair struct {
	SignInsPerServerCPUSecond float64 `json:"signins_per_server_cpu_second"`
	HashPerCPUSecond          float64 `json:"verifications_per_cpu_second"` // the slices before and after, pooled
	Ratio                     float64 `json:"ratio"`
	// The ratio taken apart, where the server reports its hashing (see
	// NodeStats): the CPU time of one hash on the hashing thread inside the
	// server and alone, and the share of the server's CPU that went to
	// hashing. Ratio is about HashShare × AloneHashMs / ServerHashMs, a
	// little more, since the hash rate alone is per CPU-second of the whole
	// load generator, not of its hashing thread.
	ServerHashMs float64 `json:"server_hash_ms,omitempty"`
	AloneHashMs  float64 `json:"alone_hash_ms,omitempty"`
	HashShare    float64 `json:"hash_share,omitempty"`
}

const (
	pairHashTime   = 3 * time.Second
	pairSignInTime = 4 * time.Second
)

// pairedRatio runs n pairs (see PairedRatio) with the run's VUs and mix.
func (l *load) pairedRatio(ctx context.Context, vus []*vu, m *mix, h *password.Hasher, hash string, n int) *PairedRatio {
	callers := len(vus)
	prev := measureHashRate(ctx, h, hash, l.password, callers, pairHashTime)
	pr := &PairedRatio{}
	for range n {
		p := l.phase(ctx, vus, m, phaseOpts{label: "pair", warmup: time.Second, duration: pairSignInTime})
		next := measureHashRate(ctx, h, hash, l.password, callers, pairHashTime)
		o := p.op(opSignin)
		if ctx.Err() != nil || o == nil || p.Server == nil || p.Server.CPUSeconds <= 0 || prev.CPUSeconds+next.CPUSeconds <= 0 {
			break
		}
		pair := Pair{SignInsPerServerCPUSecond: float64(o.Count) / p.Server.CPUSeconds,
			HashPerCPUSecond: float64(prev.Verifications+next.Verifications) / (prev.CPUSeconds + next.CPUSeconds)}
		pair.Ratio = pair.SignInsPerServerCPUSecond / pair.HashPerCPUSecond
		if sv := p.Server; sv.HashComputations > 0 && prev.Verifications+next.Verifications > 0 {
			pair.ServerHashMs = 1e3 * sv.HashCPUSeconds / float64(sv.HashComputations)
			pair.AloneHashMs = 1e3 * (prev.ThreadCPUSeconds + next.ThreadCPUSeconds) / float64(prev.Verifications+next.Verifications)
			pair.HashShare = sv.HashCPUSeconds / sv.CPUSeconds
		}
		pr.Pairs = append(pr.Pairs, pair)
		prev = next
	}
	if len(pr.Pairs) == 0 {
		return nil
	}
	ratios := make([]float64, len(pr.Pairs))
	for i, p := range pr.Pairs {
		ratios[i] = p.Ratio
	}
	slices.Sort(ratios)
	if k := len(ratios); k%2 == 1 {
		pr.Median = ratios[k/2]
	} else {
		pr.Median = (ratios[k/2-1] + ratios[k/2]) / 2
	}
	return pr
}
