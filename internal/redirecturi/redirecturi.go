package redirecturi

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"
)

// MaxLength is the maximum length in bytes of a registered redirect URI.
const MaxLength = 2048

// Rule codes reported in [RuleError.Rule]. They are stable and may be relied
// on by API clients.
const (
	// RuleEmpty is reported for an empty URI.
	RuleEmpty = "empty"
	// RuleTooLong is reported for a URI longer than MaxLength bytes.
	RuleTooLong = "too_long"
	// RuleInvalidCharacters is reported for a URI containing whitespace,
	// control or invisible formatting characters, backslashes or invalid
	// UTF-8.
	RuleInvalidCharacters = "invalid_characters"
	// RuleNotAbsolute is reported for a URI that does not start with a
	// scheme followed by "://".
	RuleNotAbsolute = "not_absolute"
	// RuleUnsupportedScheme is reported for a scheme other than https or
	// http.
	RuleUnsupportedScheme = "unsupported_scheme"
	// RuleHTTPNotAllowed is reported for an http URI in a production
	// environment.
	RuleHTTPNotAllowed = "http_not_allowed"
	// RuleFragmentNotAllowed is reported for a URI with a fragment, even an
	// empty one.
	RuleFragmentNotAllowed = "fragment_not_allowed"
	// RuleUserinfoNotAllowed is reported for a URI with a user name or
	// password before its host.
	RuleUserinfoNotAllowed = "userinfo_not_allowed"
	// RuleMissingHost is reported for a URI without a host.
	RuleMissingHost = "missing_host"
	// RuleNonASCIIHost is reported for a host containing non-ASCII
	// characters; such hosts must be registered in punycode form.
	RuleNonASCIIHost = "non_ascii_host"
	// RuleInvalidHost is reported for a host that is neither a well-formed
	// DNS name nor a well-formed IP address.
	RuleInvalidHost = "invalid_host"
	// RuleInvalidPort is reported for a port that is empty, not a decimal
	// number from 1 to 65535, or written with leading zeros.
	RuleInvalidPort = "invalid_port"
	// RuleLocalhostNotAllowed is reported for a localhost, *.localhost or
	// loopback host in a production environment.
	RuleLocalhostNotAllowed = "localhost_not_allowed"
	// RuleDotSegmentInPath is reported for a path containing a "." or ".."
	// segment, which browsers would remove before requesting the URI.
	RuleDotSegmentInPath = "dot_segment_in_path"
	// RuleInvalidURL is reported for a URI that net/url cannot parse or
	// parses differently from the other rules' reading of it.
	RuleInvalidURL = "invalid_url"
	// RuleMultipleWildcards is reported for a URI with more than one "*".
	RuleMultipleWildcards = "multiple_wildcards"
	// RuleWildcardInDefault is reported for a wildcard in the default
	// redirect URI of an environment.
	RuleWildcardInDefault = "wildcard_in_default"
	// RuleWildcardInScheme is reported for a "*" in the scheme.
	RuleWildcardInScheme = "wildcard_in_scheme"
	// RuleWildcardInPort is reported for a "*" in the port.
	RuleWildcardInPort = "wildcard_in_port"
	// RuleWildcardInPath is reported for a "*" in the path.
	RuleWildcardInPath = "wildcard_in_path"
	// RuleWildcardInQuery is reported for a "*" in the query.
	RuleWildcardInQuery = "wildcard_in_query"
	// RuleWildcardPartialLabel is reported for a "*" that shares the
	// left-most host label with other characters, as in a*.example.com.
	RuleWildcardPartialLabel = "wildcard_partial_label"
	// RuleWildcardNotLeftmost is reported for a "*" in a host label other
	// than the left-most one, as in app.*.example.com or example.*.
	RuleWildcardNotLeftmost = "wildcard_not_leftmost"
	// RuleWildcardWithoutDomain is reported for a host that is only a
	// wildcard.
	RuleWildcardWithoutDomain = "wildcard_without_domain"
	// RuleWildcardPublicSuffix is reported for a wildcard directly under a
	// public suffix such as com, co.uk or github.io.
	RuleWildcardPublicSuffix = "wildcard_public_suffix"
	// RuleWildcardDomainTooShort is reported for a wildcard directly under a
	// single-label name such as *.internal.
	RuleWildcardDomainTooShort = "wildcard_domain_too_short"
	// RuleWildcardOnIP is reported for a wildcard in an IP address host.
	RuleWildcardOnIP = "wildcard_on_ip"
)

