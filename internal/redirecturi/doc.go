// Package redirecturi validates and matches the OAuth redirect URIs that an
// environment registers.
//
// Operators register redirect URIs through the CLI, the API or the
// dashboard. [Validate] checks each one against a fixed set of rules and
// returns the canonical form to store, or a [*RuleError] whose Rule is a
// stable snake_case code and whose Message explains the rule to the
// operator. Production environments accept only https URIs on public hosts;
// development environments also accept http and localhost or loopback hosts.
//
// A registered URI may use a single wildcard as the entire left-most label
// of its host, as in https://*.example.com/callback, provided the rest of
// the host is a registrable domain rather than a public suffix. The default
// redirect URI of an environment can never contain a wildcard.
//
// [Match] compares the redirect_uri an application sends against one
// registered URI. Matching is exact: only the scheme and host are compared
// without regard to case, and no path, query or port normalisation takes
// place, so /cb, /cb/, /CB and /c%62 are all different URIs. A wildcard label
// matches exactly one DNS label made of letters, digits and hyphens.
package redirecturi
