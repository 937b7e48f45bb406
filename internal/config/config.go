// Package config holds the server's typed configuration: defaults in one
// place, values from environment variables (GATEHOUSE_*) overridden by
// command-line flags, and a Validate that reports every problem at once
// with what to do about it.
package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/mail"
	"github.com/gatehouse/gatehouse/internal/secretbox"
)

// Config is the configuration of `gatehouse serve`.
type Config struct {
	Addr            string        // listen address
	DatabaseURL     string        // sqlite:///path/file.db or postgres://…
	SecretKey       string        // master key (base64 or hex of 32 bytes); never logged
	SecretKeyFile   string        // file holding the master key, instead of SecretKey
	PublicURL       string        // the URL browsers and SDKs use to reach this server
	LogLevel        string        // debug, info, warn or error
	LogFormat       string        // json or text
	ShutdownTimeout time.Duration // how long in-flight requests get on SIGTERM
	SMTPURL         string        // smtp://user:pass@host:587 (STARTTLS) or smtps://…:465; never logged
	MailFrom        string        // default sender address of outgoing email
	CacheTTL        time.Duration // how long environments and API keys are cached in memory; 0 turns the cache off
	HashConcurrency int           // password hashes computed at once; 0 means password.DefaultConcurrency (GOMAXPROCS less one)
	HashCgroup      string        // a cgroup directory the hashing threads join (Linux); empty: they stay with the process
	Retention       time.Duration // how long dead codes, sessions, challenges and used refresh tokens are kept
	EventRetention  time.Duration // how long activity-log events are kept; 0 keeps them
	TrustedProxies  string        // IPs or CIDR prefixes of proxies whose X-Forwarded-For is believed
}

// Defaults returns the default configuration.
func Defaults() Config {
	return Config{Addr: ":8080", LogLevel: "info", LogFormat: "json", ShutdownTimeout: 30 * time.Second, CacheTTL: 2 * time.Second,
		Retention: 7 * 24 * time.Hour}
}

// setting describes one configuration value: its flag, environment
// variable and help, in one table so --help documents every setting.
type setting struct {
	flag, env, help string
	str             *string
	dur             *time.Duration
	num             *int
}

func (c *Config) settings() []setting {
	return []setting{
		{flag: "addr", env: "GATEHOUSE_ADDR", help: "address to listen on", str: &c.Addr},
		{flag: "database-url", env: "GATEHOUSE_DATABASE_URL", help: "database: sqlite:///path/to/gatehouse.db or postgres://user@host:5432/db (required)", str: &c.DatabaseURL},
		{flag: "", env: "GATEHOUSE_SECRET_KEY", help: "master key that encrypts secrets at rest: 32 random bytes, base64 (generate with `gatehouse keygen`); required unless the _FILE form is set", str: &c.SecretKey},
		{flag: "secret-key-file", env: "GATEHOUSE_SECRET_KEY_FILE", help: "file holding the master key, instead of GATEHOUSE_SECRET_KEY", str: &c.SecretKeyFile},
		{flag: "public-url", env: "GATEHOUSE_PUBLIC_URL", help: "URL browsers and SDKs use to reach this server, e.g. https://auth.example.com (required; it names the access tokens' issuer)", str: &c.PublicURL},
		{flag: "log-level", env: "GATEHOUSE_LOG_LEVEL", help: "log level: debug, info, warn or error", str: &c.LogLevel},
		{flag: "log-format", env: "GATEHOUSE_LOG_FORMAT", help: "log format: json or text", str: &c.LogFormat},
		{flag: "shutdown-timeout", env: "GATEHOUSE_SHUTDOWN_TIMEOUT", help: "time in-flight requests get to finish on SIGTERM, e.g. 30s", dur: &c.ShutdownTimeout},
		{flag: "", env: "GATEHOUSE_SMTP_URL", help: "SMTP server for outgoing email (required): smtp://user:pass@host:587 (STARTTLS) or smtps://user:pass@host:465 (implicit TLS)", str: &c.SMTPURL},
		{flag: "cache-ttl", env: "GATEHOUSE_CACHE_TTL", help: "how long each node keeps environments and API keys in memory, so a change made on another node (or a revoked API key) applies everywhere within it; 0 turns the cache off", dur: &c.CacheTTL},
		{flag: "hash-concurrency", env: "GATEHOUSE_HASH_CONCURRENCY", help: "password hashes (argon2id, 19 MiB and ~20-30 ms of CPU each) computed at once; more wait their turn. 0 means one per CPU less one (at least 1), which keeps a CPU for token requests and a database on the same host during sign-in storms; set it to the number of CPUs to get more sign-ins through a storm at the cost of token latency (docs/performance.md). Each slot keeps its 19 MiB once used, and gets a Go processor on top of GOMAXPROCS unless GOMAXPROCS is set; hashes run at a lowered OS priority (nice +10)", num: &c.HashConcurrency},
		{flag: "hash-cgroup", env: "GATEHOUSE_HASH_CGROUP", help: "a cgroup directory, created beforehand, that the password hashing threads join (Linux; a cgroup v2 threaded cgroup in the process's threaded subtree, or a cgroup v1 cpu cgroup), so that hashes get a CPU weight of their own instead of sharing the request threads' group; a low weight (cpu.shares=256, cpu.weight=25) keeps a database on the same host and the token requests faster during a sign-in storm, and slows sign-ins when the host is busy; cpu.idle=1 does so more, but while other processes fill every CPU a garbage collection waits for the starved hashing thread and stops the node (docs/performance.md). Empty (the default): the hashes stay in the process's group at nice +10", str: &c.HashCgroup},
		{flag: "retention", env: "GATEHOUSE_RETENTION", help: "how long expired authorization codes, sessions and emailed codes, used refresh tokens and sent emails are kept before every node's sweeper (every 10 minutes) deletes them; a used refresh token presented again within it ends its session as stolen, after it is merely invalid. At least 1h, e.g. 168h (rows kept ≈ rate × retention)", dur: &c.Retention},
		{flag: "event-retention", env: "GATEHOUSE_EVENT_RETENTION", help: "how long the activity log (sign-ins, sign-ups, failures and admin changes, with user IDs and IP addresses) is kept before the sweeper deletes it; 0 keeps it for ever (the default). At least 24h, e.g. 2160h for 90 days", dur: &c.EventRetention},
		{flag: "trusted-proxies", env: "GATEHOUSE_TRUSTED_PROXIES", help: "load balancers or reverse proxies in front of Gatehouse, as IP addresses or CIDR prefixes separated by commas (e.g. 10.0.0.0/8,fd00::/8): for requests from them the client's address is read from X-Forwarded-For, so per-IP limits, sessions and the activity log see the user rather than the proxy. Empty (the default): the header is ignored", str: &c.TrustedProxies},
		{flag: "mail-from", env: "GATEHOUSE_MAIL_FROM", help: "default sender address of outgoing email, e.g. auth@example.com (required)", str: &c.MailFrom},
	}
}

