package redirecturi_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/redirecturi"
)

var (
	prod = redirecturi.Options{}
	dev  = redirecturi.Options{Development: true}
)

// validateCase is one Validate call; rule is empty when raw is accepted and
// want is then its canonical form.
type validateCase struct {
	name      string
	raw       string
	opts      redirecturi.Options
	isDefault bool
	want      string
	rule      string
}

var validateCases = []validateCase{
	// Accepted URIs and their canonical forms.
	{name: "https", raw: "https://app.example.com/callback", want: "https://app.example.com/callback"},
	{name: "https default", raw: "https://app.example.com/callback", isDefault: true, want: "https://app.example.com/callback"},
	{name: "no path", raw: "https://app.example.com", want: "https://app.example.com"},
	{name: "root path", raw: "https://app.example.com/", want: "https://app.example.com/"},
	{name: "scheme and host lowercased", raw: "HTTPS://App.Example.COM/Call/Back?X=Y", want: "https://app.example.com/Call/Back?X=Y"},
	{name: "query kept verbatim", raw: "https://a.example.com/cb?b=2&a=1&c=%2F", want: "https://a.example.com/cb?b=2&a=1&c=%2F"},
	{name: "bare question mark kept", raw: "https://a.example.com/cb?", want: "https://a.example.com/cb?"},
	{name: "query without path", raw: "https://a.example.com?x=1", want: "https://a.example.com?x=1"},
	{name: "percent-encoding kept", raw: "https://a.example.com/c%2fb%20x", want: "https://a.example.com/c%2fb%20x"},
	{name: "trailing slash kept", raw: "https://a.example.com/cb/", want: "https://a.example.com/cb/"},
	{name: "port", raw: "https://a.example.com:8443/cb", want: "https://a.example.com:8443/cb"},
	{name: "port 443 kept", raw: "https://a.example.com:443/cb", want: "https://a.example.com:443/cb"},
	{name: "port 1", raw: "https://a.example.com:1/cb", want: "https://a.example.com:1/cb"},
	{name: "port 65535", raw: "https://a.example.com:65535/cb", want: "https://a.example.com:65535/cb"},
	{name: "underscore in host", raw: "https://my_app.example.com/cb", want: "https://my_app.example.com/cb"},
	{name: "punycode host", raw: "https://xn--bcher-kva.example/cb", want: "https://xn--bcher-kva.example/cb"},
	{name: "non-ASCII path", raw: "https://a.example.com/caf\u00e9", want: "https://a.example.com/caf\u00e9"},
	{name: "public IPv4", raw: "https://192.0.2.1/cb", want: "https://192.0.2.1/cb"},
	{name: "public IPv6", raw: "https://[2001:DB8::1]:8443/cb", want: "https://[2001:db8::1]:8443/cb"},
	{name: "single-label host", raw: "https://intranet/cb", want: "https://intranet/cb"},
	{name: "dots inside segment", raw: "https://a.example.com/a..b/.well-known/...", want: "https://a.example.com/a..b/.well-known/..."},
	{name: "max length", raw: "https://a.example.com/" + strings.Repeat("x", redirecturi.MaxLength-22), want: "https://a.example.com/" + strings.Repeat("x", redirecturi.MaxLength-22)},

	// Development environments.
	{name: "dev http", raw: "http://app.example.com/cb", opts: dev, want: "http://app.example.com/cb"},
	{name: "dev localhost", raw: "http://localhost:3000/cb", opts: dev, isDefault: true, want: "http://localhost:3000/cb"},
	{name: "dev localhost uppercase", raw: "HTTP://LocalHost:3000/cb", opts: dev, want: "http://localhost:3000/cb"},
	{name: "dev sub.localhost", raw: "http://app.localhost/cb", opts: dev, want: "http://app.localhost/cb"},
	{name: "dev loopback IPv4", raw: "http://127.0.0.1:8080/cb", opts: dev, want: "http://127.0.0.1:8080/cb"},
	{name: "dev loopback IPv4 range", raw: "https://127.1.2.3/cb", opts: dev, want: "https://127.1.2.3/cb"},
	{name: "dev loopback IPv6", raw: "http://[::1]:8080/cb", opts: dev, want: "http://[::1]:8080/cb"},
	{name: "dev unspecified IPv4", raw: "http://0.0.0.0:8080/cb", opts: dev, want: "http://0.0.0.0:8080/cb"},
	{name: "dev wildcard localhost", raw: "http://*.localhost:3000/cb", opts: dev, want: "http://*.localhost:3000/cb"},
	{name: "dev wildcard", raw: "http://*.example.com/cb", opts: dev, want: "http://*.example.com/cb"},

	// Wildcards.
	{name: "wildcard", raw: "https://*.example.com/callback", want: "https://*.example.com/callback"},
	{name: "wildcard uppercase", raw: "https://*.Example.COM/cb", want: "https://*.example.com/cb"},
	{name: "wildcard port", raw: "https://*.example.com:8443/cb", want: "https://*.example.com:8443/cb"},
	{name: "wildcard under private suffix", raw: "https://*.myapp.vercel.app/cb", want: "https://*.myapp.vercel.app/cb"},
	{name: "wildcard under co.uk domain", raw: "https://*.example.co.uk/cb", want: "https://*.example.co.uk/cb"},
	{name: "wildcard deep", raw: "https://*.preview.app.example.com/cb", want: "https://*.preview.app.example.com/cb"},

	// RuleEmpty, RuleTooLong, RuleInvalidCharacters.
	{name: "empty", raw: "", rule: redirecturi.RuleEmpty},
	{name: "too long", raw: "https://a.example.com/" + strings.Repeat("x", redirecturi.MaxLength-21), rule: redirecturi.RuleTooLong},
	{name: "space", raw: "https://a.example.com/c b", rule: redirecturi.RuleInvalidCharacters},
	{name: "leading space", raw: " https://a.example.com/cb", rule: redirecturi.RuleInvalidCharacters},
	{name: "trailing newline", raw: "https://a.example.com/cb\n", rule: redirecturi.RuleInvalidCharacters},
	{name: "tab", raw: "https://a.example.com/\tcb", rule: redirecturi.RuleInvalidCharacters},
	{name: "NUL", raw: "https://a.example.com/\x00", rule: redirecturi.RuleInvalidCharacters},
	{name: "DEL", raw: "https://a.example.com/\x7f", rule: redirecturi.RuleInvalidCharacters},
	{name: "C1 control", raw: "https://a.example.com/\u0085", rule: redirecturi.RuleInvalidCharacters},
	{name: "no-break space", raw: "https://a.example.com/\u00a0", rule: redirecturi.RuleInvalidCharacters},
	{name: "bidi override", raw: "https://a.example.com/\u202ecb", rule: redirecturi.RuleInvalidCharacters},
	{name: "zero-width space", raw: "https://a.example.com/\u200bcb", rule: redirecturi.RuleInvalidCharacters},
	{name: "backslash", raw: "https://a.example.com\\@evil.com/", rule: redirecturi.RuleInvalidCharacters},
	{name: "invalid UTF-8", raw: "https://a.example.com/\xff", rule: redirecturi.RuleInvalidCharacters},

	// RuleNotAbsolute, RuleUnsupportedScheme, RuleHTTPNotAllowed.
	{name: "no scheme", raw: "app.example.com/cb", rule: redirecturi.RuleNotAbsolute},
	{name: "no scheme with port", raw: "app.example.com:8080/cb", rule: redirecturi.RuleNotAbsolute},
	{name: "relative", raw: "/callback", rule: redirecturi.RuleNotAbsolute},
	{name: "scheme-relative", raw: "//app.example.com/cb", rule: redirecturi.RuleNotAbsolute},
	{name: "leading colon", raw: "://app.example.com/cb", rule: redirecturi.RuleNotAbsolute},
	{name: "one slash", raw: "https:/app.example.com/cb", rule: redirecturi.RuleNotAbsolute},
	{name: "opaque", raw: "https:app.example.com/cb", rule: redirecturi.RuleNotAbsolute},
	{name: "mailto", raw: "mailto:someone@example.com", rule: redirecturi.RuleNotAbsolute},
	{name: "bad scheme syntax", raw: "1https://app.example.com/cb", rule: redirecturi.RuleNotAbsolute},
	{name: "ftp", raw: "ftp://app.example.com/cb", rule: redirecturi.RuleUnsupportedScheme},
	{name: "custom scheme", raw: "myapp://callback", opts: dev, rule: redirecturi.RuleUnsupportedScheme},
	{name: "javascript", raw: "javascript://a.example.com/%0aalert(1)", rule: redirecturi.RuleUnsupportedScheme},
	{name: "prod http", raw: "http://app.example.com/cb", rule: redirecturi.RuleHTTPNotAllowed},
	{name: "prod http uppercase", raw: "HTTP://app.example.com/cb", rule: redirecturi.RuleHTTPNotAllowed},
	{name: "prod http localhost", raw: "http://localhost/cb", rule: redirecturi.RuleHTTPNotAllowed},

	// RuleFragmentNotAllowed, RuleUserinfoNotAllowed, RuleMissingHost.
	{name: "fragment", raw: "https://a.example.com/cb#x", rule: redirecturi.RuleFragmentNotAllowed},
	{name: "empty fragment", raw: "https://a.example.com/cb#", rule: redirecturi.RuleFragmentNotAllowed},
	{name: "fragment in query", raw: "https://a.example.com/cb?a=#b", rule: redirecturi.RuleFragmentNotAllowed},
	{name: "userinfo", raw: "https://user:pass@a.example.com/cb", rule: redirecturi.RuleUserinfoNotAllowed},
	{name: "user only", raw: "https://user@a.example.com/cb", rule: redirecturi.RuleUserinfoNotAllowed},
	{name: "host confusion", raw: "https://a.example.com@evil.com/cb", rule: redirecturi.RuleUserinfoNotAllowed},
	{name: "at in path is fine", raw: "https://a.example.com/@me", want: "https://a.example.com/@me"},
	{name: "empty host", raw: "https:///cb", rule: redirecturi.RuleMissingHost},
	{name: "only scheme", raw: "https://", rule: redirecturi.RuleMissingHost},
	{name: "only port", raw: "https://:443/cb", rule: redirecturi.RuleMissingHost},

	// RuleNonASCIIHost, RuleInvalidHost.
	{name: "IDN host", raw: "https://b\u00fccher.example/cb", rule: redirecturi.RuleNonASCIIHost},
	{name: "fullwidth dot", raw: "https://a\uff0eexample.com/cb", rule: redirecturi.RuleNonASCIIHost},
	{name: "percent in host", raw: "https://a%2eexample.com/cb", rule: redirecturi.RuleInvalidHost},
	{name: "trailing dot", raw: "https://a.example.com./cb", rule: redirecturi.RuleInvalidHost},
	{name: "leading dot", raw: "https://.example.com/cb", rule: redirecturi.RuleInvalidHost},
	{name: "double dot", raw: "https://a..example.com/cb", rule: redirecturi.RuleInvalidHost},
	{name: "hyphen start", raw: "https://-a.example.com/cb", rule: redirecturi.RuleInvalidHost},
	{name: "hyphen end", raw: "https://a-.example.com/cb", rule: redirecturi.RuleInvalidHost},
	{name: "long label", raw: "https://" + strings.Repeat("a", 64) + ".example.com/cb", rule: redirecturi.RuleInvalidHost},
	{name: "long host", raw: "https://" + strings.Repeat("a.", 127) + "com/cb", rule: redirecturi.RuleInvalidHost},
	{name: "sub-delim in host", raw: "https://a!b.example.com/cb", rule: redirecturi.RuleInvalidHost},
	{name: "unbracketed IPv6", raw: "https://2001:db8::1/cb", rule: redirecturi.RuleInvalidHost},
	{name: "unclosed bracket", raw: "https://[2001:db8::1/cb", rule: redirecturi.RuleInvalidHost},
	{name: "junk after bracket", raw: "https://[2001:db8::1]x/cb", rule: redirecturi.RuleInvalidHost},
	{name: "bad IPv6", raw: "https://[2001:db8::g]/cb", rule: redirecturi.RuleInvalidHost},
	{name: "bracketed IPv4", raw: "https://[192.0.2.1]/cb", rule: redirecturi.RuleInvalidHost},
	{name: "IPv6 zone", raw: "https://[fe80::1%25eth0]/cb", rule: redirecturi.RuleInvalidHost},
	{name: "numeric last label", raw: "https://example.123/cb", rule: redirecturi.RuleInvalidHost},
	{name: "short IPv4", raw: "https://127.1/cb", opts: dev, rule: redirecturi.RuleInvalidHost},
	{name: "decimal IPv4", raw: "https://2130706433/cb", rule: redirecturi.RuleInvalidHost},
	{name: "hex IPv4", raw: "https://0x7f.0.0.1/cb", rule: redirecturi.RuleInvalidHost},
	{name: "octal IPv4", raw: "https://0177.0.0.1/cb", rule: redirecturi.RuleInvalidHost},

	// RuleInvalidPort.
	{name: "empty port", raw: "https://a.example.com:/cb", rule: redirecturi.RuleInvalidPort},
	{name: "port 0", raw: "https://a.example.com:0/cb", rule: redirecturi.RuleInvalidPort},
	{name: "port leading zero", raw: "https://a.example.com:0443/cb", rule: redirecturi.RuleInvalidPort},
	{name: "port too large", raw: "https://a.example.com:65536/cb", rule: redirecturi.RuleInvalidPort},
	{name: "port huge", raw: "https://a.example.com:99999999999999999999999/cb", rule: redirecturi.RuleInvalidPort},
	{name: "port not numeric", raw: "https://a.example.com:https/cb", rule: redirecturi.RuleInvalidPort},
	{name: "port negative", raw: "https://a.example.com:-1/cb", rule: redirecturi.RuleInvalidPort},
	{name: "IPv6 empty port", raw: "https://[2001:db8::1]:/cb", rule: redirecturi.RuleInvalidPort},

	// RuleLocalhostNotAllowed.
	{name: "prod localhost", raw: "https://localhost/cb", rule: redirecturi.RuleLocalhostNotAllowed},
	{name: "prod localhost uppercase", raw: "https://LOCALHOST:3000/cb", rule: redirecturi.RuleLocalhostNotAllowed},
	{name: "prod sub.localhost", raw: "https://app.localhost/cb", rule: redirecturi.RuleLocalhostNotAllowed},
	{name: "prod loopback IPv4", raw: "https://127.0.0.1/cb", rule: redirecturi.RuleLocalhostNotAllowed},
	{name: "prod loopback IPv4 range", raw: "https://127.255.0.9/cb", rule: redirecturi.RuleLocalhostNotAllowed},
	{name: "prod loopback IPv6", raw: "https://[::1]/cb", rule: redirecturi.RuleLocalhostNotAllowed},
	{name: "prod loopback IPv6 long form", raw: "https://[0:0:0:0:0:0:0:1]/cb", rule: redirecturi.RuleLocalhostNotAllowed},
	{name: "prod mapped loopback", raw: "https://[::ffff:127.0.0.1]/cb", rule: redirecturi.RuleLocalhostNotAllowed},
	{name: "prod unspecified", raw: "https://0.0.0.0/cb", rule: redirecturi.RuleLocalhostNotAllowed},
	{name: "prod wildcard localhost", raw: "https://*.localhost/cb", rule: redirecturi.RuleLocalhostNotAllowed},
	{name: "localhost lookalike is public", raw: "https://localhost.example.com/cb", want: "https://localhost.example.com/cb"},

	// RuleDotSegmentInPath, RuleInvalidURL.
	{name: "dot-dot segment", raw: "https://a.example.com/a/../cb", rule: redirecturi.RuleDotSegmentInPath},
	{name: "dot segment", raw: "https://a.example.com/./cb", rule: redirecturi.RuleDotSegmentInPath},
	{name: "trailing dot-dot", raw: "https://a.example.com/cb/..", rule: redirecturi.RuleDotSegmentInPath},
	{name: "encoded dot-dot", raw: "https://a.example.com/a/%2E%2e/cb", rule: redirecturi.RuleDotSegmentInPath},
	{name: "half encoded dot-dot", raw: "https://a.example.com/a/.%2e/cb", rule: redirecturi.RuleDotSegmentInPath},
	{name: "dot-dot in query is fine", raw: "https://a.example.com/cb?p=/../x", want: "https://a.example.com/cb?p=/../x"},
	{name: "bad escape", raw: "https://a.example.com/%zz", rule: redirecturi.RuleInvalidURL},
	{name: "truncated escape", raw: "https://a.example.com/cb%2", rule: redirecturi.RuleInvalidURL},

	// Wildcard rules.
	{name: "two wildcards", raw: "https://*.*.example.com/cb", rule: redirecturi.RuleMultipleWildcards},
	{name: "wildcard host and path", raw: "https://*.example.com/*", rule: redirecturi.RuleMultipleWildcards},
	{name: "wildcard in default", raw: "https://*.example.com/cb", isDefault: true, rule: redirecturi.RuleWildcardInDefault},
	{name: "dev wildcard in default", raw: "http://*.localhost/cb", opts: dev, isDefault: true, rule: redirecturi.RuleWildcardInDefault},
	{name: "wildcard path in default", raw: "https://a.example.com/*", isDefault: true, rule: redirecturi.RuleWildcardInDefault},
	{name: "wildcard scheme", raw: "*://a.example.com/cb", rule: redirecturi.RuleWildcardInScheme},
	{name: "wildcard in scheme", raw: "http*://a.example.com/cb", rule: redirecturi.RuleWildcardInScheme},
	{name: "wildcard as port", raw: "https://a.example.com:*/cb", rule: redirecturi.RuleWildcardInPort},
	{name: "wildcard in port", raw: "https://a.example.com:80*/cb", rule: redirecturi.RuleWildcardInPort},
	{name: "wildcard path", raw: "https://a.example.com/*", rule: redirecturi.RuleWildcardInPath},
	{name: "wildcard in path segment", raw: "https://a.example.com/cb/app-*", rule: redirecturi.RuleWildcardInPath},
	{name: "wildcard query", raw: "https://a.example.com/cb?next=*", rule: redirecturi.RuleWildcardInQuery},
	{name: "wildcard query without path", raw: "https://a.example.com?*", rule: redirecturi.RuleWildcardInQuery},
	{name: "wildcard in userinfo", raw: "https://*@a.example.com/cb", rule: redirecturi.RuleUserinfoNotAllowed},
	{name: "wildcard in fragment", raw: "https://a.example.com/cb#*", rule: redirecturi.RuleFragmentNotAllowed},
	{name: "wildcard partial prefix", raw: "https://a*.example.com/cb", rule: redirecturi.RuleWildcardPartialLabel},
	{name: "wildcard partial suffix", raw: "https://*a.example.com/cb", rule: redirecturi.RuleWildcardPartialLabel},
	{name: "wildcard partial single label", raw: "https://a*/cb", rule: redirecturi.RuleWildcardPartialLabel},
	{name: "wildcard middle label", raw: "https://foo.*.example.com/cb", rule: redirecturi.RuleWildcardNotLeftmost},
	{name: "wildcard TLD", raw: "https://example.*/cb", rule: redirecturi.RuleWildcardNotLeftmost},
	{name: "wildcard partial middle label", raw: "https://foo.b*r.example.com/cb", rule: redirecturi.RuleWildcardNotLeftmost},
	{name: "wildcard only", raw: "https://*/cb", rule: redirecturi.RuleWildcardWithoutDomain},
	{name: "wildcard only with port", raw: "https://*:8443/cb", rule: redirecturi.RuleWildcardWithoutDomain},
	{name: "wildcard dot", raw: "https://*./cb", rule: redirecturi.RuleWildcardWithoutDomain},
	{name: "wildcard TLD com", raw: "https://*.com/cb", rule: redirecturi.RuleWildcardPublicSuffix},
	{name: "wildcard TLD uppercase", raw: "https://*.COM/cb", rule: redirecturi.RuleWildcardPublicSuffix},
	{name: "wildcard co.uk", raw: "https://*.co.uk/cb", rule: redirecturi.RuleWildcardPublicSuffix},
	{name: "wildcard github.io", raw: "https://*.github.io/cb", rule: redirecturi.RuleWildcardPublicSuffix},
	{name: "wildcard vercel.app", raw: "https://*.vercel.app/cb", rule: redirecturi.RuleWildcardPublicSuffix},
	{name: "dev wildcard vercel.app", raw: "http://*.vercel.app/cb", opts: dev, rule: redirecturi.RuleWildcardPublicSuffix},
	{name: "wildcard single unlisted label", raw: "https://*.intranet/cb", rule: redirecturi.RuleWildcardDomainTooShort},
	{name: "wildcard IPv4", raw: "https://*.0.2.1/cb", rule: redirecturi.RuleWildcardOnIP},
	{name: "dev wildcard loopback", raw: "http://*.0.0.1/cb", opts: dev, rule: redirecturi.RuleWildcardOnIP},
	{name: "wildcard IPv6", raw: "https://[*::1]/cb", rule: redirecturi.RuleWildcardOnIP},
	{name: "wildcard bad domain", raw: "https://*..example.com/cb", rule: redirecturi.RuleInvalidHost},
	{name: "wildcard trailing dot", raw: "https://*.example.com./cb", rule: redirecturi.RuleInvalidHost},
}

