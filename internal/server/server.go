package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/adminauth"
	"github.com/gatehouse/gatehouse/internal/api"
	"github.com/gatehouse/gatehouse/internal/authflow"
	"github.com/gatehouse/gatehouse/internal/environments"
	"github.com/gatehouse/gatehouse/internal/hosted"
	"github.com/gatehouse/gatehouse/internal/idempotency"
	"github.com/gatehouse/gatehouse/internal/mail"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/tokens"
	"github.com/gatehouse/gatehouse/internal/users"
	"github.com/gatehouse/gatehouse/internal/web"
)

// Deps are what the server needs.
type Deps struct {
	Store  store.Store
	Box    *secretbox.Box // seals signing keys and refresh-token successors
	Hasher *password.Hasher
	Logger *slog.Logger
	// BaseURL is the public URL browsers and SDKs use (no trailing slash);
	// it names the access tokens' issuer. Cookies are Secure when it is https.
	BaseURL string
	Now     func() time.Time
	// MailSender delivers email; nil captures it instead (development: the
	// dev inbox shows it and the log carries the codes and links).
	MailSender mail.Sender
	// MailFrom is the default sender address of outgoing email.
	MailFrom string
	// DevInbox serves /_dev/inbox and /_dev/inbox.json (gatehouse dev only).
	DevInbox bool
	// TrustedProxies are the load balancers or reverse proxies whose
	// X-Forwarded-For names the client (web.ClientIP); none by default.
	TrustedProxies []netip.Prefix
}

// sqliteStats are what SQLite's store counts for the metrics (see
// sqlite.DB's CommitStats and LogFrames).
type sqliteStats interface {
	CommitStats() (transactions, writes int64)
	LogFrames() int64
}

// findSQLiteStats returns st's sqliteStats, looking through wrappers such
// as storecache; nil when st has none.
func findSQLiteStats(st store.Store) sqliteStats {
	for {
		if ss, ok := st.(sqliteStats); ok {
			return ss
		}
		w, ok := st.(interface{ Unwrap() store.Store })
		if !ok {
			return nil
		}
		st = w.Unwrap()
	}
}

// Server is the root handler and the services behind it.
type Server struct {
	Environments *environments.Service
	Users        *users.Service
	Flow         *authflow.Service
	Keys         *tokens.Keyring
	// Admin manages dashboard admins: gatehouse dev uses it to print a
	// one-time sign-in link.
	Admin *adminauth.Service
	// Mail sends the outbox; the caller runs it (Run) beside the server.
	Mail    *mail.Worker
	handler http.Handler
	deps    Deps
}

