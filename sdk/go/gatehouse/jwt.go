package gatehouse

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/sdk/go/gatehouse/internal/rs256"
)

// The JWS algorithms access tokens may use (RFC 7518 §3.3, §3.4).
const (
	algRS256 = "RS256"
	algES256 = "ES256"
)

// maxTokenLen bounds the work done on an untrusted token; access tokens
// live in cookies, which browsers cap at about 4 KiB.
const maxTokenLen = 16 << 10

// Reasons a token is refused. All mean invalid_jwt.
var (
	errTokenMalformed = errors.New("gatehouse: malformed access token")
	errUnknownKey     = errors.New("gatehouse: access token signed by an unknown key")
	errBadSignature   = errors.New("gatehouse: access token signature does not verify")
	errTokenExpired   = errors.New("gatehouse: access token expired")
	errTokenNotYet    = errors.New("gatehouse: access token not valid yet")
	errTokenIssuer    = errors.New("gatehouse: access token has the wrong issuer")
)

// jwsHeader is the part of a JWS header that is read.
type jwsHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
}

// claims are the access token's claims the SDK reads (workos-compat.md §6).
type claims struct {
	Issuer         string   `json:"iss"`
	Subject        string   `json:"sub"`
	SessionID      string   `json:"sid"`
	OrganizationID string   `json:"org_id"`
	Role           string   `json:"role"`
	Roles          []string `json:"roles"`
	Permissions    []string `json:"permissions"`
	Entitlements   []string `json:"entitlements"`
	FeatureFlags   []string `json:"feature_flags"`
	Exp            *float64 `json:"exp"`
	Nbf            *float64 `json:"nbf"`
	Iat            *float64 `json:"iat"`
}

// expiresAt returns exp as a time, or the zero time if absent.
func (c *claims) expiresAt() time.Time {
	if c.Exp == nil {
		return time.Time{}
	}
	return time.Unix(int64(*c.Exp), 0)
}

// jwt is a decoded, not yet verified, compact JWS.
type jwt struct {
	header       jwsHeader
	claims       claims
	signingInput string
	sig          []byte
}

// parseJWT decodes a compact JWS without verifying it.
func parseJWT(token string) (*jwt, error) {
	if len(token) > maxTokenLen {
		return nil, fmt.Errorf("%w: %d bytes", errTokenMalformed, len(token))
	}
	h64, rest, ok1 := strings.Cut(token, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s64, ".") {
		return nil, fmt.Errorf("%w: not three segments", errTokenMalformed)
	}
	t := &jwt{signingInput: token[:len(h64)+1+len(p64)]}
	hb, err := b64u.DecodeString(h64)
	if err != nil || json.Unmarshal(hb, &t.header) != nil {
		return nil, fmt.Errorf("%w: header", errTokenMalformed)
	}
	pb, err := b64u.DecodeString(p64)
	if err != nil || json.Unmarshal(pb, &t.claims) != nil {
		return nil, fmt.Errorf("%w: claims", errTokenMalformed)
	}
	if t.sig, err = b64u.DecodeString(s64); err != nil {
		return nil, fmt.Errorf("%w: signature", errTokenMalformed)
	}
	return t, nil
}

// checkHeader refuses what jose would: algorithms other than RS256 and
// ES256 (so "none" and HS*), a missing kid, and any crit header.
func (t *jwt) checkHeader() error {
	if t.header.Alg != algRS256 && t.header.Alg != algES256 {
		return fmt.Errorf("%w: algorithm %q", errTokenMalformed, t.header.Alg)
	}
	if t.header.Kid == "" {
		return fmt.Errorf("%w: no kid", errTokenMalformed)
	}
	if t.header.Crit != nil {
		return fmt.Errorf("%w: crit header", errTokenMalformed)
	}
	return nil
}

// checkClaims checks exp and nbf against now (no leeway, as jose), and iss
// when issuer is set.
func (t *jwt) checkClaims(now time.Time, issuer string) error {
	n := float64(now.Unix())
	if t.claims.Exp != nil && n >= *t.claims.Exp {
		return errTokenExpired
	}
	if t.claims.Nbf != nil && n < *t.claims.Nbf {
		return errTokenNotYet
	}
	if issuer != "" && t.claims.Issuer != issuer {
		return fmt.Errorf("%w: %q", errTokenIssuer, t.claims.Issuer)
	}
	return nil
}

// verifyKey is one public key of a JWKS.
type verifyKey struct {
	alg string
	rsa *rsa.PublicKey
	// rs256 is rsa with its Montgomery constants set up once (nil where
	// internal/rs256 does not apply: then crypto/rsa verifies).
	rs256 *rs256.Key
	ec    *ecdsa.PublicKey
	// verified remembers signatures this key has verified (nil: none).
	verified *verifiedSigs
}

