package redirecturi_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/redirecturi"
)

func FuzzValidate(f *testing.F) {
	for _, tc := range validateCases {
		f.Add(tc.raw, tc.opts.Development, tc.isDefault)
	}
	f.Fuzz(func(t *testing.T, raw string, development, isDefault bool) {
		opts := redirecturi.Options{Development: development}
		canonical, err := redirecturi.Validate(raw, opts, isDefault)
		if err != nil {
			var rerr *redirecturi.RuleError
			if !errors.As(err, &rerr) || rerr.Rule == "" || rerr.Message == "" {
				t.Fatalf("Validate(%q) error %v is not a complete RuleError", raw, err)
			}
			if canonical != "" {
				t.Fatalf("Validate(%q) returned %q along with an error", raw, canonical)
			}
			return
		}

		// Idempotence: the canonical form validates to itself.
		again, err := redirecturi.Validate(canonical, opts, isDefault)
		if err != nil || again != canonical {
			t.Fatalf("Validate(%q) = %q, but Validate(%q) = %q, %v", raw, canonical, canonical, again, err)
		}
		// Development environments and non-default URIs are more permissive.
		if got, err := redirecturi.Validate(raw, redirecturi.Options{Development: true}, false); err != nil || got != canonical {
			t.Fatalf("Validate(%q, dev, false) = %q, %v; want %q", raw, got, err, canonical)
		}
		// Only the scheme and host change case.
		if len(canonical) != len(raw) || !strings.EqualFold(canonical, raw) {
			t.Fatalf("Validate(%q) = %q changes more than case", raw, canonical)
		}

		u, err := url.Parse(canonical)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", canonical, err)
		}
		if u.Scheme != "https" && !(development && u.Scheme == "http") {
			t.Fatalf("Validate(%q) accepted scheme %q", raw, u.Scheme)
		}
		if u.User != nil || u.Fragment != "" || u.Opaque != "" || u.Host == "" {
			t.Fatalf("Validate(%q) accepted %q with userinfo, fragment, opaque part or no host", raw, canonical)
		}
		if strings.ContainsAny(u.Host, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			t.Fatalf("Validate(%q) = %q with an uppercase host", raw, canonical)
		}

		if !redirecturi.HasWildcard(canonical) {
			// Round trip: an exact URI matches itself, as stored and as
			// written.
			if !redirecturi.Match(canonical, canonical) {
				t.Fatalf("Match(%q, %q) = false", canonical, canonical)
			}
			if !redirecturi.Match(canonical, raw) {
				t.Fatalf("Match(%q, %q) = false", canonical, raw)
			}
			return
		}

		if isDefault {
			t.Fatalf("Validate(%q) accepted a wildcard default URI", raw)
		}
		if strings.Count(canonical, "*") != 1 || !strings.HasPrefix(u.Hostname(), "*.") {
			t.Fatalf("Validate(%q) = %q with a wildcard outside the left-most host label", raw, canonical)
		}
		// The wildcard stands for one label, and only one.
		for _, label := range []string{"tenant-1", "A"} {
			c := strings.Replace(canonical, "*", label, 1)
			if !redirecturi.Match(canonical, c) {
				t.Fatalf("Match(%q, %q) = false", canonical, c)
			}
		}
		for _, label := range []string{"", "a.b", "-a", "a_b", "*"} {
			c := strings.Replace(canonical, "*", label, 1)
			if redirecturi.Match(canonical, c) {
				t.Fatalf("Match(%q, %q) = true", canonical, c)
			}
		}
	})
}

func FuzzMatch(f *testing.F) {
	for _, tc := range matchCases {
		f.Add(tc.pattern, tc.candidate)
	}
	for _, tc := range validateCases {
		f.Add(tc.want, tc.raw)
	}
	f.Fuzz(func(t *testing.T, pattern, candidate string) {
		checkMatch(t, pattern, candidate)

		for _, opts := range []redirecturi.Options{{}, {Development: true}} {
			canonical, err := redirecturi.Validate(pattern, opts, false)
			if err != nil {
				continue
			}
			checkMatch(t, canonical, candidate)
			if redirecturi.HasWildcard(canonical) {
				continue
			}
			// Round trip: a valid exact pattern matches itself, as stored
			// and as written.
			if !redirecturi.Match(canonical, canonical) {
				t.Fatalf("Match(%q, %q) = false", canonical, canonical)
			}
			if !redirecturi.Match(canonical, pattern) {
				t.Fatalf("Match(%q, %q) = false", canonical, pattern)
			}
		}
	})
}

// checkMatch calls Match and, if it reports a match, checks with net/url
// that candidate has the same components as pattern.
func checkMatch(t *testing.T, pattern, candidate string) {
	t.Helper()
	if !redirecturi.Match(pattern, candidate) {
		return
	}
	p, err := url.Parse(pattern)
	if err != nil {
		t.Fatalf("Match(%q, %q) = true, but the pattern does not parse: %v", pattern, candidate, err)
	}
	c, err := url.Parse(candidate)
	if err != nil {
		t.Fatalf("Match(%q, %q) = true, but the candidate does not parse: %v", pattern, candidate, err)
	}
	if c.User != nil || c.Opaque != "" || strings.Contains(candidate, "#") || c.Host == "" {
		t.Fatalf("Match(%q, %q) = true for a candidate with userinfo, opaque part, fragment or no host", pattern, candidate)
	}
	if p.Scheme != c.Scheme || p.Port() != c.Port() || p.Path != c.Path || p.RawPath != c.RawPath ||
		p.EscapedPath() != c.EscapedPath() || p.RawQuery != c.RawQuery || p.ForceQuery != c.ForceQuery {
		t.Fatalf("Match(%q, %q) = true, but url.Parse sees different components:\n%#v\n%#v", pattern, candidate, p, c)
	}
	// Both are scheme://host followed by the same bytes; this also covers
	// the port separator (":" with an empty port versus no port).
	pTail, cTail := pattern[len(p.Scheme)+3+len(p.Host):], candidate[len(c.Scheme)+3+len(c.Host):]
	if pTail != cTail || !strings.HasSuffix(strings.ToLower(candidate[:len(c.Scheme)+3]), "://") {
		t.Fatalf("Match(%q, %q) = true, but they differ after the host", pattern, candidate)
	}

	ph, ch := strings.ToLower(p.Hostname()), strings.ToLower(c.Hostname())
	if !redirecturi.HasWildcard(pattern) {
		if ph != ch {
			t.Fatalf("Match(%q, %q) = true, but the hosts differ", pattern, candidate)
		}
		return
	}
	domain, ok := strings.CutPrefix(ph, "*")
	if !ok || !strings.HasSuffix(ch, domain) {
		t.Fatalf("Match(%q, %q) = true, but the candidate host is not under %q", pattern, candidate, domain)
	}
	label := strings.TrimSuffix(ch, domain)
	if label == "" || strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" ||
		label[0] == '-' || label[len(label)-1] == '-' {
		t.Fatalf("Match(%q, %q) = true, but %q is not a single DNS label", pattern, candidate, label)
	}
}
