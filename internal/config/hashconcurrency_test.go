package config

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func TestHashConcurrency(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     string
		args    []string
		want    int
		loadErr bool
		invalid bool
	}{
		{name: "default", want: 0},
		{name: "env", env: "3", want: 3},
		{name: "flag wins", env: "3", args: []string{"--hash-concurrency", "1"}, want: 1},
		{name: "not a number", env: "two", loadErr: true},
		{name: "negative", env: "-1", want: -1, invalid: true},
		{name: "too many", env: "65", want: 65, invalid: true},
		{name: "most", env: "64", want: 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			getenv := func(k string) string {
				if k == "GATEHOUSE_HASH_CONCURRENCY" {
					return tc.env
				}
				return ""
			}
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			err := c.Load(fs, tc.args, getenv)
			if (err != nil) != tc.loadErr {
				t.Fatalf("Load: %v, want error %v", err, tc.loadErr)
			}
			if tc.loadErr {
				return
			}
			if c.HashConcurrency != tc.want {
				t.Errorf("HashConcurrency = %d, want %d", c.HashConcurrency, tc.want)
			}
			// Validate reports other problems too (no database URL and so
			// on); look only for this setting's.
			verr := c.Validate()
			got := verr != nil && strings.Contains(verr.Error(), "GATEHOUSE_HASH_CONCURRENCY")
			if got != tc.invalid {
				t.Errorf("Validate: %v, want a GATEHOUSE_HASH_CONCURRENCY problem: %v", verr, tc.invalid)
			}
		})
	}
}
