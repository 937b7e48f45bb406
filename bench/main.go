package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
)

type config struct {
	serverBin   string
	url         string
	pids        []int
	apiKey      string
	clientID    string
	redirectURI string
	db          string
	pgURL       string
	nodes       int
	inprocess   bool
	cpuprofile  string
	duration    time.Duration
	warmup      time.Duration
	vus         int
	mix         string
	alg         string
	rate        float64 // ops/s; 0 = closed loop
	ratePct     float64 // percent of a calibrated peak
	calibrate   time.Duration
	users       int
	codes       int
	mintTime    time.Duration
	ceiling     bool
	ceilingTime time.Duration
	hashTime    time.Duration
	pairs       int
	hashRate    string // auto, on, off
	jsonOut     string
	progress    time.Duration
	logLevel    string
	keep        bool
	dataDir     string
	signupIP    string
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	sub := ""
	if len(os.Args) > 1 {
		sub = os.Args[1]
	}
	switch sub {
	case "summarize":
		err = summarizeFiles(os.Stdout, os.Args[2:])
	case "bare":
		err = runBare(ctx, os.Args[2:], os.Stdout)
	case "bare-serve":
		err = serveBare(os.Args[2:])
	case "burn":
		err = runBurn(ctx, os.Args[2:], os.Stdout)
	default:
		err = run(ctx, os.Args[1:])
	}
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&cfg.serverBin, "server", "", "gatehouse binary to start (default: go build ./cmd/gatehouse into a temp dir)")
	fs.StringVar(&cfg.url, "url", "", "target already-running server(s) instead, comma-separated base URLs (needs --client-id, --api-key)")
	pids := fs.String("pid", "", "with --url: the server process ID(s), comma-separated, for CPU and memory figures")
	fs.StringVar(&cfg.apiKey, "api-key", os.Getenv("WORKOS_API_KEY"), "with --url: an API key of the environment (env WORKOS_API_KEY)")
	fs.StringVar(&cfg.clientID, "client-id", os.Getenv("WORKOS_CLIENT_ID"), "with --url: the environment's client ID (env WORKOS_CLIENT_ID)")
	fs.StringVar(&cfg.redirectURI, "redirect-uri", defaultRedirectURI, "with --url: a redirect URI registered in the environment")
	fs.StringVar(&cfg.db, "db", "sqlite", "database of the started server(s): sqlite (a new file) or postgres (a new database on --postgres-url, dropped after)")
	fs.StringVar(&cfg.pgURL, "postgres-url", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL server to create the bench database on (--db postgres); pool_ parameters such as pool_max_conns=4 go to the nodes only")
	fs.IntVar(&cfg.nodes, "nodes", 1, "number of server processes (more than one needs --db postgres); requests are spread round-robin")
	fs.BoolVar(&cfg.inprocess, "inprocess", false, "run the server inside the bench process (server.New) instead of a subprocess, e.g. to profile it")
	fs.StringVar(&cfg.cpuprofile, "cpuprofile", "", "with --inprocess: write a CPU profile of the measured window to this file")
	fs.DurationVar(&cfg.duration, "duration", 30*time.Second, "measured time")
	fs.DurationVar(&cfg.warmup, "warmup", 3*time.Second, "warm-up before measuring (not recorded)")
	fs.IntVar(&cfg.vus, "vus", 32, "virtual users (concurrent clients)")
	fs.StringVar(&cfg.mix, "mix", "default", "operation mix: "+presetNames()+", or weights like refresh=5,jwks=1")
	fs.StringVar(&cfg.alg, "alg", "RS256", "signing algorithm of the environment: RS256 or ES256")
	rate := fs.String("rate", "", "fixed arrival rate instead of a closed loop: N ops/s, or P% of the peak found by a closed-loop calibration run first")
	fs.DurationVar(&cfg.calibrate, "calibrate", 10*time.Second, "length of the calibration run for --rate P%")
	fs.IntVar(&cfg.users, "users", 200, "users created before the run (verified, with a password)")
	fs.IntVar(&cfg.codes, "codes", 0, "authorization codes minted before an exchange run (0 = twice what minting makes in the run's time at the rate of its first 2 s, at most 400,000); the run ends early when they run out")
	fs.DurationVar(&cfg.mintTime, "mint-time", 90*time.Second, "longest time spent minting codes before an exchange run")
	fs.BoolVar(&cfg.ceiling, "ceiling", false, "also measure a bare net/http JSON handler with the same VUs, and give every rate as a ratio to it")
	fs.DurationVar(&cfg.ceilingTime, "ceiling-time", 5*time.Second, "measured time of the ceiling run")
	fs.StringVar(&cfg.hashRate, "hash-rate", "auto", "measure argon2id verification alone (auto: when the mix has password operations; on; off)")
	fs.DurationVar(&cfg.hashTime, "hash-time", 5*time.Second, "measured time of the argon2id run")
	fs.IntVar(&cfg.pairs, "pairs", 4, "mix signin, closed loop: after the run, this many short sign-in slices, each between two argon2id-alone slices, whose paired ratios judge the sign-in target (0 = off)")
	fs.StringVar(&cfg.jsonOut, "json", "", "write the results as JSON to this file")
	fs.DurationVar(&cfg.progress, "progress", 2*time.Second, "progress line interval (0 = none)")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "server log level (logs go to a file in the temp dir)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temp dir (database, logs) and the PostgreSQL database")
	fs.StringVar(&cfg.signupIP, "signup-ip", "own", "own: each sign-up comes from its own loopback address (127.a.b.c); shared: from 127.0.0.1 like every other request, as behind a proxy (the server allows 10 emails a minute per IP)")
	fs.StringVar(&cfg.dataDir, "data-dir", "", "where to make the temp dir with the SQLite file and logs (default: the system temp dir; /dev/shm puts SQLite on tmpfs, where fsync is free)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	dbSet := false
	fs.Visit(func(f *flag.Flag) { dbSet = dbSet || f.Name == "db" })
	if cfg.url != "" && !dbSet {
		cfg.db = "unknown" // a running server's database, unless told
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for p := range strings.SplitSeq(*pids, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("--pid %q: not a process ID", p)
		}
		cfg.pids = append(cfg.pids, n)
	}
	if r := strings.TrimSpace(*rate); r != "" {
		if pct, ok := strings.CutSuffix(r, "%"); ok {
			v, err := strconv.ParseFloat(pct, 64)
			if err != nil || v <= 0 {
				return nil, fmt.Errorf("--rate %q: write 700 or 70%%", r)
			}
			cfg.ratePct = v
		} else {
			v, err := strconv.ParseFloat(r, 64)
			if err != nil || v <= 0 {
				return nil, fmt.Errorf("--rate %q: write 700 or 70%%", r)
			}
			cfg.rate = v
		}
	}
	switch {
	case cfg.alg != "RS256" && cfg.alg != "ES256":
		return nil, fmt.Errorf("--alg must be RS256 or ES256")
	case cfg.vus < 1:
		return nil, fmt.Errorf("--vus must be at least 1")
	case cfg.users < 1:
		return nil, fmt.Errorf("--users must be at least 1")
	case cfg.nodes < 1:
		return nil, fmt.Errorf("--nodes must be at least 1")
	case cfg.nodes > 1 && cfg.db != "postgres" && cfg.url == "":
		return nil, fmt.Errorf("--nodes %d needs --db postgres (SQLite is one node's file)", cfg.nodes)
	case cfg.nodes > 1 && cfg.inprocess:
		return nil, fmt.Errorf("--inprocess runs one node")
	case cfg.cpuprofile != "" && !cfg.inprocess:
		return nil, fmt.Errorf("--cpuprofile needs --inprocess (gatehouse serve has no profiling endpoint)")
	case cfg.signupIP != "own" && cfg.signupIP != "shared":
		return nil, fmt.Errorf("--signup-ip must be own or shared")
	case cfg.hashRate != "auto" && cfg.hashRate != "on" && cfg.hashRate != "off":
		return nil, fmt.Errorf("--hash-rate must be auto, on or off")
	}
	return cfg, nil
}

