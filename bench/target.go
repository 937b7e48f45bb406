package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/environments"
	"github.com/gatehouse/gatehouse/internal/mail"
	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/backends"
	"github.com/gatehouse/gatehouse/internal/store/storecache"
)

// target is the Gatehouse deployment under load: one or more nodes
// (base URLs), the processes behind them when known, and the environment
// the load runs in.
type target struct {
	urls        []string
	pids        []int // server processes, when known (for CPU and memory)
	inprocess   bool  // pids[0] is this process: its CPU includes the load generator
	clientID    string
	apiKey      string
	redirectURI string
	backend     string // sqlite or postgres
	sink        *sink  // nil when the server's email goes elsewhere
	pgAdminURL  string // for pg_stat_database, when the database is PostgreSQL
	pgDatabase  string
	logs        []string // server log files

	cleanups []func()
}

func (t *target) close() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
}

const defaultRedirectURI = "http://localhost:3000/callback"

// moduleRoot finds the directory of the repository's go.mod, walking up
// from the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/gatehouse/gatehouse\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the bench from inside the gatehouse repository, or pass --server")
		}
		dir = parent
	}
}

func randomSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// prepareDatabase returns the database URL the run uses: a new SQLite file
// in dir, or a new PostgreSQL database on cfg.pgURL (dropped by cleanup).
func prepareDatabase(ctx context.Context, cfg *config, t *target, dir string) (string, error) {
	t.backend = cfg.db
	switch cfg.db {
	case "sqlite":
		return "sqlite://" + filepath.Join(dir, "gatehouse.db"), nil
	case "postgres":
	default:
		return "", fmt.Errorf("--db must be sqlite or postgres, not %q", cfg.db)
	}
	name := "gh_bench_" + randomSuffix()
	// The nodes get cfg.pgURL's pool settings; the bench's own connections
	// must not send them to the server as run-time parameters.
	adminURL, err := withoutPoolParams(cfg.pgURL)
	if err != nil {
		return "", fmt.Errorf("--postgres-url: %w", err)
	}
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", redactURL(adminURL), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	t.pgAdminURL, t.pgDatabase = adminURL, name
	if !cfg.keep {
		t.cleanups = append(t.cleanups, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := pgx.Connect(ctx, adminURL)
			if err != nil {
				logf("drop database %s: %v", name, err)
				return
			}
			defer c.Close(ctx)
			if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
				logf("drop database %s: %v", name, err)
			}
		})
	} else {
		logf("keeping database %s", name)
	}
	u, err := url.Parse(cfg.pgURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// withoutPoolParams returns raw without the pool_ query parameters (such
// as pool_max_conns), which pgxpool reads and a plain connection would
// pass on to PostgreSQL, which refuses them.
func withoutPoolParams(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// startManaged builds (unless --server is given) and starts cfg.nodes
// `gatehouse serve` processes on a fresh database, set up with the admin
// subcommands, and waits until every node is ready.
func startManaged(ctx context.Context, cfg *config) (*target, error) {
	t := &target{redirectURI: defaultRedirectURI}
	ok := false
	defer func() {
		if !ok {
			t.close()
		}
	}()
	dir, err := os.MkdirTemp(cfg.dataDir, "gatehouse-bench-")
	if err != nil {
		return nil, err
	}
	if cfg.keep {
		logf("keeping %s", dir)
	} else {
		t.cleanups = append(t.cleanups, func() { os.RemoveAll(dir) })
	}
	bin := cfg.serverBin
	if bin == "" {
		root, err := moduleRoot()
		if err != nil {
			return nil, err
		}
		bin = filepath.Join(dir, "gatehouse")
		logf("building ./cmd/gatehouse …")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/gatehouse")
		cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go build ./cmd/gatehouse: %w", err)
		}
	} else if bin, err = filepath.Abs(bin); err != nil {
		return nil, err
	}
	key, err := runOut(ctx, bin, nil, "keygen")
	if err != nil {
		return nil, err
	}
	key = strings.TrimSpace(key)
	dbURL, err := prepareDatabase(ctx, cfg, t, dir)
	if err != nil {
		return nil, err
	}
	adminEnv := []string{"GATEHOUSE_DATABASE_URL=" + dbURL, "GATEHOUSE_SECRET_KEY=" + key}
	out, err := runOut(ctx, bin, adminEnv, "environments", "create", "--name", "Bench", "--type", "development", "--signing-algorithm", cfg.alg)
	if err != nil {
		return nil, err
	}
	envID := field1(out, `(?m)^\s*id\s+(\S+)`)
	t.clientID = field1(out, `(?m)^\s*client id\s+(\S+)`)
	if envID == "" || t.clientID == "" {
		return nil, fmt.Errorf("environments create: unexpected output:\n%s", out)
	}
	if out, err = runOut(ctx, bin, adminEnv, "api-keys", "create", "--env", envID, "--name", "bench"); err != nil {
		return nil, err
	}
	if t.apiKey = field1(out, `(?m)^\s*(sk_\S+)`); t.apiKey == "" {
		return nil, fmt.Errorf("api-keys create: unexpected output:\n%s", out)
	}
	for _, args := range [][]string{
		{"redirect-uris", "add", t.redirectURI, "--default", "--env", envID},
		{"sign-in-endpoint", "set", "http://localhost:3000/login", "--env", envID},
		{"sign-out-redirects", "add", "http://localhost:3000/", "--default", "--env", envID},
	} {
		if _, err := runOut(ctx, bin, adminEnv, args...); err != nil {
			return nil, err
		}
	}
	if t.sink, err = startSink(); err != nil {
		return nil, err
	}
	t.cleanups = append(t.cleanups, t.sink.Close)

	var publicURL string
	for i := range cfg.nodes {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		if i == 0 {
			publicURL = "http://" + addr // the nodes stand behind one public URL
		}
		logPath := filepath.Join(dir, fmt.Sprintf("node%d.log", i+1))
		logFile, err := os.Create(logPath)
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "serve")
		cmd.Env = append(os.Environ(), adminEnv...)
		cmd.Env = append(cmd.Env, "GATEHOUSE_ADDR="+addr, "GATEHOUSE_PUBLIC_URL="+publicURL,
			"GATEHOUSE_SMTP_URL="+t.sink.smtpURL(), "GATEHOUSE_MAIL_FROM=bench@example.com",
			"GATEHOUSE_LOG_LEVEL="+cfg.logLevel, "GATEHOUSE_SHUTDOWN_TIMEOUT=5s")
		cmd.Stdout, cmd.Stderr = logFile, logFile
		ownProcessGroup(cmd)
		if err := cmd.Start(); err != nil {
			logFile.Close()
			return nil, fmt.Errorf("start %s serve: %w", bin, err)
		}
		t.urls = append(t.urls, "http://"+addr)
		t.pids = append(t.pids, cmd.Process.Pid)
		t.logs = append(t.logs, logPath)
		exited := make(chan struct{})
		go func() { cmd.Wait(); logFile.Close(); close(exited) }()
		t.cleanups = append(t.cleanups, func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
		})
		if err := waitReady(ctx, "http://"+addr, exited, logPath); err != nil {
			return nil, err
		}
		logf("node %d ready at http://%s (pid %d, log %s)", i+1, addr, cmd.Process.Pid, logPath)
	}
	ok = true
	return t, nil
}

