package config

import "testing"

func TestParseDatabaseURL(t *testing.T) {
	for _, tc := range []struct {
		url, backend, target string
		ok                   bool
	}{
		{"sqlite:///var/lib/g.db", "sqlite", "/var/lib/g.db", true},
		{"sqlite://rel/g.db", "sqlite", "rel/g.db", true},
		{"sqlite:///g.db?synchronous=full", "sqlite", "/g.db?synchronous=full", true},
		{"sqlite:///g.db?synchronous=NORMAL", "sqlite", "/g.db?synchronous=NORMAL", true},
		{"sqlite:///g.db?synchronous=off", "", "", false},
		{"sqlite:///g.db?cache=shared", "", "", false},
		{"sqlite:///g.db?synchronous=full&x=1", "", "", false},
		{"sqlite://", "", "", false},
		{"postgres://u@h:5432/db", "postgres", "postgres://u@h:5432/db", true},
		{"postgresql://u@h/db", "postgres", "postgresql://u@h/db", true},
		{"mysql://x", "", "", false},
	} {
		b, target, err := ParseDatabaseURL(tc.url)
		if (err == nil) != tc.ok || b != tc.backend || target != tc.target {
			t.Errorf("ParseDatabaseURL(%q) = %q, %q, %v", tc.url, b, target, err)
		}
	}
}
