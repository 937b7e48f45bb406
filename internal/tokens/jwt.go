package tokens

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync/atomic"
	"time"
)

// Errors Verify wraps, for errors.Is. Every one means the token must be
// refused; they differ only so callers can log why.
var (
	// ErrMalformed means the token is not a compact JWS Gatehouse accepts:
	// wrong shape or encoding, an algorithm other than RS256 or ES256, no
	// kid, a crit header, or claims that do not decode (or lack exp).
	ErrMalformed = errors.New("tokens: malformed token")
	// ErrUnknownKey means no key in the set has the token's kid and alg.
	ErrUnknownKey = errors.New("tokens: unknown signing key")
	// ErrSignature means the signature does not verify.
	ErrSignature = errors.New("tokens: invalid signature")
	// ErrExpired means now is at or after the token's exp.
	ErrExpired = errors.New("tokens: token expired")
	// ErrNotYetValid means now is before the token's nbf.
	ErrNotYetValid = errors.New("tokens: token not valid yet")
	// ErrIssuer means the token's iss is not the expected issuer.
	ErrIssuer = errors.New("tokens: wrong issuer")
	// ErrTooLong is Sign's refusal of claims whose token would be longer
	// than Verify accepts (maxTokenLen).
	ErrTooLong = errors.New("tokens: the claims make a token longer than 16 KiB")
)

// maxTokenLen bounds the work Verify does on untrusted input. Access tokens
// live in a cookie, which browsers cap at about 4 KiB.
const maxTokenLen = 16 << 10

// Claims are the access token's claims (RFC 7519 §4, and the WorkOS claims
// the SDKs read; workos-compat.md §6). Times are seconds since the Unix
// epoch. Optional claims are omitted when empty.
type Claims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"` // the user ID
	SessionID string `json:"sid"` // the session ID, used by the SDKs to log out
	ID        string `json:"jti"`
	IssuedAt  int64  `json:"iat"`
	ExpiresAt int64  `json:"exp"`

	OrganizationID string   `json:"org_id,omitempty"`
	Role           string   `json:"role,omitempty"`
	Roles          []string `json:"roles,omitempty"`
	Permissions    []string `json:"permissions,omitempty"`
	Entitlements   []string `json:"entitlements,omitempty"`
	FeatureFlags   []string `json:"feature_flags,omitempty"`
	// Actor names the impersonator when an admin acts as the user.
	Actor *Actor `json:"act,omitempty"`
}

// Actor is the "act" claim (RFC 8693 §4.1): who is acting as the subject.
type Actor struct {
	Subject string `json:"sub"` // the impersonator's email
}

// rsaFallbacks counts the RS256 signatures that rsa2048's signer failed its
// own check on and crypto/rsa made instead. Above zero it is a bug or a
// hardware fault, worth a look: the server exports it as
// gatehouse_rs256_fallbacks_total.
var rsaFallbacks atomic.Int64

// RSAFallbacks reports how many RS256 signatures fell back to crypto/rsa
// after rsa2048's check failed, since the process started.
func RSAFallbacks() int64 { return rsaFallbacks.Load() }

// Sign returns c as a compact JWS signed with k, with header
// {"alg":…,"kid":…,"typ":"JWT"}. RS256 signatures are RSASSA-PKCS1-v1_5
// with SHA-256; ES256 signatures are the 64-byte r||s of RFC 7518 §3.4, not
// ASN.1.
func Sign(k *Key, c Claims) (string, error) {
	if k == nil || k.signer == nil {
		return "", errors.New("sign: no key")
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("sign: marshal claims: %w", err)
	}
	enc := base64.RawURLEncoding
	sigLen := 64 // ES256: r||s
	if priv, ok := k.signer.(*rsa.PrivateKey); ok {
		sigLen = priv.Size()
	}
	n := len(k.header) + enc.EncodedLen(len(payload)) + 1 + enc.EncodedLen(sigLen)
	if n > maxTokenLen {
		// Nobody could verify it, this server included: refused before
		// the signature is paid for.
		return "", ErrTooLong
	}
	buf := make([]byte, 0, n)
	buf = append(buf, k.header...)
	buf = enc.AppendEncode(buf, payload)
	digest := sha256.Sum256(buf)

	var sig []byte
	switch priv := k.signer.(type) {
	case *rsa.PrivateKey:
		if k.fast != nil {
			if sig, err = k.fast.SignSHA256(digest[:]); err != nil {
				rsaFallbacks.Add(1)
			}
		}
		if k.fast == nil || err != nil {
			// A failed self-check on the fast path falls back too:
			// crypto/rsa checks its own result.
			sig, err = rsa.SignPKCS1v15(nil, priv, crypto.SHA256, digest[:])
		}
	case *ecdsa.PrivateKey:
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, priv, digest[:])
		if err == nil {
			sig = make([]byte, 64)
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
		}
	default:
		err = fmt.Errorf("unsupported key %T", priv)
	}
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// header is the part of a JWS header Verify reads.
type header struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
}