// runOut runs the gatehouse binary and returns its standard output.
func runOut(ctx context.Context, bin string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("gatehouse %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

func field1(s, re string) string {
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}

// waitReady polls GET /readyz until it answers 200.
func waitReady(ctx context.Context, base string, exited <-chan struct{}, logPath string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("the server exited; its log %s ends with:\n%s", logPath, tail(logPath, 20))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		res, err := http.Get(base + "/readyz")
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s/readyz not ready after 60s; log %s", base, logPath)
}

func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// startInProcess runs the server inside this process with server.New (so
// --cpuprofile can profile it), on a fresh database like startManaged.
// CPU and memory figures then include the load generator.
func startInProcess(ctx context.Context, cfg *config) (*target, error) {
	t := &target{redirectURI: defaultRedirectURI, inprocess: true, pids: []int{os.Getpid()}}
	ok := false
	defer func() {
		if !ok {
			t.close()
		}
	}()
	dir, err := os.MkdirTemp(cfg.dataDir, "gatehouse-bench-")
	if err != nil {
		return nil, err
	}
	if !cfg.keep {
		t.cleanups = append(t.cleanups, func() { os.RemoveAll(dir) })
	}
	dbURL, err := prepareDatabase(ctx, cfg, t, dir)
	if err != nil {
		return nil, err
	}
	st, err := backends.Open(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	t.cleanups = append(t.cleanups, func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		return nil, err
	}
	key, _ := secretbox.ParseKey(secretbox.GenerateKey())
	box, err := secretbox.New(key)
	if err != nil {
		return nil, err
	}
	if err := box.Verify(ctx, st); err != nil {
		return nil, err
	}
	if t.sink, err = startSink(); err != nil {
		return nil, err
	}
	t.cleanups = append(t.cleanups, t.sink.Close)
	smtpCfg, err := mail.ParseSMTPURL(t.sink.smtpURL())
	if err != nil {
		return nil, err
	}
	sender, err := mail.NewSMTPSender(smtpCfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	base := "http://" + ln.Addr().String()
	logPath := filepath.Join(dir, "node1.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	var level slog.Level
	level.UnmarshalText([]byte(cfg.logLevel))
	logger := slog.New(slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: level}))
	srv := server.New(server.Deps{Store: storecache.New(st, 2*time.Second), Box: box, Logger: logger, BaseURL: base, MailSender: sender, MailFrom: "bench@example.com"}) // the cache as gatehouse serve has it by default
	env, err := srv.Environments.Create(ctx, "Bench", store.Development)
	if err != nil {
		return nil, err
	}
	alg := cfg.alg
	if env, err = srv.Environments.UpdateSettings(ctx, env, environments.SettingsInput{SigningAlgorithm: &alg}); err != nil {
		return nil, err
	}
	if _, err := srv.Environments.AddRedirect(ctx, env, store.RedirectURI, t.redirectURI, true); err != nil {
		return nil, err
	}
	if _, err := srv.Environments.SetSignInEndpoint(ctx, env, "http://localhost:3000/login"); err != nil {
		return nil, err
	}
	if t.apiKey, _, err = srv.Environments.CreateAPIKey(ctx, env, "bench"); err != nil {
		return nil, err
	}
	t.clientID = env.ClientID
	// The same server settings as `gatehouse serve`.
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	mctx, stopMail := context.WithCancel(context.Background())
	mailDone := make(chan struct{})
	go func() { srv.Mail.Run(mctx); close(mailDone) }()
	go hs.Serve(ln)
	t.cleanups = append(t.cleanups, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
		stopMail()
		<-mailDone
		logFile.Close()
	})
	t.urls, t.logs = []string{base}, []string{logPath}
	if err := waitReady(ctx, base, nil, logPath); err != nil {
		return nil, err
	}
	logf("in-process server ready at %s (log %s)", base, logPath)
	ok = true
	return t, nil
}

// useRunning targets servers someone else started (--url).
func useRunning(cfg *config) (*target, error) {
	t := &target{redirectURI: cfg.redirectURI, clientID: cfg.clientID, apiKey: cfg.apiKey, backend: cfg.db, pids: cfg.pids}
	if t.clientID == "" || t.apiKey == "" {
		return nil, errors.New("--url needs --client-id and --api-key (an API key of that environment); the environment must have --redirect-uri registered")
	}
	for u := range strings.SplitSeq(cfg.url, ",") {
		t.urls = append(t.urls, strings.TrimRight(strings.TrimSpace(u), "/"))
	}
	return t, nil
}