// hashAloneBound is how many verifications the hash-alone runs compute at
// once: what the server's nodes compute together. Servers the bench starts
// inherit its environment, so each has GATEHOUSE_HASH_CONCURRENCY slots or
// the default; the nodes hash side by side.
func hashAloneBound(nodes int) int {
	slots, _ := strconv.Atoi(os.Getenv("GATEHOUSE_HASH_CONCURRENCY"))
	if slots <= 0 {
		slots = password.DefaultConcurrency()
	}
	return slots * nodes
}

// Results is the JSON output.
type Results struct {
	Time      string         `json:"time"`
	Command   string         `json:"command"`
	Machine   string         `json:"machine"`
	DB        string         `json:"db"`
	Nodes     int            `json:"nodes"`
	InProcess bool           `json:"in_process"`
	Alg       string         `json:"alg"`
	VUs       int            `json:"vus"`
	Mix       *mix           `json:"mix"`
	Users     int            `json:"pool_users"`
	Ceiling   *CeilingResult `json:"ceiling,omitempty"`
	HashRate  *HashRate      `json:"argon2id_alone,omitempty"`
	Pairs     *PairedRatio   `json:"paired_ratio,omitempty"`
	Calibrate *PhaseResult   `json:"calibration,omitempty"`
	// Recheck is a second closed-loop calibration after a --rate P% run:
	// on a machine whose speed drifts, the rate may have been well above
	// P % of what the machine could do by then.
	Recheck *PhaseResult `json:"calibration_after,omitempty"`
	Run     *PhaseResult `json:"run"`
	Minted  *MintStats   `json:"codes_minted,omitempty"`
	Emails  *EmailStats  `json:"emails,omitempty"`
	Targets []Target     `json:"targets"`
}

