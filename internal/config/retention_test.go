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

func TestEventRetention(t *testing.T) {
	testSetting(t, "GATEHOUSE_EVENT_RETENTION", func(c Config) time.Duration { return c.EventRetention }, []settingCase[time.Duration]{
		{name: "default keeps the log", want: 0},
		{name: "env", env: "2160h", want: 2160 * time.Hour},
		{name: "flag wins", env: "2160h", args: []string{"--event-retention", "8760h"}, want: 8760 * time.Hour},
		{name: "zero keeps the log", env: "0s", want: 0},
		{name: "least", env: "24h", want: 24 * time.Hour},
		{name: "not a duration", env: "90 days", loadErr: true},
		{name: "shorter than a day", env: "90m", want: 90 * time.Minute, invalid: true},
		{name: "negative", env: "-24h", want: -24 * time.Hour, invalid: true},
	})
}
