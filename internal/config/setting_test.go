package config

import (
	"flag"
	"io"
	"strings"
	"testing"
)

// settingCase is one value of one setting, from its environment variable
// and flags, and what Load and Validate make of it.
type settingCase[T comparable] struct {
	name    string
	env     string
	args    []string
	want    T
	loadErr bool
	invalid bool
}

// testSetting loads each case with only envVar set and checks the value
// get reads and whether Validate names envVar among its problems.
func testSetting[T comparable](t *testing.T, envVar string, get func(Config) T, cases []settingCase[T]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			getenv := func(k string) string {
				if k == envVar {
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
			if got := get(c); got != tc.want {
				t.Errorf("value = %v, want %v", got, tc.want)
			}
			// Validate reports other problems too (no database URL and so
			// on); look only for this setting's.
			verr := c.Validate()
			if got := verr != nil && strings.Contains(verr.Error(), envVar); got != tc.invalid {
				t.Errorf("Validate: %v, want a %s problem: %v", verr, envVar, tc.invalid)
			}
		})
	}
}
