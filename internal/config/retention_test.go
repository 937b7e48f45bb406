package config

import (
	"testing"
	"time"
)

func TestRetention(t *testing.T) {
	testSetting(t, "GATEHOUSE_RETENTION", func(c Config) time.Duration { return c.Retention }, []settingCase[time.Duration]{
		{name: "default", want: 7 * 24 * time.Hour},
		{name: "env", env: "24h", want: 24 * time.Hour},
		{name: "flag wins", env: "24h", args: []string{"--retention", "720h"}, want: 720 * time.Hour},
		{name: "least", env: "1h", want: time.Hour},
		{name: "not a duration", env: "a week", loadErr: true},
		{name: "shorter than the throttle window", env: "10m", want: 10 * time.Minute, invalid: true},
		{name: "zero", env: "0s", want: 0, invalid: true},
	})
}
