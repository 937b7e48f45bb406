package config

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestRetention(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     string
		args    []string
		want    time.Duration
		invalid bool
	}{
		{name: "default", want: 7 * 24 * time.Hour},
		{name: "env", env: "24h", want: 24 * time.Hour},
		{name: "flag wins", env: "24h", args: []string{"--retention", "720h"}, want: 720 * time.Hour},
		{name: "least", env: "1h", want: time.Hour},
		{name: "shorter than the throttle window", env: "10m", want: 10 * time.Minute, invalid: true},
		{name: "zero", env: "0s", want: 0, invalid: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			getenv := func(k string) string {
				if k == "GATEHOUSE_RETENTION" {
					return tc.env
				}
				return ""
			}
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			if err := c.Load(fs, tc.args, getenv); err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.Retention != tc.want {
				t.Errorf("Retention = %s, want %s", c.Retention, tc.want)
			}
			verr := c.Validate()
			got := verr != nil && strings.Contains(verr.Error(), "GATEHOUSE_RETENTION")
			if got != tc.invalid {
				t.Errorf("Validate: %v, want a GATEHOUSE_RETENTION problem: %v", verr, tc.invalid)
			}
		})
	}
}