// verify checks a signature made over input with k: RSASSA-PKCS1-v1_5
// with SHA-256 (RS256), or ECDSA P-256 with SHA-256 and the 64-byte r||s
// signature of RFC 7518 §3.4 (ES256).
func (k *verifyKey) verify(input string, sig []byte) bool {
	h := sha256.New()
	io.WriteString(h, input)
	var digest [sha256.Size]byte
	h.Sum(digest[:0])
	if k.verified.has(&digest, sig) {
		return true
	}
	ok := false
	switch k.alg {
	case algRS256:
		if k.rs256 != nil {
			ok = k.rs256.Verify(&digest, sig)
		} else {
			ok = rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, digest[:], sig) == nil
		}
	case algES256:
		if len(sig) == 64 {
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			ok = ecdsa.Verify(k.ec, digest[:], r, s)
		}
	}
	if ok {
		k.verified.add(&digest, sig)
	}
	return ok
}

// maxVerified bounds the signatures a key remembers (~300 bytes each).
const maxVerified = 4096

// verifiedSigs is the signatures one key has verified. A session's access
// token comes back with every request until it is refreshed, and checking
// its signature again each time (RS256 ~50 µs, ES256 ~100 µs) is most of
// what authenticating a request costs. An entry holds the SHA-256 of the
// signing input and the signature; a token is taken as verified only if
// both match, the signature compared in constant time, which is what
// verifying it again would establish. Only signatures that verified are
// added, and the memory belongs to the key: a JWKS fetched again makes new
// keys with empty memories. Claims (exp, nbf, iss) are checked every time.
type verifiedSigs struct {
	mu   sync.RWMutex
	sigs map[[sha256.Size]byte][]byte
}

// has reports whether sig was verified for the signing input with digest.
func (v *verifiedSigs) has(digest *[sha256.Size]byte, sig []byte) bool {
	if v == nil {
		return false
	}
	v.mu.RLock()
	known, ok := v.sigs[*digest]
	v.mu.RUnlock()
	return ok && subtle.ConstantTimeCompare(known, sig) == 1
}

// add remembers a verified signature, forgetting an arbitrary one when full.
func (v *verifiedSigs) add(digest *[sha256.Size]byte, sig []byte) {
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.sigs == nil {
		v.sigs = make(map[[sha256.Size]byte][]byte)
	}
	if len(v.sigs) >= maxVerified {
		for d := range v.sigs {
			delete(v.sigs, d)
			break
		}
	}
	v.sigs[*digest] = slices.Clone(sig)
}

// verifyJWT checks t's header, its signature with key, and its claims.
func verifyJWT(t *jwt, key *verifyKey, now time.Time, issuer string) error {
	if err := t.checkHeader(); err != nil {
		return err
	}
	if key.alg != t.header.Alg {
		return fmt.Errorf("%w: kid %q is for %s, not %s", errUnknownKey, t.header.Kid, key.alg, t.header.Alg)
	}
	if !key.verify(t.signingInput, t.sig) {
		return errBadSignature
	}
	return t.checkClaims(now, issuer)
}

// jwk holds the members of a JSON Web Key that are read (RFC 7517 §4,
// RFC 7518 §6).
type jwk struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Alg    string   `json:"alg"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
}

// parseJWKS parses a JWK Set into its usable keys by kid. Like jose's key
// selection it skips keys without a kid, keys whose use or key_ops exclude
// verification, and keys of other types, curves or algorithms; RSA keys
// must have at least 2048 bits.
func parseJWKS(data []byte) (map[string]*verifyKey, error) {
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("gatehouse: parse JWKS: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New("gatehouse: parse JWKS: no keys member")
	}
	keys := map[string]*verifyKey{}
	for _, raw := range *doc.Keys {
		var j jwk
		if json.Unmarshal(raw, &j) != nil || j.Kid == "" || (j.Use != "" && j.Use != "sig") ||
			(j.KeyOps != nil && !slices.Contains(j.KeyOps, "verify")) {
			continue
		}
		var k *verifyKey
		switch {
		case j.Kty == "RSA" && (j.Alg == "" || j.Alg == algRS256):
			n, err1 := b64u.DecodeString(j.N)
			e, err2 := b64u.DecodeString(j.E)
			if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
				continue
			}
			pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
			if pub.N.BitLen() < 2048 || pub.E < 3 || pub.E%2 == 0 {
				continue
			}
			k = &verifyKey{alg: algRS256, rsa: pub, rs256: rs256.New(pub), verified: &verifiedSigs{}}
		case j.Kty == "EC" && j.Crv == "P-256" && (j.Alg == "" || j.Alg == algES256):
			x, err1 := b64u.DecodeString(j.X)
			y, err2 := b64u.DecodeString(j.Y)
			if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
				continue
			}
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
			if err != nil {
				continue
			}
			k = &verifyKey{alg: algES256, ec: pub, verified: &verifiedSigs{}}
		default:
			continue
		}
		if _, dup := keys[j.Kid]; dup {
			return nil, fmt.Errorf("gatehouse: parse JWKS: two keys have kid %q", j.Kid)
		}
		keys[j.Kid] = k
	}
	return keys, nil
}