func TestValidate(t *testing.T) {
	names := make(map[string]bool)
	for _, tc := range validateCases {
		if names[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		names[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			got, err := redirecturi.Validate(tc.raw, tc.opts, tc.isDefault)
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("Validate(%q) error: %v", tc.raw, err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("Validate(%q) canonical form (-want +got):\n%s", tc.raw, diff)
				}
				return
			}
			var rerr *redirecturi.RuleError
			if !errors.As(err, &rerr) {
				t.Fatalf("Validate(%q) = %q, %v; want RuleError %s", tc.raw, got, err, tc.rule)
			}
			if rerr.Rule != tc.rule {
				t.Errorf("Validate(%q) rule = %s (%s); want %s", tc.raw, rerr.Rule, rerr.Message, tc.rule)
			}
			if got != "" {
				t.Errorf("Validate(%q) returned %q along with an error", tc.raw, got)
			}
			if rerr.Message == "" || !strings.HasSuffix(rerr.Message, ".") {
				t.Errorf("Validate(%q) message %q is not a full sentence", tc.raw, rerr.Message)
			}
		})
	}
}

// TestValidateEnvironments checks that development environments accept
// everything production does, and that non-default URIs accept everything
// default ones do.
func TestValidateEnvironments(t *testing.T) {
	for _, tc := range validateCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, opts := range []redirecturi.Options{prod, dev} {
				for _, isDefault := range []bool{true, false} {
					want, err := redirecturi.Validate(tc.raw, opts, isDefault)
					if err != nil {
						continue
					}
					if got, err := redirecturi.Validate(tc.raw, dev, false); err != nil || got != want {
						t.Errorf("Validate(%q, dev, false) = %q, %v; want %q", tc.raw, got, err, want)
					}
				}
			}
		})
	}
}

