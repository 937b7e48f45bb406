// Command bench is Gatehouse's load generator (issue 7). It drives a
// running Gatehouse with a realistic mix of operations for a bounded time
// and reports, per operation, the rate, p50/p95/p99 latency and errors by
// kind, together with the server's CPU and peak memory.
//
//	go run ./bench [--db sqlite|postgres] [--nodes N] [--mix NAME] [--alg RS256|ES256]
//	               [--vus 32] [--duration 30s] [--rate N|P%] [--ceiling] [--json out.json]
//
// # What it starts
//
// By default it builds ./cmd/gatehouse into a temp dir and starts `gatehouse
// serve` as a subprocess (--server uses a given binary), on a new SQLite file
// or a new PostgreSQL database (gh_bench_<random> on --postgres-url, dropped
// afterwards), with a master key from `gatehouse keygen` and SMTP pointed at
// an SMTP sink inside the bench, so sending email costs what it costs and
// sign-ups can read their verification codes. The environment, API key,
// redirect URI and sign-in endpoint are set up with the admin subcommands.
// --nodes 2 starts two servers on one PostgreSQL database behind one public
// URL; the bench spreads requests over them round-robin, like a load
// balancer without stickiness. --url targets servers someone else started
// (--client-id, --api-key, and --pid for CPU and memory). --inprocess runs
// the server inside the bench with server.New, so --cpuprofile can profile
// it (CPU and memory then include the load generator).
//
// # Operations
//
// Before timing, the bench creates --users verified users through the
// Users API (with an imported argon2id hash at the default parameters, so
// creating them costs the server no hashing) and signs every virtual user
// (VU) in once on the hosted page, which gives it a Gatehouse browser
// session and its own refresh-token chain. Each VU then picks operations
// from the mix:
//
//   - refresh: the refresh_token grant on the VU's own chain.
//   - exchange: the authorization_code grant alone, on codes minted before
//     the run (mix "exchange" only).
//   - flow: a returning browser: authorize with the session cookie, 302 to
//     the redirect URI with a code, exchange (also recorded as exchange).
//   - hosted-signin: a new browser: authorize, the hosted sign-in page, the
//     form POST with the password (argon2id), the code, the exchange.
//   - signin: the password grant (argon2id).
//   - signup: a new browser from its own loopback IP (127.a.b.c; the server
//     limits email to 10 a minute per client IP) fills the hosted sign-up
//     form; measured up to the 303 to the verification page (argon2id hash,
//     user, challenge, queued email). When the email reaches the sink, the
//     VU enters the code (signup-verify: verification page, POST, code,
//     exchange); email-delivery is the time the email took.
//   - jwks, user-get, user-list: GET /sso/jwks/{client_id}, a user by ID,
//     the first page of users.
//
// Presets (--mix): default (refresh 50, user-get 15, flow 12, jwks 10,
// user-list 5, signin 3, hosted-signin 3, signup 2), and one-operation
// mixes refresh, exchange, flow, signin, hosted, signup, jwks, users; or
// weights such as refresh=5,jwks=1.
//
// # Measuring
//
// A warm-up (--warmup) is run and not recorded. Rates and errors count the
// operations that ended inside the measured window, whenever they started
// (the server's CPU in the window is spent on them); latencies are kept
// exactly per VU, for the operations that also started inside it, and
// merged for the percentiles. Server CPU comes from
// /proc/<pid>/stat (utime + stime over the window), peak memory from
// VmHWM in /proc/<pid>/status (reset at the start of the window through
// clear_refs) and RSS sampled every 200 ms. On PostgreSQL the bench also
// reports commits per 100 HTTP requests (pg_stat_database) and the CPU of
// the postgres processes. A progress line is printed every --progress;
// Ctrl-C stops early and still reports.
//
// --rate N runs an open loop: operations start on a fixed schedule and
// latency counts from the scheduled start, so queueing shows. --rate 70%
// first runs a closed-loop calibration (--calibrate) and then runs at 70%
// of the peak it found, then calibrates again and reports what share of
// that second peak the rate was (the machine's speed may have drifted);
// more than 10 points above P % marks the verdicts OVERDRIVEN.
// An operation that starts more than 5 ms after its scheduled time (every
// VU busy, or the bench short of CPU) is counted as a late start; when 1 %
// or more start late the p99 verdicts say BENCH-LIMITED, since such a p99
// may be the bench's own queue. The report also gives the server's own
// latency by route, read from the nodes' access logs (at the default
// --log-level info): a stalled server holds every VU too, so a marked run
// whose server-side p99 is as long as the bench's was slow in the server,
// not only in the bench; when every request went to one route (the
// refresh and exchange mixes), the p99 verdicts name that route's p99
// too. Slow operations hold VUs, so fixed-rate
// runs of mixes with sign-ins want more VUs than closed-loop ones
// (bench/matrix.sh uses 128).
// --ceiling measures a bare net/http JSON handler in
// this process with the same client and VUs, and gives every rate as a
// ratio to it. For mixes with password operations the bench measures
// argon2id verification alone with the server's Hasher (default
// parameters, as many at once as the nodes' hash slots together: with
// GATEHOUSE_HASH_CONCURRENCY or the default of one fewer than the CPUs,
// times --nodes), the ceiling for sign-ins, before the run and again after
// it, and pools the two. Where a node exports its hashing counters
// (gatehouse_password_hashes_total and
// gatehouse_password_hash_cpu_seconds_total), the report also gives the
// share of the node's CPU that went to hashing and one hash's CPU on the
// hashing thread, in the server and alone, which take the sign-in ratio
// apart. `go run ./bench bare --rate 75` measures the --ceiling handler in a
// process of its own at a fixed rate: the CPU and context switches any Go
// server pays a request at that rate (see bare.go). `go run ./bench burn
// --rate 56` only verifies argon2id hashes at a fixed rate, a stand-in for
// the nodes' hashing in scheduling experiments (bench/autogroup.sh, burn.go).
//
// Each run ends with PASS/FAIL for the targets of issue 7 that apply to it
// (see docs/performance.md for the figures and exact commands).
package main