// Options describes the environment a redirect URI is registered in.
type Options struct {
	// Development is true for development environments, which may also
	// register http URIs and localhost or loopback hosts.
	Development bool
}

// RuleError reports the rule a redirect URI breaks.
type RuleError struct {
	// Rule is a stable snake_case code naming the rule, one of the Rule
	// constants.
	Rule string
	// Message is a sentence for operators explaining the rule and how to fix
	// the URI; it is meant to be shown as is.
	Message string
}

// Error returns the rule code and message.
func (e *RuleError) Error() string {
	return "redirect uri " + e.Rule + ": " + e.Message
}

func ruleError(rule, format string, args ...any) *RuleError {
	return &RuleError{Rule: rule, Message: fmt.Sprintf(format, args...)}
}

const example = "https://app.example.com/callback"

// Validate checks a redirect URI an operator wants to register in an
// environment described by opts; isDefault is true for the environment's
// default redirect URI. It returns the canonical form to store, which is raw
// with its scheme and host lowercased, or a *RuleError for the first rule
// raw breaks.
func Validate(raw string, opts Options, isDefault bool) (string, error) {
	if raw == "" {
		return "", ruleError(RuleEmpty, "The redirect URI is empty; enter a full URI such as %s.", example)
	}
	if len(raw) > MaxLength {
		return "", ruleError(RuleTooLong, "The redirect URI is %d bytes long; redirect URIs can be at most %d bytes.", len(raw), MaxLength)
	}
	if err := checkCharacters(raw); err != nil {
		return "", err
	}

	// Scheme.
	colon := strings.IndexByte(raw, ':')
	if colon > 0 && strings.Contains(raw[:colon], "*") {
		return "", ruleError(RuleWildcardInScheme, "The scheme of a redirect URI cannot contain a wildcard (*); use https.")
	}
	if colon <= 0 || !strings.HasPrefix(raw[colon+1:], "//") || !validScheme(raw[:colon]) {
		return "", ruleError(RuleNotAbsolute, "The redirect URI must be an absolute URI starting with https://, such as %s.", example)
	}
	scheme := strings.ToLower(raw[:colon])
	switch scheme {
	case "https":
	case "http":
		if !opts.Development {
			return "", ruleError(RuleHTTPNotAllowed, "Redirect URIs must use https; http is only allowed in development environments.")
		}
	default:
		return "", ruleError(RuleUnsupportedScheme, "The scheme %q is not supported; redirect URIs must use https (or http in development environments).", raw[:colon])
	}

	// Split the rest the way net/url does: the authority runs up to the
	// first "/" or "?", the query starts at the first "?".
	rest := raw[colon+3:]
	if strings.Contains(rest, "#") {
		return "", ruleError(RuleFragmentNotAllowed, "Redirect URIs cannot contain a fragment (the part starting with #); remove it.")
	}
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	if strings.Contains(authority, "@") {
		return "", ruleError(RuleUserinfoNotAllowed, "Redirect URIs cannot contain a user name or password (the part before @ in the host); remove it.")
	}
	path, query, _ := strings.Cut(tail, "?")

	// Wildcards outside the host.
	switch n := strings.Count(raw, "*"); {
	case n > 1:
		return "", ruleError(RuleMultipleWildcards, "A redirect URI can contain at most one wildcard (*), as the left-most label of the host, such as https://*.example.com/callback.")
	case n == 1 && isDefault:
		return "", ruleError(RuleWildcardInDefault, "The default redirect URI cannot contain a wildcard (*); register an exact URI as the default and add wildcard URIs as additional redirect URIs.")
	}
	if strings.Contains(path, "*") {
		return "", ruleError(RuleWildcardInPath, "The path of a redirect URI cannot contain a wildcard (*); a wildcard is only allowed as the left-most label of the host, such as https://*.example.com/callback.")
	}
	if strings.Contains(query, "*") {
		return "", ruleError(RuleWildcardInQuery, "The query of a redirect URI cannot contain a wildcard (*); a wildcard is only allowed as the left-most label of the host, such as https://*.example.com/callback.")
	}

	// Host and port.
	host, port, hasPort, err := splitHostPort(authority)
	if err != nil {
		return "", err
	}
	if hasPort {
		if err := checkPort(port); err != nil {
			return "", err
		}
	}
	if host == "" {
		return "", ruleError(RuleMissingHost, "The redirect URI has no host; enter a full URI such as %s.", example)
	}
	if err := checkHost(host, opts); err != nil {
		return "", err
	}
	if err := checkPath(path); err != nil {
		return "", err
	}

	// Last, make sure net/url reads the URI the same way.
	u, perr := url.Parse(raw)
	if perr != nil {
		var uerr *url.Error
		if errors.As(perr, &uerr) {
			perr = uerr.Err
		}
		return "", ruleError(RuleInvalidURL, "The redirect URI is not a valid URL (%v); fix that part, for example by making sure every %% is followed by two hexadecimal digits.", perr)
	}
	if u.Scheme != scheme || u.Opaque != "" || u.User != nil || u.Host != authority ||
		u.Fragment != "" || u.RawQuery != query || rawPath(u) != path {
		return "", ruleError(RuleInvalidURL, "The redirect URI is not a valid URL; enter a full URI such as %s.", example)
	}

	return scheme + "://" + strings.ToLower(authority) + tail, nil
}

