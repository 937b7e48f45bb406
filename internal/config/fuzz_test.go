package config

import (
	"flag"
	"io"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseDatabaseURL: never panics; accepts only sqlite:// with a file
// and no options, or a postgres URL that net/url parses, naming the backend.
func FuzzParseDatabaseURL(f *testing.F) {
	for _, s := range []string{"sqlite:///var/lib/gatehouse.db", "sqlite://rel.db", "sqlite://", "sqlite:///", "sqlite:///x.db?mode=ro",
		"postgres://u:p@localhost:5432/db?sslmode=disable", "postgresql://h/db", "postgres://[::1", "postgres://u:%zz@h/db",
		"mysql://h/db", "", "SQLITE:///x.db", "sqlite:///x\x00.db", "postgres://h/db\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		backend, target, err := ParseDatabaseURL(raw)
		if err != nil {
			if backend != "" || target != "" {
				t.Fatalf("ParseDatabaseURL(%q) = %q, %q with %v", raw, backend, target, err)
			}
			if u, perr := url.Parse(raw); perr == nil && u.User != nil {
				if pw, _ := u.User.Password(); len(pw) >= 6 && strings.Contains(err.Error(), pw) {
					t.Fatalf("ParseDatabaseURL(%q): the error %q holds the password", raw, err)
				}
			}
			return
		}
		switch backend {
		case "sqlite":
			if target == "" || target == "/" || strings.Contains(target, "?") || "sqlite://"+target != raw {
				t.Fatalf("ParseDatabaseURL(%q) = sqlite %q", raw, target)
			}
		case "postgres":
			if target != raw {
				t.Fatalf("ParseDatabaseURL(%q) = postgres %q", raw, target)
			}
		default:
			t.Fatalf("ParseDatabaseURL(%q) = backend %q", raw, backend)
		}
	})
}

// FuzzLoad: loading and validating any environment and flags never
// panics, and a setting that loads is the value given.
func FuzzLoad(f *testing.F) {
	f.Add(":8080", "sqlite:///tmp/g.db", "30s", "https://auth.example.com", "smtp://localhost:1025?tls=none", "--addr=:9090")
	f.Add("", "", "forever", "", "", "--nope")
	f.Add("\x00", "postgres://[::1", "-1s", "javascript:alert(1)", "smtps://u:p@h:0", "-shutdown-timeout=1h")
	f.Fuzz(func(t *testing.T, addr, db, timeout, public, smtp, arg string) {
		env := map[string]string{"GATEHOUSE_ADDR": addr, "GATEHOUSE_DATABASE_URL": db, "GATEHOUSE_SHUTDOWN_TIMEOUT": timeout,
			"GATEHOUSE_PUBLIC_URL": public, "GATEHOUSE_SMTP_URL": smtp, "GATEHOUSE_SECRET_KEY": strings.Repeat("ab", 32),
			"GATEHOUSE_MAIL_FROM": "auth@example.com"}
		c := Defaults()
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var args []string
		if arg != "" {
			args = []string{arg}
		}
		if err := c.Load(fs, args, func(k string) string { return env[k] }); err != nil {
			return
		}
		if !strings.HasPrefix(arg, "-") && db != "" && c.DatabaseURL != db {
			t.Fatalf("DatabaseURL = %q, want %q", c.DatabaseURL, db)
		}
		c.Validate()
	})
}