// MintStats is how many authorization codes an exchange run minted
// before it started, how many it aimed at (--codes, or what its first two
// seconds of minting said the run needs), and how long that took.
type MintStats struct {
	Codes   int     `json:"codes"`
	Aim     int     `json:"aim"`
	Seconds float64 `json:"seconds"`
}

// EmailStats counts what reached the bench's SMTP sink.
type EmailStats struct {
	Received  int64 `json:"received"`
	Unclaimed int64 `json:"unclaimed"`
}

func run(ctx context.Context, args []string) error {
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	m, err := parseMix(cfg.mix)
	if err != nil {
		return err
	}
	res := &Results{Time: time.Now().UTC().Format(time.RFC3339), Command: "go run ./bench " + strings.Join(args, " "),
		Machine: machine(), DB: cfg.db, Nodes: cfg.nodes, InProcess: cfg.inprocess, Alg: cfg.alg, VUs: cfg.vus, Mix: m, Users: cfg.users}
	if cfg.url != "" {
		res.Nodes = len(strings.Split(cfg.url, ","))
	}

	if cfg.ceiling {
		logf("ceiling: bare net/http JSON handler, %d VUs, %s …", cfg.vus, cfg.ceilingTime)
		if res.Ceiling, err = measureCeiling(ctx, cfg.vus, time.Second, cfg.ceilingTime); err != nil {
			return err
		}
		logf("ceiling: %.0f req/s", res.Ceiling.PerSecond)
	}

	var t *target
	switch {
	case cfg.url != "":
		t, err = useRunning(cfg)
	case cfg.inprocess:
		t, err = startInProcess(ctx, cfg)
	default:
		t, err = startManaged(ctx, cfg)
	}
	if err != nil {
		return err
	}
	defer t.close()

	l := &load{t: t, transport: newTransport(cfg.vus*2+16, nil), password: "bench passphrase for " + randomSuffix(),
		runID: randomSuffix(), verifyOK: t.sink != nil, sharedIP: cfg.signupIP == "shared"}
	l.win.Store(&window{})
	hasher := password.NewHasher(password.DefaultParams, hashAloneBound(cfg.nodes))
	hash, err := hasher.Hash(ctx, l.password)
	if err != nil {
		return err
	}
	logf("creating %d users …", cfg.users)
	if err := l.createPool(ctx, cfg.users, 8, hash); err != nil {
		return fmt.Errorf("creating the user pool: %w", err)
	}
	vus := make([]*vu, cfg.vus)
	for i := range vus {
		vus[i] = newVU(i, l)
	}
	if m.has(opRefresh, opFlow, opExchange) {
		logf("signing in %d VUs on the hosted page (browser session + refresh chain each) …", cfg.vus)
		if err := l.prepareVUs(ctx, vus); err != nil {
			return err
		}
	}
	if m.has(opExchange) {
		n, fit := cfg.codes, time.Duration(0)
		if n == 0 {
			fit = cfg.warmup + cfg.duration
			if cfg.ratePct > 0 {
				fit += cfg.calibrate + 2*time.Second
			}
			// Room for the fastest machine seen (ES256 exchanges on
			// SQLite at ~12,000/s); the rate of minting sets the number.
			n = min(int(20000*fit.Seconds()), 400000)
		}
		logf("minting up to %d authorization codes (at most %s) …", n, cfg.mintTime)
		t0 := time.Now()
		made, aim, err := l.mintCodes(ctx, vus, n, cfg.mintTime, fit)
		if err != nil {
			return fmt.Errorf("minting codes: %w", err)
		}
		res.Minted = &MintStats{Codes: made, Aim: aim, Seconds: time.Since(t0).Seconds()}
		logf("minted %d at %.0f/s (the authorize step of a returning browser)", made, float64(made)/res.Minted.Seconds)
	}
	if cfg.hashRate == "on" || (cfg.hashRate == "auto" && m.passwordOps()) {
		logf("argon2id alone: %d callers, bound %d, %s …", cfg.vus, hasher.Slots(), cfg.hashTime)
		res.HashRate = newHashRate(cfg.vus, hasher.Slots())
		res.HashRate.add(measureHashRate(ctx, hasher, hash, l.password, cfg.vus, cfg.hashTime))
		logf("argon2id alone: %.1f verifications/s", res.HashRate.PerSecond)
	}
	l.settle(ctx)
	rate := cfg.rate
	if cfg.ratePct > 0 && ctx.Err() == nil {
		logf("calibrating: closed loop for %s to find the peak …", cfg.calibrate)
		res.Calibrate = l.phase(ctx, vus, m, phaseOpts{label: "calibrate", warmup: 2 * time.Second, duration: cfg.calibrate, progress: cfg.progress})
		rate = res.Calibrate.TopLevelPerS * cfg.ratePct / 100
		logf("peak %.0f ops/s; running at %.0f%% = %.0f ops/s", res.Calibrate.TopLevelPerS, cfg.ratePct, rate)
		if rate <= 0 {
			return errors.New("calibration measured nothing")
		}
	}
	var prof *os.File
	opts := phaseOpts{label: "run", warmup: cfg.warmup, duration: cfg.duration, rate: rate, progress: cfg.progress}
	if cfg.cpuprofile != "" {
		opts.onStart = func() {
			if prof, err = os.Create(cfg.cpuprofile); err == nil {
				pprof.StartCPUProfile(prof)
			}
		}
		opts.onStop = func() {
			if prof != nil {
				pprof.StopCPUProfile()
				prof.Close()
				logf("CPU profile of the measured window: %s (go tool pprof -top %s)", cfg.cpuprofile, cfg.cpuprofile)
			}
		}
	}
	if ctx.Err() == nil {
		logf("running mix %q with %d VUs: %s warm-up, %s measured …", m.Name, cfg.vus, cfg.warmup, cfg.duration)
	}
	res.Run = l.phase(ctx, vus, m, opts)
	if res.HashRate != nil && m.passwordOps() && ctx.Err() == nil {
		// Again after the run, pooled with the first: the ratio then
		// compares the run with both ends of it.
		logf("argon2id alone, again after the run: %s …", cfg.hashTime)
		res.HashRate.add(measureHashRate(ctx, hasher, hash, l.password, cfg.vus, cfg.hashTime))
	}
	if cfg.ratePct > 0 && ctx.Err() == nil {
		logf("calibrating again after the run: closed loop for %s …", cfg.calibrate)
		res.Recheck = l.phase(ctx, vus, m, phaseOpts{label: "recheck", warmup: 2 * time.Second, duration: cfg.calibrate, progress: cfg.progress})
	}
	if o, ok := m.single(); ok && o == opSignin && res.HashRate != nil && rate == 0 && cfg.pairs > 0 && !t.inprocess && ctx.Err() == nil {
		logf("sign-ins and argon2id alone in %d alternating pairs of slices …", cfg.pairs)
		res.Pairs = l.pairedRatio(ctx, vus, m, hasher, hash, cfg.pairs)
	}
	if t.sink != nil {
		res.Emails = &EmailStats{Received: t.sink.received.Load(), Unclaimed: t.sink.unclaimed.Load()}
	}
	if res.Ceiling != nil {
		for _, p := range []*PhaseResult{res.Calibrate, res.Run} {
			if p == nil {
				continue
			}
			for i := range p.Ops {
				p.Ops[i].OfCeiling = p.Ops[i].PerSecond / res.Ceiling.PerSecond
			}
		}
	}
	if o, ok := m.single(); ok && res.Run.Server != nil && res.Run.Server.CPUSeconds > 0 && !t.inprocess {
		if r := res.Run.op(o); r != nil {
			r.PerServerCPUSecond = float64(r.Count) / res.Run.Server.CPUSeconds
		}
	}
	res.Targets = evaluate(cfg, m, t, res)
	report(os.Stdout, cfg, t, res)
	if cfg.jsonOut != "" {
		if err := writeJSON(cfg.jsonOut, res); err != nil {
			return err
		}
		logf("wrote %s", cfg.jsonOut)
	}
	return nil
}

