// Package tokens owns Gatehouse's JWT signing keys and the access tokens
// signed with them: key generation and storage format, compact JWS signing
// and verification (RFC 7515, RFC 7519), the public JWK Set (RFC 7517) served
// at /sso/jwks/{client_id}, and the per-environment Keyring that creates,
// caches and rotates keys on top of store.SigningKeys.
//
// # Keys
//
// An environment signs with RS256 (RSASSA-PKCS1-v1_5 with SHA-256 and a
// 2048-bit key, the algorithm the WorkOS OpenAPI document names and the
// default) or ES256 (ECDSA on P-256 with SHA-256, RFC 7518 §3.4). Every key
// carries a random URL-safe key ID, put in the "kid" header of every token
// it signs, and a self-signed X.509 certificate made when the key is
// generated. The certificate exists only to fill the JWK's "x5c" and
// "x5t#S256" members (RFC 7517 §4.7, §4.9), which the WorkOS OpenAPI
// document lists and jose ignores.
//
// Key.MarshalPrivate writes the PKCS#8 DER private key immediately followed
// by the certificate's DER. DER is self-delimiting, so ParsePrivate splits
// the two without a length prefix, and a key's public JWK is the same on
// every node and after every restart. The Keyring seals these bytes with the
// master key (secretbox, associated data "signing-key:" + kid) before they
// reach the database.
//
// # Tokens
//
// Sign produces header {"alg":…,"kid":…,"typ":"JWT"} with no "crit", as
// Node's jose expects (workos-compat.md §6). Verify is strict: exactly three
// unpadded base64url segments in canonical form, alg RS256 or ES256 only
// (never "none" or HS*), a kid naming a key of that algorithm, a valid
// signature, then exp (now < exp, no leeway; required, although jose would
// accept a token without one), nbf when present and iss when an issuer is
// given. Failures wrap one of ErrMalformed, ErrUnknownKey, ErrSignature,
// ErrExpired, ErrNotYetValid or ErrIssuer, for errors.Is.
//
// # Rotation
//
// SDKs cache the JWKS for 10 minutes and refetch it for an unknown kid at
// most once per cooldown, so a key must be public before it signs and must
// stay public while tokens it signed are alive. Keyring.Rotate therefore
// stores a new key that activates publishAhead later (DefaultPublishAhead,
// 10 minutes): from that moment it is in the JWKS, but Signer keeps using
// the current key until the new one's activation time. In the same
// transaction every older key is given an expiry of activation +
// AccessTokenTTL + 1 minute of slack, by which time every token it signed has
// expired; the store stops listing it then and it leaves the JWKS.
//
// An environment's first key is made on first use by Signer and is active
// at once (no SDK can have cached a JWKS for it yet). Nodes racing to make
// it end up with one: store.SigningKeys.CreateFirstSigningKey inserts only
// into an empty environment, and a loser reloads and uses the winner's key.
//
// Each node caches an environment's decrypted keys, parsed public keys and
// JWKS bytes, and reloads them from the store when the cache is 30 seconds
// old or a listed key expires, so a rotation made on another node is seen
// well within the publish-ahead window. Signer and JWKS are a map lookup on
// the hot path; private keys are decrypted only on reload.
package tokens