// Load fills c from environment variables (read through getenv) and then
// from flags in args. It returns parse errors; call Validate for the rest.
func (c *Config) Load(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	var problems []error
	for _, s := range c.settings() {
		v := getenv(s.env)
		if v == "" {
			continue
		}
		if s.str != nil {
			*s.str = v
		} else if s.num != nil {
			n, err := strconv.Atoi(v)
			if err != nil {
				problems = append(problems, fmt.Errorf("%s=%q is not a whole number", s.env, v))
			}
			*s.num = n
		} else if d, err := time.ParseDuration(v); err != nil {
			problems = append(problems, fmt.Errorf("%s=%q is not a duration; write it like 30s or 1m", s.env, v))
		} else {
			*s.dur = d
		}
	}
	for _, s := range c.settings() {
		if s.flag == "" {
			continue
		}
		help := fmt.Sprintf("%s (env %s)", s.help, s.env)
		if s.str != nil {
			fs.StringVar(s.str, s.flag, *s.str, help)
		} else if s.num != nil {
			fs.IntVar(s.num, s.flag, *s.num, help)
		} else {
			fs.DurationVar(s.dur, s.flag, *s.dur, help)
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: gatehouse serve [flags]\n\nRuns Gatehouse in production mode. Every setting is a flag or an environment variable; flags win.\n\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nEnvironment only (secrets stay out of the process list):\n")
		for _, st := range c.settings() {
			if st.flag == "" {
				fmt.Fprintf(fs.Output(), "  %s\n    \t%s\n", st.env, st.help)
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	return errors.Join(problems...)
}

// Validate checks the configuration and reports every problem at once,
// each saying what to do. It reads the secret key file if one is named.
func (c *Config) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		add("GATEHOUSE_ADDR=%q is not a listen address; use host:port, e.g. :8080 or 127.0.0.1:8080", c.Addr)
	}
	if c.DatabaseURL == "" {
		add("GATEHOUSE_DATABASE_URL is not set; set it to sqlite:///var/lib/gatehouse/gatehouse.db or postgres://user@host:5432/gatehouse")
	} else if _, _, err := ParseDatabaseURL(c.DatabaseURL); err != nil {
		add("GATEHOUSE_DATABASE_URL: %v", err)
	}
	switch {
	case c.SecretKey != "" && c.SecretKeyFile != "":
		add("both GATEHOUSE_SECRET_KEY and GATEHOUSE_SECRET_KEY_FILE are set; keep one")
	case c.SecretKeyFile != "":
		b, err := os.ReadFile(c.SecretKeyFile)
		if err != nil {
			add("GATEHOUSE_SECRET_KEY_FILE: cannot read %s: %v", c.SecretKeyFile, errors.Unwrap(err))
		} else if _, err := secretbox.ParseKey(string(b)); err != nil {
			add("GATEHOUSE_SECRET_KEY_FILE %s: %v; generate one with `gatehouse keygen`", c.SecretKeyFile, err)
		} else {
			c.SecretKey = strings.TrimSpace(string(b))
		}
	case c.SecretKey == "":
		add("GATEHOUSE_SECRET_KEY is not set; it encrypts secrets at rest. Generate one with `gatehouse keygen` (or `openssl rand -base64 32`) and keep it safe: losing it loses the encrypted data")
	default:
		if _, err := secretbox.ParseKey(c.SecretKey); err != nil {
			add("GATEHOUSE_SECRET_KEY: %v; generate one with `gatehouse keygen`", err)
		}
	}
	if c.PublicURL == "" {
		add("GATEHOUSE_PUBLIC_URL is not set; set it to the URL browsers and SDKs use to reach this server, e.g. https://auth.example.com (it names the access tokens' issuer and must stay stable)")
	} else {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			add("GATEHOUSE_PUBLIC_URL=%q must be an absolute http(s) URL like https://auth.example.com", c.PublicURL)
		}
	}
	if c.SMTPURL == "" {
		add("GATEHOUSE_SMTP_URL is not set; Gatehouse emails verification codes, magic codes and reset links. Set it to smtp://user:password@smtp.example.com:587")
	} else if _, err := mail.ParseSMTPURL(c.SMTPURL); err != nil {
		add("GATEHOUSE_SMTP_URL: %v", err)
	}
	if c.MailFrom == "" {
		add("GATEHOUSE_MAIL_FROM is not set; set it to the address email comes from, e.g. auth@example.com")
	} else if a, err := netmail.ParseAddress(c.MailFrom); err != nil || a.Name != "" {
		add("GATEHOUSE_MAIL_FROM=%q is not a plain email address like auth@example.com", c.MailFrom)
	}
	if _, err := ParseLevel(c.LogLevel); err != nil {
		add("GATEHOUSE_LOG_LEVEL=%q: use debug, info, warn or error", c.LogLevel)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		add("GATEHOUSE_LOG_FORMAT=%q: use json or text", c.LogFormat)
	}
	if c.ShutdownTimeout <= 0 {
		add("GATEHOUSE_SHUTDOWN_TIMEOUT must be positive, e.g. 30s")
	}
	if c.CacheTTL < 0 || c.CacheTTL > time.Minute {
		add("GATEHOUSE_CACHE_TTL=%s: use 0 (off) up to 1m, e.g. 2s", c.CacheTTL)
	}
	if c.Retention < time.Hour {
		add("GATEHOUSE_RETENTION=%s: use at least 1h (sign-in throttles count failures over 15 minutes), e.g. 168h", c.Retention)
	}
	if c.EventRetention < 0 || (c.EventRetention > 0 && c.EventRetention < 24*time.Hour) {
		add("GATEHOUSE_EVENT_RETENTION=%s: use 0 (keep the activity log) or at least 24h, e.g. 2160h for 90 days", c.EventRetention)
	}
	if _, err := ParseTrustedProxies(c.TrustedProxies); err != nil {
		add("GATEHOUSE_TRUSTED_PROXIES: %v", err)
	}
	if c.HashConcurrency < 0 || c.HashConcurrency > MaxHashConcurrency {
		add("GATEHOUSE_HASH_CONCURRENCY=%d: use 0 (CPUs less one) up to %d; each hash in flight holds 19 MiB", c.HashConcurrency, MaxHashConcurrency)
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("the configuration has %d problem(s):\n  - %s", len(problems), strings.Join(problems, "\n  - "))
}

// MaxHashConcurrency bounds HashConcurrency: 64 hashes in flight already
// hold about 1.2 GiB.
const MaxHashConcurrency = 64

// ParseLevel parses a log level name.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}

// ParseDatabaseURL splits a database URL into its backend ("sqlite" or
// "postgres") and what that backend opens: a file path (with an optional
// ?synchronous=normal|full) or the URL itself.
func ParseDatabaseURL(raw string) (backend, target string, err error) {
	switch {
	case strings.HasPrefix(raw, "sqlite://"):
		path := strings.TrimPrefix(raw, "sqlite://")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			q, err := url.ParseQuery(path[i+1:])
			s := strings.ToLower(q.Get("synchronous"))
			if err != nil || len(q) != 1 || (s != "normal" && s != "full") {
				return "", "", errors.New("the only sqlite URL option is synchronous=normal|full; write sqlite:///path/to/file.db[?synchronous=full]")
			}
		}
		if path == "" || path == "/" {
			return "", "", errors.New("the sqlite URL names no file; write sqlite:///path/to/file.db (three slashes for an absolute path)")
		}
		return "sqlite", path, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		if _, err := url.Parse(raw); err != nil {
			return "", "", errors.New("the postgres URL does not parse; write postgres://user:password@host:5432/dbname")
		}
		return "postgres", raw, nil
	}
	return "", "", errors.New("unknown database; the URL must start with sqlite:// or postgres://")
}
