package config

import "testing"

func TestHashConcurrency(t *testing.T) {
	testSetting(t, "GATEHOUSE_HASH_CONCURRENCY", func(c Config) int { return c.HashConcurrency }, []settingCase[int]{
		{name: "default", want: 0},
		{name: "env", env: "3", want: 3},
		{name: "flag wins", env: "3", args: []string{"--hash-concurrency", "1"}, want: 1},
		{name: "not a number", env: "two", loadErr: true},
		{name: "negative", env: "-1", want: -1, invalid: true},
		{name: "too many", env: "65", want: 65, invalid: true},
		{name: "most", env: "64", want: 64},
	})
}
