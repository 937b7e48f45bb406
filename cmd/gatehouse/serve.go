package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/mail"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/backends"
	"github.com/gatehouse/gatehouse/internal/store/storecache"
	"github.com/gatehouse/gatehouse/internal/tokens"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := config.Defaults()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := cfg.Load(fs, args, getenv); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	st, box, err := openStore(ctx, cfg.DatabaseURL, cfg.SecretKey, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	ln, err := listen(cfg.Addr)
	if err != nil {
		return err
	}
	smtpCfg, err := mail.ParseSMTPURL(cfg.SMTPURL)
	if err != nil {
		ln.Close()
		return err
	}
	sender, err := mail.NewSMTPSender(smtpCfg)
	if err != nil {
		ln.Close()
		return fmt.Errorf("smtp: %w", err)
	}
	logger.Info("email via SMTP", "server", smtpCfg.String(), "from", cfg.MailFrom)
	// 0 means password.DefaultConcurrency: a CPU is kept for token
	// traffic (docs/performance.md).
	hasher := password.NewHasher(password.DefaultParams, cfg.HashConcurrency)
	if cfg.HashCgroup != "" {
		if err := password.UseCgroup(cfg.HashCgroup); err != nil {
			ln.Close()
			return fmt.Errorf("GATEHOUSE_HASH_CGROUP: %w (docs/performance.md shows how to create one)", err)
		}
		logger.Info("password hashing threads join a cgroup", "cgroup", cfg.HashCgroup)
		if password.IdleCgroup(cfg.HashCgroup) {
			logger.Warn("the hashing cgroup has cpu.idle=1: while other processes keep every CPU busy, a hashing thread there waits, and a garbage collection waits for it, stopping every request on this node (up to 1.6 s measured); a low CPU weight instead (cpu.shares=256 or cpu.weight=25) keeps pauses short (docs/performance.md)", "cgroup", cfg.HashCgroup)
		}
	}
	procs, added, restore := addHashProcessors(hasher.Slots(), getenv, logger)
	defer restore()
	hasher.SetOwnProcessors(added)
	logger.Info("password hashing", "slots", hasher.Slots(), "gomaxprocs", procs, "own_processors", hasher.OwnProcessors())
	logger.Info("RS256 signatures", "signer", tokens.RSASigner())
	proxies, _ := config.ParseTrustedProxies(cfg.TrustedProxies) // checked by Validate
	if len(proxies) > 0 {
		logger.Info("client addresses are read from X-Forwarded-For on requests from these proxies", "trusted_proxies", cfg.TrustedProxies)
	}
	srv := server.New(server.Deps{Hasher: hasher, Store: storecache.New(st, cfg.CacheTTL), Box: box, Logger: logger, BaseURL: cfg.PublicURL,
		MailSender: sender, MailFrom: cfg.MailFrom, TrustedProxies: proxies})
	return serveWithJanitor(ctx, ln, srv, st, logger, cfg.ShutdownTimeout, retentionOf(cfg))
}

// addHashProcessors gives the password hashes Go processors of their own,
// one per hash slot on top of GOMAXPROCS, unless the operator set
// GOMAXPROCS. A hash keeps its processor for its whole computation while
// the kernel runs it at lowered priority (internal/password), so without
// them requests would have a processor fewer whenever a hash is waiting
// for a CPU (measured: docs/perf-hashing.md, round 6). Setting GOMAXPROCS
// turns off the runtime's own updates of it when a container's CPU limit
// changes, so a goroutine redoes the sum every hashProcsCheck. It returns
// the new GOMAXPROCS, whether it added processors, and a func that stops
// the goroutine and gives the runtime back its default.
func addHashProcessors(slots int, getenv func(string) string, logger *slog.Logger) (procs int, added bool, restore func()) {
	if getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0), false, func() {}
	}
	procs = runtime.GOMAXPROCS(0) + slots
	runtime.GOMAXPROCS(procs)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(hashProcsCheck)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			before := runtime.GOMAXPROCS(0)
			runtime.SetDefaultGOMAXPROCS()
			want := runtime.GOMAXPROCS(0) + slots
			runtime.GOMAXPROCS(want)
			if want != before {
				logger.Info("password hashing: GOMAXPROCS follows the CPU limit", "slots", slots, "gomaxprocs", want)
			}
		}
	}()
	return procs, true, func() {
		close(stop)
		<-done
		runtime.SetDefaultGOMAXPROCS()
	}
}

// hashProcsCheck is how often addHashProcessors's goroutine redoes GOMAXPROCS.
var hashProcsCheck = 30 * time.Second

func newLogger(w io.Writer, level, format string) *slog.Logger {
	lvl, _ := config.ParseLevel(level)
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// openStore opens and migrates the database and checks the master key.
func openStore(ctx context.Context, databaseURL, secretKey string, logger *slog.Logger) (store.Store, *secretbox.Box, error) {
	st, err := backends.Open(ctx, databaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("open database: %w; check GATEHOUSE_DATABASE_URL and that the database is running", err)
	}
	start := time.Now()
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("migrate database: %w", err)
	}
	logger.Info("database ready", "backend", st.Backend(), "migrate_ms", time.Since(start).Milliseconds())
	key, err := secretbox.ParseKey(secretKey)
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("secret key: %w", err)
	}
	box, err := secretbox.New(key)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	if err := box.Verify(ctx, st); err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, box, nil
}

// serveWithJanitor serves until ctx ends, with the background sweeper
// running alongside; it returns once both have stopped.
func serveWithJanitor(ctx context.Context, ln net.Listener, srv *server.Server, st store.Store, logger *slog.Logger, timeout time.Duration, keep retention) error {
	jctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { runJanitor(jctx, st, logger, janitorEvery, keep) })
	wg.Go(func() { srv.Mail.Run(jctx) })
	err := serveOn(ctx, ln, srv, logger, timeout)
	// The server has finished its requests; the mail worker now finishes
	// the email it is sending, releases the rest and stops.
	stop()
	wg.Wait()
	return err
}

// listen opens the listening socket.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w; is another server using it? pick another with --addr", addr, err)
	}
	return ln, nil
}

// serveOn serves h on ln until ctx is cancelled, then shuts down
// gracefully: it stops accepting, lets in-flight requests finish for up to
// timeout, and returns.
func serveOn(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger, timeout time.Duration) error {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	logger.Info("listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests", "timeout", timeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

func runKeygen(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("keygen takes no arguments")
	}
	fmt.Fprintln(stdout, secretbox.GenerateKey())
	return nil
}