func TestRuleMessages(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		opts redirecturi.Options
		want []string
	}{
		{name: "http", raw: "http://a.example.com/cb", want: []string{"https", "development environments"}},
		{name: "localhost", raw: "https://localhost/cb", want: []string{"localhost", "development environments"}},
		{name: "public suffix", raw: "https://*.co.uk/cb", want: []string{`"co.uk"`, "public suffix"}},
		{name: "IDN", raw: "https://b\u00fccher.example/cb", want: []string{"punycode", "xn--"}},
		{name: "port", raw: "https://a.example.com:70000/cb", want: []string{`"70000"`, "65535"}},
		{name: "not leftmost", raw: "https://a.*.example.com/cb", want: []string{"left-most label"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redirecturi.Validate(tc.raw, tc.opts, false)
			var rerr *redirecturi.RuleError
			if !errors.As(err, &rerr) {
				t.Fatalf("Validate(%q) error = %v; want a RuleError", tc.raw, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(rerr.Message, w) {
					t.Errorf("message %q does not mention %q", rerr.Message, w)
				}
			}
			if !strings.Contains(err.Error(), rerr.Rule) || !strings.Contains(err.Error(), rerr.Message) {
				t.Errorf("Error() = %q; want it to contain the rule and message", err.Error())
			}
		})
	}
}