// machine describes the host for the report.
func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			load = ", load average before the run " + strings.Join(f[:3], " ")
		}
	}
	return fmt.Sprintf("%d vCPU %s, %s%s%s", runtime.NumCPU(), model, runtime.Version(), autogroup("/proc/sys/kernel/sched_autogroup_enabled"), load)
}

// autogroup tells whether the kernel's autogroup scheduling is on, read
// from path, as ", autogroup on" or ", autogroup off" ("" where there is
// no such setting). With it on, nice values count only inside a session,
// and PostgreSQL, which starts each backend in a session of its own, gets
// a scheduling group per backend: a PostgreSQL on the same host then
// waits behind the servers' password hashes, which tripled the two-node
// p99s at 70 % of the peak (docs/performance-history.md, sixteenth session).
func autogroup(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if strings.TrimSpace(string(b)) == "0" {
		return ", autogroup off"
	}
	return ", autogroup on"
}

const usageText = `Usage: go run ./bench [flags]

Drives a Gatehouse server with a mix of sign-ups, password sign-ins, hosted
sign-in flows, code exchanges, refreshes, JWKS fetches and Users API calls,
for a bounded time, and reports per operation: rate, p50/p95/p99 latency,
errors by kind, and the server's CPU and peak memory. See bench/doc.go.

Examples:
  go run ./bench --mix refresh --alg ES256 --duration 20s
  go run ./bench --db postgres --nodes 2 --mix default --ceiling --json out.json
  go run ./bench --mix refresh --rate 70%         # p99 at 70% of the peak
  go run ./bench --inprocess --mix refresh --cpuprofile cpu.out
  go run ./bench summarize out/*.json             # markdown rows from --json files

Flags:
`
