package config

import (
	"slices"
	"testing"
)

func TestParseTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: "", want: nil},
		{in: " , ", want: nil},
		{in: "10.0.0.0/8", want: []string{"10.0.0.0/8"}},
		{in: "10.1.2.3/8, 192.0.2.10 ,fd00::/8", want: []string{"10.0.0.0/8", "192.0.2.10/32", "fd00::/8"}},
		{in: "2001:db8::1", want: []string{"2001:db8::1/128"}},
		{in: "::ffff:10.0.0.0/104", want: []string{"10.0.0.0/8"}},
		{in: "10.0.0.0/33", bad: true},
		{in: "proxy.internal", bad: true},
		{in: "10.0.0.1,", want: []string{"10.0.0.1/32"}},
		{in: "fe80::1%eth0", bad: true},
		{in: "10.0.0.0/8;rm", bad: true},
	} {
		got, err := ParseTrustedProxies(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("ParseTrustedProxies(%q) error %v, want error %v", tc.in, err, tc.bad)
			continue
		}
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if !slices.Equal(s, tc.want) {
			t.Errorf("ParseTrustedProxies(%q) = %v, want %v", tc.in, s, tc.want)
		}
	}
}

func TestTrustedProxiesSetting(t *testing.T) {
	testSetting(t, "GATEHOUSE_TRUSTED_PROXIES", func(c Config) string { return c.TrustedProxies }, []settingCase[string]{
		{name: "default: none", want: ""},
		{name: "env", env: "10.0.0.0/8", want: "10.0.0.0/8"},
		{name: "flag wins", env: "10.0.0.0/8", args: []string{"--trusted-proxies", "192.0.2.10"}, want: "192.0.2.10"},
		{name: "not an address", env: "lb.internal", want: "lb.internal", invalid: true},
	})
}