// New builds the server.
func New(d Deps) *Server {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Hasher == nil {
		d.Hasher = password.NewHasher(password.DefaultParams, 0)
	}
	d.BaseURL = strings.TrimRight(d.BaseURL, "/")
	s := &Server{
		Environments: &environments.Service{Store: d.Store, Now: d.Now},
		Users:        &users.Service{Store: d.Store, Hasher: d.Hasher, Now: d.Now},
		Keys:         &tokens.Keyring{Store: d.Store, Box: d.Box, Now: d.Now},
		deps:         d,
	}
	if d.MailSender == nil {
		d.MailSender = mail.CaptureSender{Logger: d.Logger}
	}
	if d.MailFrom == "" {
		d.MailFrom = "no-reply@gatehouse.localhost"
	}
	s.Mail = mail.NewWorker(mail.WorkerConfig{Outbox: d.Store, Sender: d.MailSender, Logger: d.Logger})
	s.Flow = &authflow.Service{Store: d.Store, Users: s.Users, Hasher: d.Hasher, Keys: s.Keys, Box: d.Box,
		Logger: d.Logger, BaseURL: d.BaseURL, Now: d.Now, Challenges: d.Store,
		Mailer: &outboxMailer{outbox: d.Store, worker: s.Mail, from: d.MailFrom}}
	s.Admin = &adminauth.Service{Store: d.Store, Hasher: d.Hasher, Box: d.Box, Logger: d.Logger, BaseURL: d.BaseURL, Now: d.Now}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := newMetrics(reg)
	mailStat := func(name, help string, pick func(mail.Stats) int64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(pick(s.Mail.Stats())) }))
	}
	mailStat("gatehouse_email_sent_total", "Emails delivered by this node's mail worker.", func(st mail.Stats) int64 { return st.Sent })
	mailStat("gatehouse_email_retried_total", "Failed email attempts scheduled for a retry.", func(st mail.Stats) int64 { return st.Retried })
	mailStat("gatehouse_email_failed_total", "Emails given up on (permanent error or out of attempts).", func(st mail.Stats) int64 { return st.Failed })

	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gatehouse_rs256_fallbacks_total",
		Help: "RS256 signatures made by crypto/rsa because Gatehouse's own RSA signer (rsa2048) failed its own check (a bug or a hardware fault)."},
		func() float64 { return float64(tokens.RSAFallbacks()) }))

	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gatehouse_password_hashes_total",
		Help: "Password hash computations: hashes, checks, and the dummy checks that keep unknown accounts as slow as known ones."},
		func() float64 { n, _ := d.Hasher.Stats(); return float64(n) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gatehouse_password_hash_cpu_seconds_total",
		Help: "CPU time the hashing threads spent on password hash computations (Linux; 0 elsewhere). Against process_cpu_seconds_total it tells how much of the CPU went to hashing."},
		func() float64 { _, cpu := d.Hasher.Stats(); return cpu.Seconds() }))

	if ss := findSQLiteStats(d.Store); ss != nil {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gatehouse_sqlite_commits_total",
			Help: "Transactions committed by SQLite's group commit, which runs the writes of more than one statement, several to a transaction when they come together (single statements commit on their own)."},
			func() float64 { n, _ := ss.CommitStats(); return float64(n) }))
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gatehouse_sqlite_commit_writes_total",
			Help: "Writes committed by SQLite's group commit. Divided by gatehouse_sqlite_commits_total: the writes a transaction."},
			func() float64 { _, n := ss.CommitStats(); return float64(n) }))
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gatehouse_sqlite_wal_frames",
			Help: "Pages in SQLite's write-ahead log at the last background checkpoint. Under steady writes it climbs to about 10,000 and falls back when the log starts over; one that keeps climbing past that is a log the checkpoints cannot copy back (a read holding an old snapshot)."},
			func() float64 { return float64(ss.LogFrames()) }))
	}

	mux := http.NewServeMux()
	a := &api.Handler{Environments: s.Environments, Users: s.Users, Flow: s.Flow, Keys: s.Keys, Logger: d.Logger,
		Idempotency: &idempotency.Service{Store: d.Store, Box: d.Box, Now: d.Now}}
	a.Routes(mux)
	hp, err := hosted.New(hosted.Handler{Flow: s.Flow, Store: d.Store, Logger: d.Logger,
		SecureCookies: strings.HasPrefix(d.BaseURL, "https://")})
	if err != nil {
		panic(fmt.Sprintf("hosted templates: %v", err)) // embedded files: a build defect, caught by every test
	}
	hp.Routes(mux)
	dash, err := admin.New(admin.Handler{Auth: s.Admin, Environments: s.Environments, Users: s.Users, Flow: s.Flow,
		Store: d.Store, Logger: d.Logger, SecureCookies: strings.HasPrefix(d.BaseURL, "https://"), Now: d.Now})
	if err != nil {
		panic(fmt.Sprintf("admin templates: %v", err)) // embedded files: a build defect, caught by every test
	}
	dash.Routes(mux) // /admin/ outranks the catch-all below
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if d.DevInbox {
		devRoutes(mux, s, d.Logger)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", a.NotFound)

	s.handler = web.WithClientIP(d.TrustedProxies, web.WithRequestID(s.observe(m, s.recover(s.sanitize(mux)))))
	return s
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	fail := func(reason string) {
		w.Header().Set("Retry-After", "1")
		web.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "message": reason})
	}
	if err := s.deps.Store.Ping(ctx); err != nil {
		s.deps.Logger.WarnContext(ctx, "readiness: database unreachable", "err", err)
		fail("database unreachable")
		return
	}
	ms, err := s.deps.Store.Migrations(ctx)
	if err != nil {
		fail("cannot read migrations")
		return
	}
	for _, m := range ms {
		if !m.Applied {
			fail(fmt.Sprintf("migration %d is not applied; run gatehouse migrate up", m.Version))
			return
		}
	}
	web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "database": s.deps.Store.Backend()})
}

// recover turns a panic into a 500 with a generic JSON body; the stack
// goes to the log only.
func (s *Server) recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.deps.Logger.ErrorContext(r.Context(), "panic serving request", "request_id", web.RequestID(r.Context()),
					"method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				web.WriteJSON(w, http.StatusInternalServerError, map[string]string{"message": "Internal server error.", "code": "server_error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe logs each request and records its metrics under the route
// pattern that served it (never the raw path, which would hold IDs).
func (s *Server) observe(m *metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		elapsed := time.Since(start)
		route := r.Pattern
		if route == "" || route == "/" {
			route = "unmatched"
		}
		method := r.Method
		switch method {
		case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		default:
			method = "other"
		}
		m.requests.WithLabelValues(route, method, strconv.Itoa(sw.status)).Inc()
		m.latency.WithLabelValues(route, method).Observe(elapsed.Seconds())
		if route == "GET /healthz" || route == "GET /readyz" || route == "GET /metrics" {
			return
		}
		s.deps.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("request_id", web.RequestID(r.Context())), slog.String("method", r.Method),
			slog.String("route", route), slog.Int("status", sw.status), slog.Int("bytes", sw.bytes),
			slog.Duration("duration", elapsed))
	})
}