// HasWildcard reports whether uri contains a wildcard. For a URI accepted by
// Validate this means the left-most label of its host is "*".
func HasWildcard(uri string) bool {
	return strings.Contains(uri, "*")
}

// Match reports whether candidate, the redirect_uri sent by an application,
// matches pattern, a registered URI in the canonical form returned by
// Validate. Scheme and host are compared without regard to ASCII case; port,
// path and query must be byte-for-byte equal. A pattern whose host starts
// with "*." matches hosts that replace the "*" with one DNS label of
// letters, digits and hyphens. Only http and https URIs match, and
// candidates with a user name, password or fragment never do.
func Match(pattern, candidate string) bool {
	p, ok := parseForMatch(pattern)
	if !ok {
		return false
	}
	c, ok := parseForMatch(candidate)
	if !ok {
		return false
	}
	if p.scheme != c.scheme || p.hasPort != c.hasPort || p.port != c.port ||
		p.path != c.path || p.query != c.query || p.forceQuery != c.forceQuery {
		return false
	}
	switch strings.Count(pattern, "*") {
	case 0:
		return asciiEqualFold(p.host, c.host)
	case 1:
		domain, ok := strings.CutPrefix(p.host, "*.")
		if !ok || strings.Contains(domain, "*") {
			return false
		}
		label, rest, ok := strings.Cut(c.host, ".")
		return ok && validWildcardLabel(label) && asciiEqualFold(rest, domain)
	default:
		return false
	}
}

// matchParts holds the components of a URI compared by Match, in their
// original (escaped) form.
type matchParts struct {
	scheme     string
	host       string
	port       string
	hasPort    bool
	path       string
	query      string
	forceQuery bool
}

