package tokens

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
)

// JWKS is a parsed JSON Web Key Set (RFC 7517 §5): the public keys tokens
// are verified with.
type JWKS struct {
	// Keys are the usable keys, in the order the set lists them.
	Keys []PublicKey
}

// PublicKey is one verification key of a JWKS.
type PublicKey struct {
	// ID is the key's kid; a token must name it.
	ID string
	// Algorithm is RS256 or ES256; a token's alg must equal it.
	Algorithm string
	// Key is an *rsa.PublicKey (RS256) or *ecdsa.PublicKey on P-256 (ES256).
	Key crypto.PublicKey
}

func (s JWKS) lookup(kid string) (PublicKey, bool) {
	for _, k := range s.Keys {
		if k.ID == kid {
			return k, true
		}
	}
	return PublicKey{}, false
}

// parsedJWK holds the members of a JWK ParseJWKS reads.
type parsedJWK struct {
	jwk
	D      *string  `json:"d"`
	KeyOps []string `json:"key_ops"`
}

// ParseJWKS parses a JWK Set such as the one Keyring.JWKS serves. It keeps
// the RSA keys (RS256, at least 2048 bits) and EC P-256 keys (ES256) that
// have a kid and may verify signatures, and skips, as jose's key selection
// would, keys of other types, curves or algorithms and keys whose use or
// key_ops exclude verification. A key without alg gets its type's
// algorithm. It fails on malformed JSON, a malformed RSA or P-256 key, a
// private key, or two kept keys with one kid.
func ParseJWKS(data []byte) (JWKS, error) {
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return JWKS{}, fmt.Errorf("parse jwks: %w", err)
	}
	if doc.Keys == nil {
		return JWKS{}, errors.New("parse jwks: no keys member")
	}
	set := JWKS{Keys: []PublicKey{}}
	for i, raw := range *doc.Keys {
		k, ok, err := parseJWK(raw)
		if err != nil {
			return JWKS{}, fmt.Errorf("parse jwks: key %d: %w", i, err)
		}
		if !ok {
			continue
		}
		if _, dup := set.lookup(k.ID); dup {
			return JWKS{}, fmt.Errorf("parse jwks: key %d: duplicate kid %q", i, k.ID)
		}
		set.Keys = append(set.Keys, k)
	}
	return set, nil
}

// parseJWK decodes one JWK; ok is false for a well-formed key that cannot
// verify RS256 or ES256 tokens.
func parseJWK(raw json.RawMessage) (k PublicKey, ok bool, err error) {
	var j parsedJWK
	if err := json.Unmarshal(raw, &j); err != nil {
		return PublicKey{}, false, err
	}
	if j.D != nil {
		return PublicKey{}, false, errors.New("private key")
	}
	if j.Kid == "" || (j.Use != "" && j.Use != "sig") || (j.KeyOps != nil && !slices.Contains(j.KeyOps, "verify")) {
		return PublicKey{}, false, nil
	}
	var pub crypto.PublicKey
	switch j.Kty {
	case "RSA":
		if j.Alg != "" && j.Alg != RS256 {
			return PublicKey{}, false, nil
		}
		n, err := decodeSegment(j.N)
		if err != nil {
			return PublicKey{}, false, fmt.Errorf("n: %w", err)
		}
		e, err := decodeSegment(j.E)
		if err != nil {
			return PublicKey{}, false, fmt.Errorf("e: %w", err)
		}
		if len(e) > 4 {
			return PublicKey{}, false, fmt.Errorf("e: %d bytes", len(e))
		}
		ev := new(big.Int).SetBytes(e).Int64()
		if ev > 1<<31-1 {
			return PublicKey{}, false, fmt.Errorf("e: %d too large", ev)
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(ev)}
		j.Alg = RS256
	case "EC":
		if j.Crv != "P-256" || (j.Alg != "" && j.Alg != ES256) {
			return PublicKey{}, false, nil
		}
		x, err := decodeSegment(j.X)
		if err != nil {
			return PublicKey{}, false, fmt.Errorf("x: %w", err)
		}
		y, err := decodeSegment(j.Y)
		if err != nil {
			return PublicKey{}, false, fmt.Errorf("y: %w", err)
		}
		if len(x) != 32 || len(y) != 32 {
			return PublicKey{}, false, fmt.Errorf("P-256 coordinates of %d and %d bytes; want 32", len(x), len(y))
		}
		point := append(append([]byte{4}, x...), y...)
		p, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return PublicKey{}, false, err
		}
		pub = p
		j.Alg = ES256
	default:
		return PublicKey{}, false, nil
	}
	if err := checkPublic(j.Alg, pub); err != nil {
		return PublicKey{}, false, err
	}
	return PublicKey{ID: j.Kid, Algorithm: j.Alg, Key: pub}, true, nil
}