// payload decodes the claims, with the time claims as pointers so absence
// can be told from zero. Its Exp shadows Claims.ExpiresAt.
type payload struct {
	Claims
	Exp *int64 `json:"exp"`
	Nbf *int64 `json:"nbf"`
}

// Verify checks a compact JWS signed by a key in keys and returns its
// claims. It accepts only RS256 and ES256, needs a kid naming a key of the
// header's algorithm, and then checks, in order, the signature, exp (which
// must be present and later than now, with no leeway, as jose does), nbf if
// present, and iss if issuer is not "". Errors wrap ErrMalformed,
// ErrUnknownKey, ErrSignature, ErrExpired, ErrNotYetValid or ErrIssuer.
func Verify(token string, keys JWKS, now time.Time, issuer string) (*Claims, error) {
	if len(token) > maxTokenLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(token))
	}
	h64, rest, _ := strings.Cut(token, ".")
	p64, s64, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(s64, ".") {
		return nil, fmt.Errorf("%w: not three segments", ErrMalformed)
	}
	hb, err := decodeSegment(h64)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	if h.Crit != nil {
		return nil, fmt.Errorf("%w: crit header", ErrMalformed)
	}
	if h.Alg != RS256 && h.Alg != ES256 {
		return nil, fmt.Errorf("%w: algorithm %q", ErrMalformed, h.Alg)
	}
	if h.Kid == "" {
		return nil, fmt.Errorf("%w: no kid", ErrMalformed)
	}
	key, ok := keys.lookup(h.Kid)
	if !ok {
		return nil, fmt.Errorf("%w: kid %q", ErrUnknownKey, h.Kid)
	}
	if key.Algorithm != h.Alg {
		return nil, fmt.Errorf("%w: kid %q is for %s, not %s", ErrUnknownKey, h.Kid, key.Algorithm, h.Alg)
	}
	sig, err := decodeSegment(s64)
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %w", ErrMalformed, err)
	}
	digest := sha256.Sum256([]byte(token[:len(h64)+1+len(p64)]))
	if !verifySignature(key, digest[:], sig) {
		return nil, ErrSignature
	}

	pb, err := decodeSegment(p64)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrMalformed, err)
	}
	var p payload
	if err := json.Unmarshal(pb, &p); err != nil {
		return nil, fmt.Errorf("%w: claims: %w", ErrMalformed, err)
	}
	if p.Exp == nil {
		return nil, fmt.Errorf("%w: no exp", ErrMalformed)
	}
	c := p.Claims
	c.ExpiresAt = *p.Exp
	if t := now.Unix(); t >= c.ExpiresAt {
		return nil, fmt.Errorf("%w: exp %d, now %d", ErrExpired, c.ExpiresAt, t)
	}
	if p.Nbf != nil {
		if t := now.Unix(); t < *p.Nbf {
			return nil, fmt.Errorf("%w: nbf %d, now %d", ErrNotYetValid, *p.Nbf, t)
		}
	}
	if issuer != "" && c.Issuer != issuer {
		return nil, fmt.Errorf("%w: %q", ErrIssuer, c.Issuer)
	}
	return &c, nil
}

func verifySignature(key PublicKey, digest, sig []byte) bool {
	switch pub := key.Key.(type) {
	case *rsa.PublicKey:
		return key.Algorithm == RS256 && rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest, sig) == nil
	case *ecdsa.PublicKey:
		if key.Algorithm != ES256 || len(sig) != 64 {
			return false
		}
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(pub, digest, r, s)
	}
	return false
}

// decodeSegment decodes one unpadded base64url segment, refusing anything
// but its canonical form: no padding, no line breaks (which the decoder
// would skip) and no stray bits in the last character. Each token thus has
// one spelling, and changing any byte changes what is verified.
func decodeSegment(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, fmt.Errorf("byte %#x at %d is not base64url", c, i)
		}
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}