func parseForMatch(s string) (matchParts, bool) {
	if strings.Contains(s, "#") {
		return matchParts{}, false
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" ||
		(u.Scheme != "https" && u.Scheme != "http") {
		return matchParts{}, false
	}
	// A host that is pure ASCII without "%" had no percent-encoding, since
	// net/url only accepts escapes of non-ASCII bytes and of "%" in hosts;
	// so u.Host is the host exactly as written.
	for i := 0; i < len(u.Host); i++ {
		if b := u.Host[i]; b >= utf8.RuneSelf || b == '%' {
			return matchParts{}, false
		}
	}
	host, port, hasPort := u.Host, "", false
	if i := strings.LastIndexByte(u.Host, ':'); i >= 0 && i > strings.LastIndexByte(u.Host, ']') {
		host, port, hasPort = u.Host[:i], u.Host[i+1:], true
	}
	if host == "" {
		return matchParts{}, false
	}
	return matchParts{
		scheme:     u.Scheme,
		host:       host,
		port:       port,
		hasPort:    hasPort,
		path:       rawPath(u),
		query:      u.RawQuery,
		forceQuery: u.ForceQuery,
	}, true
}

// rawPath returns the path of u exactly as it was written in the parsed
// string. net/url keeps it in RawPath whenever it differs from the default
// encoding of Path.
func rawPath(u *url.URL) string {
	if u.RawPath != "" {
		return u.RawPath
	}
	return u.EscapedPath()
}

func checkCharacters(raw string) error {
	const msg = "Redirect URIs cannot contain spaces, line breaks, control or invisible characters, or backslashes; remove them (check for stray whitespace at the start or end)."
	for i, r := range raw {
		switch {
		case r == utf8.RuneError && isInvalidRune(raw[i:]):
			return ruleError(RuleInvalidCharacters, "The redirect URI is not valid UTF-8; retype it.")
		case r == '\\' || unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			return ruleError(RuleInvalidCharacters, msg)
		}
	}
	return nil
}

func isInvalidRune(s string) bool {
	_, size := utf8.DecodeRuneInString(s)
	return size <= 1
}

func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z':
		case i > 0 && ('0' <= b && b <= '9' || b == '+' || b == '-' || b == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// splitHostPort splits an authority without userinfo into host and port.
func splitHostPort(authority string) (host, port string, hasPort bool, err error) {
	host = authority
	if strings.HasPrefix(authority, "[") {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return "", "", false, ruleError(RuleInvalidHost, "The IPv6 address in the host is missing its closing ]; write it as https://[2001:db8::1]/callback.")
		}
		host = authority[:end+1]
		after := authority[end+1:]
		switch {
		case after == "":
		case after[0] == ':':
			port, hasPort = after[1:], true
		default:
			return "", "", false, ruleError(RuleInvalidHost, "Only a port, written as :port, can follow the closing ] of an IPv6 host.")
		}
	} else if i := strings.LastIndexByte(authority, ':'); i >= 0 {
		host, port, hasPort = authority[:i], authority[i+1:], true
		if strings.Contains(host, ":") {
			return "", "", false, ruleError(RuleInvalidHost, "The host contains more than one colon; write IPv6 addresses in brackets, such as https://[2001:db8::1]/callback.")
		}
	}
	if strings.Contains(port, "*") {
		return "", "", false, ruleError(RuleWildcardInPort, "The port of a redirect URI cannot contain a wildcard (*); register one URI per port.")
	}
	return host, port, hasPort, nil
}

func checkPort(port string) error {
	if port == "" {
		return ruleError(RuleInvalidPort, "The host is followed by a colon but no port; remove the colon or add a port number.")
	}
	n := 0
	for i := 0; i < len(port); i++ {
		b := port[i]
		if b < '0' || b > '9' {
			return ruleError(RuleInvalidPort, "The port %q is not a number; ports must be numbers from 1 to 65535.", port)
		}
		if n <= 65535 {
			n = n*10 + int(b-'0')
		}
	}
	if port[0] == '0' {
		return ruleError(RuleInvalidPort, "The port %q starts with 0; ports must be numbers from 1 to 65535 written without leading zeros.", port)
	}
	if n > 65535 {
		return ruleError(RuleInvalidPort, "The port %q is too large; ports must be numbers from 1 to 65535.", port)
	}
	return nil
}

func checkHost(host string, opts Options) error {
	for i := 0; i < len(host); i++ {
		if host[i] >= utf8.RuneSelf {
			return ruleError(RuleNonASCIIHost, "The host %q contains non-ASCII characters; register the punycode form of the domain instead (labels starting with xn--).", host)
		}
	}
	if strings.HasPrefix(host, "[") {
		return checkIPv6Host(host, opts)
	}
	if strings.Contains(host, "*") {
		return checkWildcardHost(host, opts)
	}
	if err := checkDNSName(host); err != nil {
		return err
	}
	if endsInNumber(host) {
		addr, err := netip.ParseAddr(host)
		if err != nil || !addr.Is4() {
			return ruleError(RuleInvalidHost, "The host %q looks like an IP address but is not one written as four decimal numbers; write IPv4 addresses like 192.0.2.1.", host)
		}
		if isLocalAddr(addr) && !opts.Development {
			return localhostError()
		}
		return nil
	}
	if isLocalhostName(host) && !opts.Development {
		return localhostError()
	}
	return nil
}

func localhostError() error {
	return ruleError(RuleLocalhostNotAllowed, "Hosts such as localhost and loopback IP addresses are only allowed in development environments; use your application's public host name.")
}

func checkIPv6Host(host string, opts Options) error {
	inner := host[1 : len(host)-1]
	if strings.Contains(inner, "*") {
		return ruleError(RuleWildcardOnIP, "Wildcards (*) cannot be used in IP address hosts; register each address separately.")
	}
	addr, err := netip.ParseAddr(inner)
	if err != nil || !addr.Is6() || addr.Zone() != "" {
		return ruleError(RuleInvalidHost, "The host %q is not a valid IPv6 address; write it without a zone, such as [2001:db8::1].", host)
	}
	if isLocalAddr(addr) && !opts.Development {
		return localhostError()
	}
	return nil
}

func checkWildcardHost(host string, opts Options) error {
	first, domain, _ := strings.Cut(host, ".")
	switch {
	case domain == "" && first == "*":
		return ruleError(RuleWildcardWithoutDomain, "A wildcard (*) host must be followed by your domain, such as https://*.example.com/callback.")
	case !strings.Contains(first, "*"):
		return ruleError(RuleWildcardNotLeftmost, "A wildcard (*) is only allowed as the left-most label of the host, such as https://*.example.com/callback.")
	case first != "*":
		return ruleError(RuleWildcardPartialLabel, "A wildcard (*) must be a whole host label on its own, such as https://*.example.com/callback; partial labels like a*.example.com are not supported.")
	}
	if err := checkDNSName(domain); err != nil {
		return err
	}
	if endsInNumber(domain) {
		return ruleError(RuleWildcardOnIP, "Wildcards (*) cannot be used in IP address hosts; register each address separately.")
	}
	domain = strings.ToLower(domain)
	if isLocalhostName(domain) {
		if !opts.Development {
			return localhostError()
		}
		return nil
	}
	suffix, icann := publicSuffix(domain)
	if suffix == domain {
		if icann || strings.Contains(suffix, ".") {
			return ruleError(RuleWildcardPublicSuffix, "%q is a public suffix shared by unrelated sites, so *.%s would match hosts you do not control; put the wildcard under a domain you own, such as *.yourapp.%s.", domain, domain, domain)
		}
		return ruleError(RuleWildcardDomainTooShort, "A wildcard (*) must be followed by a domain of at least two labels, such as *.example.com; *.%s is too broad.", domain)
	}
	if !strings.Contains(domain, ".") {
		return ruleError(RuleWildcardDomainTooShort, "A wildcard (*) must be followed by a domain of at least two labels, such as *.example.com; *.%s is too broad.", domain)
	}
	return nil
}

// publicSuffix wraps publicsuffix.PublicSuffix, treating a panic (which the
// package does not document but which must never escape Validate) as the
// whole domain being a public suffix.
func publicSuffix(domain string) (suffix string, icann bool) {
	defer func() {
		if recover() != nil {
			suffix, icann = domain, true
		}
	}()
	return publicsuffix.PublicSuffix(domain)
}

// checkDNSName checks that name is a sequence of dot-separated labels of
// letters, digits, hyphens and underscores, without a trailing dot.
func checkDNSName(name string) error {
	if len(name) > 253 {
		return ruleError(RuleInvalidHost, "The host is longer than 253 characters, the maximum length of a domain name.")
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" {
			return ruleError(RuleInvalidHost, "The host %q has an empty label; remove leading, trailing or doubled dots.", name)
		}
		if len(label) > 63 {
			return ruleError(RuleInvalidHost, "The host %q has a label longer than 63 characters, the maximum in a domain name.", name)
		}
		for i := 0; i < len(label); i++ {
			if !isLabelByte(label[i]) && label[i] != '_' {
				return ruleError(RuleInvalidHost, "The host %q contains %q; hosts can only contain letters, digits, hyphens, underscores and dots.", name, label[i])
			}
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return ruleError(RuleInvalidHost, "The host %q has a label that starts or ends with a hyphen, which domain names do not allow.", name)
		}
	}
	return nil
}

