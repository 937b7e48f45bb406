// Package environments is the domain logic for environments and their
// settings: creating environments with client IDs, minting and checking API
// keys (secrets shown once, only SHA-256 hashes stored), and the rules for
// redirect URIs, sign-out redirects, the sign-in endpoint and CORS origins.
//
// The CLI, the API and (later) the dashboard all change environments through
// Service, so the rules are enforced in one place.
package environments