func TestHasWildcard(t *testing.T) {
	tests := []struct {
		name string
		uri  string
		want bool
	}{
		{name: "exact", uri: "https://a.example.com/cb", want: false},
		{name: "wildcard", uri: "https://*.example.com/cb", want: true},
		{name: "empty", uri: "", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := redirecturi.HasWildcard(tc.uri); got != tc.want {
				t.Errorf("HasWildcard(%q) = %v; want %v", tc.uri, got, tc.want)
			}
		})
	}
}

type matchCase struct {
	name      string
	pattern   string
	candidate string
	want      bool
}

var matchCases = []matchCase{
	// Exact patterns.
	{name: "identical", pattern: "https://app.example.com/cb", candidate: "https://app.example.com/cb", want: true},
	{name: "scheme case", pattern: "https://app.example.com/cb", candidate: "HTTPS://app.example.com/cb", want: true},
	{name: "host case", pattern: "https://app.example.com/cb", candidate: "https://APP.Example.com/cb", want: true},
	{name: "other scheme", pattern: "https://app.example.com/cb", candidate: "http://app.example.com/cb", want: false},
	{name: "other host", pattern: "https://app.example.com/cb", candidate: "https://evil.example.com/cb", want: false},
	{name: "subdomain", pattern: "https://example.com/cb", candidate: "https://app.example.com/cb", want: false},
	{name: "host suffix", pattern: "https://example.com/cb", candidate: "https://example.com.evil.com/cb", want: false},
	{name: "host trailing dot", pattern: "https://example.com/cb", candidate: "https://example.com./cb", want: false},
	{name: "kelvin sign", pattern: "https://k.example.com/cb", candidate: "https://\u212a.example.com/cb", want: false},
	{name: "percent-encoded host", pattern: "https://k.example.com/cb", candidate: "https://%6b.example.com/cb", want: false},
	{name: "userinfo", pattern: "https://example.com/cb", candidate: "https://example.com@evil.com/cb", want: false},
	{name: "userinfo same host", pattern: "https://example.com/cb", candidate: "https://user@example.com/cb", want: false},
	{name: "fragment", pattern: "https://example.com/cb", candidate: "https://example.com/cb#x", want: false},
	{name: "empty fragment", pattern: "https://example.com/cb", candidate: "https://example.com/cb#", want: false},
	{name: "opaque", pattern: "https://example.com/cb", candidate: "https:example.com/cb", want: false},
	{name: "no host", pattern: "https://example.com/cb", candidate: "https:///cb", want: false},
	{name: "relative", pattern: "https://example.com/cb", candidate: "/cb", want: false},
	{name: "scheme-relative", pattern: "https://example.com/cb", candidate: "//example.com/cb", want: false},
	{name: "empty candidate", pattern: "https://example.com/cb", candidate: "", want: false},
	{name: "unparsable", pattern: "https://example.com/cb", candidate: "https://example.com/%zz", want: false},
	{name: "control character", pattern: "https://example.com/cb", candidate: "https://example.com/cb\n", want: false},
	{name: "path prefix", pattern: "https://example.com/cb", candidate: "https://example.com/cb/evil", want: false},
	{name: "trailing slash added", pattern: "https://example.com/cb", candidate: "https://example.com/cb/", want: false},
	{name: "trailing slash removed", pattern: "https://example.com/cb/", candidate: "https://example.com/cb", want: false},
	{name: "empty path vs slash", pattern: "https://example.com", candidate: "https://example.com/", want: false},
	{name: "slash vs empty path", pattern: "https://example.com/", candidate: "https://example.com", want: false},
	{name: "empty path", pattern: "https://example.com", candidate: "https://example.com", want: true},
	{name: "path case", pattern: "https://example.com/cb", candidate: "https://example.com/CB", want: false},
	{name: "percent-encoded path", pattern: "https://example.com/cb", candidate: "https://example.com/c%62", want: false},
	{name: "percent-decoded path", pattern: "https://example.com/c%62", candidate: "https://example.com/cb", want: false},
	{name: "percent-encoding same", pattern: "https://example.com/c%62", candidate: "https://example.com/c%62", want: true},
	{name: "percent-encoding hex case", pattern: "https://example.com/c%2F", candidate: "https://example.com/c%2f", want: false},
	{name: "encoded slash", pattern: "https://example.com/a/b", candidate: "https://example.com/a%2Fb", want: false},
	{name: "encoded non-ASCII vs raw", pattern: "https://example.com/caf\u00e9", candidate: "https://example.com/caf%C3%A9", want: false},
	{name: "raw non-ASCII", pattern: "https://example.com/caf\u00e9", candidate: "https://example.com/caf\u00e9", want: true},
	{name: "encoded space vs raw", pattern: "https://example.com/c%20b", candidate: "https://example.com/c b", want: false},
	{name: "dot-dot", pattern: "https://example.com/cb", candidate: "https://example.com/a/../cb", want: false},
	{name: "dot", pattern: "https://example.com/cb", candidate: "https://example.com/./cb", want: false},
	{name: "double slash", pattern: "https://example.com/cb", candidate: "https://example.com//cb", want: false},
	{name: "backslash", pattern: "https://example.com/cb", candidate: "https://example.com\\cb", want: false},
	{name: "query added", pattern: "https://example.com/cb", candidate: "https://example.com/cb?x=1", want: false},
	{name: "bare question mark", pattern: "https://example.com/cb", candidate: "https://example.com/cb?", want: false},
	{name: "bare question mark both", pattern: "https://example.com/cb?", candidate: "https://example.com/cb?", want: true},
	{name: "bare question mark removed", pattern: "https://example.com/cb?", candidate: "https://example.com/cb", want: false},
	{name: "query removed", pattern: "https://example.com/cb?x=1", candidate: "https://example.com/cb", want: false},
	{name: "query same", pattern: "https://example.com/cb?a=1&b=2", candidate: "https://example.com/cb?a=1&b=2", want: true},
	{name: "query order", pattern: "https://example.com/cb?a=1&b=2", candidate: "https://example.com/cb?b=2&a=1", want: false},
	{name: "query extra", pattern: "https://example.com/cb?a=1", candidate: "https://example.com/cb?a=1&a=2", want: false},
	{name: "query encoding", pattern: "https://example.com/cb?a=%2F", candidate: "https://example.com/cb?a=/", want: false},
	{name: "query case", pattern: "https://example.com/cb?a=x", candidate: "https://example.com/cb?A=x", want: false},
	{name: "double question mark", pattern: "https://example.com/cb?", candidate: "https://example.com/cb??", want: false},
	{name: "explicit default port", pattern: "https://example.com/cb", candidate: "https://example.com:443/cb", want: false},
	{name: "missing port", pattern: "https://example.com:443/cb", candidate: "https://example.com/cb", want: false},
	{name: "same port", pattern: "https://example.com:8443/cb", candidate: "https://example.com:8443/cb", want: true},
	{name: "other port", pattern: "https://example.com:8443/cb", candidate: "https://example.com:8444/cb", want: false},
	{name: "port leading zero", pattern: "https://example.com:8443/cb", candidate: "https://example.com:08443/cb", want: false},
	{name: "empty port", pattern: "https://example.com/cb", candidate: "https://example.com:/cb", want: false},
	{name: "localhost port", pattern: "http://localhost:3000/cb", candidate: "http://localhost:3000/cb", want: true},
	{name: "localhost other port", pattern: "http://localhost:3000/cb", candidate: "http://localhost:3001/cb", want: false},
	{name: "IPv6", pattern: "http://[::1]:8080/cb", candidate: "http://[::1]:8080/cb", want: true},
	{name: "IPv6 other form", pattern: "http://[::1]:8080/cb", candidate: "http://[0:0::1]:8080/cb", want: false},
	{name: "IPv6 case", pattern: "https://[2001:db8::ab]/cb", candidate: "https://[2001:DB8::AB]/cb", want: true},

	// Wildcard patterns.
	{name: "wildcard", pattern: "https://*.example.com/cb", candidate: "https://tenant-1.example.com/cb", want: true},
	{name: "wildcard case", pattern: "https://*.example.com/cb", candidate: "https://Tenant.EXAMPLE.com/cb", want: true},
	{name: "wildcard digits", pattern: "https://*.example.com/cb", candidate: "https://42.example.com/cb", want: true},
	{name: "wildcard one letter", pattern: "https://*.example.com/cb", candidate: "https://a.example.com/cb", want: true},
	{name: "wildcard punycode label", pattern: "https://*.example.com/cb", candidate: "https://xn--bcher-kva.example.com/cb", want: true},
	{name: "wildcard 63 characters", pattern: "https://*.example.com/cb", candidate: "https://" + strings.Repeat("a", 63) + ".example.com/cb", want: true},
	{name: "wildcard 64 characters", pattern: "https://*.example.com/cb", candidate: "https://" + strings.Repeat("a", 64) + ".example.com/cb", want: false},
	{name: "wildcard apex", pattern: "https://*.example.com/cb", candidate: "https://example.com/cb", want: false},
	{name: "wildcard empty label", pattern: "https://*.example.com/cb", candidate: "https://.example.com/cb", want: false},
	{name: "wildcard two labels", pattern: "https://*.example.com/cb", candidate: "https://a.b.example.com/cb", want: false},
	{name: "wildcard path confusion", pattern: "https://*.example.com/cb", candidate: "https://evil.com/.example.com/cb", want: false},
	{name: "wildcard suffix confusion", pattern: "https://*.example.com/cb", candidate: "https://x.example.com.evil.com/cb", want: false},
	{name: "wildcard userinfo confusion", pattern: "https://*.example.com/cb", candidate: "https://x.example.com@evil.com/cb", want: false},
	{name: "wildcard backslash confusion", pattern: "https://*.example.com/cb", candidate: "https://evil.com\\.example.com/cb", want: false},
	{name: "wildcard other domain", pattern: "https://*.example.com/cb", candidate: "https://a.example.org/cb", want: false},
	{name: "wildcard lookalike domain", pattern: "https://*.example.com/cb", candidate: "https://a.evilexample.com/cb", want: false},
	{name: "wildcard literal star", pattern: "https://*.example.com/cb", candidate: "https://*.example.com/cb", want: false},
	{name: "wildcard leading hyphen", pattern: "https://*.example.com/cb", candidate: "https://-a.example.com/cb", want: false},
	{name: "wildcard trailing hyphen", pattern: "https://*.example.com/cb", candidate: "https://a-.example.com/cb", want: false},
	{name: "wildcard underscore", pattern: "https://*.example.com/cb", candidate: "https://a_b.example.com/cb", want: false},
	{name: "wildcard sub-delim", pattern: "https://*.example.com/cb", candidate: "https://a!b.example.com/cb", want: false},
	{name: "wildcard percent", pattern: "https://*.example.com/cb", candidate: "https://a%C3%A9.example.com/cb", want: false},
	{name: "wildcard non-ASCII", pattern: "https://*.example.com/cb", candidate: "https://\u00e9.example.com/cb", want: false},
	{name: "wildcard trailing dot", pattern: "https://*.example.com/cb", candidate: "https://a.example.com./cb", want: false},
	{name: "wildcard path differs", pattern: "https://*.example.com/cb", candidate: "https://a.example.com/cb/", want: false},
	{name: "wildcard port", pattern: "https://*.example.com:8443/cb", candidate: "https://a.example.com:8443/cb", want: true},
	{name: "wildcard port differs", pattern: "https://*.example.com:8443/cb", candidate: "https://a.example.com/cb", want: false},
	{name: "wildcard port added", pattern: "https://*.example.com/cb", candidate: "https://a.example.com:443/cb", want: false},
	{name: "wildcard scheme differs", pattern: "https://*.example.com/cb", candidate: "http://a.example.com/cb", want: false},
	{name: "wildcard query", pattern: "https://*.example.com/cb?x=1", candidate: "https://a.example.com/cb?x=1", want: true},
	{name: "wildcard query differs", pattern: "https://*.example.com/cb", candidate: "https://a.example.com/cb?x=1", want: false},
	{name: "wildcard localhost", pattern: "http://*.localhost:3000/cb", candidate: "http://app.localhost:3000/cb", want: true},

	// Patterns Validate would refuse never match.
	{name: "pattern wildcard in path", pattern: "https://example.com/*", candidate: "https://example.com/*", want: false},
	{name: "pattern partial wildcard", pattern: "https://a*.example.com/cb", candidate: "https://a*.example.com/cb", want: false},
	{name: "pattern two wildcards", pattern: "https://*.*.example.com/cb", candidate: "https://a.b.example.com/cb", want: false},
	{name: "pattern with fragment", pattern: "https://example.com/cb#x", candidate: "https://example.com/cb", want: false},
	{name: "pattern with userinfo", pattern: "https://u@example.com/cb", candidate: "https://u@example.com/cb", want: false},
	{name: "empty pattern", pattern: "", candidate: "", want: false},
	{name: "relative pattern", pattern: "/cb", candidate: "/cb", want: false},
	{name: "scheme-relative pattern", pattern: "//example.com/cb", candidate: "//example.com/cb", want: false},
	{name: "other scheme pattern", pattern: "ftp://example.com/cb", candidate: "ftp://example.com/cb", want: false},
}

func TestMatch(t *testing.T) {
	names := make(map[string]bool)
	for _, tc := range matchCases {
		if names[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		names[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			if got := redirecturi.Match(tc.pattern, tc.candidate); got != tc.want {
				t.Errorf("Match(%q, %q) = %v; want %v", tc.pattern, tc.candidate, got, tc.want)
			}
		})
	}
}

// TestMatchValidated checks that every exact URI Validate accepts matches
// itself, both as written and in canonical form.
func TestMatchValidated(t *testing.T) {
	for _, tc := range validateCases {
		if tc.rule != "" || redirecturi.HasWildcard(tc.want) {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			if !redirecturi.Match(tc.want, tc.want) {
				t.Errorf("Match(%q, %q) = false; want true", tc.want, tc.want)
			}
			if !redirecturi.Match(tc.want, tc.raw) {
				t.Errorf("Match(%q, %q) = false; want true", tc.want, tc.raw)
			}
		})
	}
}