// endsInNumber reports whether browsers would parse name, a well-formed DNS
// name, as an IPv4 address: its last label is a decimal or 0x-prefixed
// hexadecimal number.
func endsInNumber(name string) bool {
	last := name[strings.LastIndexByte(name, '.')+1:]
	if hex, ok := strings.CutPrefix(strings.ToLower(last), "0x"); ok {
		return strings.Trim(hex, "0123456789abcdef") == ""
	}
	return last != "" && strings.Trim(last, "0123456789") == ""
}

func isLocalhostName(name string) bool {
	name = strings.ToLower(name)
	return name == "localhost" || strings.HasSuffix(name, ".localhost")
}

func isLocalAddr(addr netip.Addr) bool {
	addr = addr.Unmap()
	return addr.IsLoopback() || addr.IsUnspecified()
}

func checkPath(path string) error {
	for seg := range strings.SplitSeq(path, "/") {
		if len(seg) > 6 {
			continue
		}
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "%2e", "."), "%2E", ".")
		if seg == "." || seg == ".." {
			return ruleError(RuleDotSegmentInPath, "The path cannot contain . or .. segments, which browsers remove before requesting the URI; register the path the browser will actually request.")
		}
	}
	return nil
}

func isLabelByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-'
}

// validWildcardLabel reports whether label is one DNS label of letters,
// digits and hyphens that neither starts nor ends with a hyphen.
func validWildcardLabel(label string) bool {
	if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
		return false
	}
	for i := 0; i < len(label); i++ {
		if !isLabelByte(label[i]) {
			return false
		}
	}
	return true
}

// asciiEqualFold is strings.EqualFold restricted to ASCII letters, so that
// Unicode case folding (for example of the Kelvin sign to k) never makes two
// hosts equal.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}
