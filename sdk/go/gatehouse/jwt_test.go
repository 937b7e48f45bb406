package gatehouse

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/sdk/go/gatehouse/internal/rs256"
)

func TestVerifyJWT(t *testing.T) {
	now := time.Now()
	rs, ec := newRSAKey(t, "rs1"), newECKey(t, "ec1")
	keys, err := parseJWKS(jwksJSON(rs, ec))
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys = %v, %v", keys, err)
	}
	good := map[string]any{"iss": "https://gh/user_management/client_123", "sub": "user_1", "sid": "session_1",
		"org_id": "org_1", "role": "admin", "roles": []string{"admin"}, "permissions": []string{"p:r"},
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	with := func(k string, v any) map[string]any {
		c := map[string]any{}
		for a, b := range good {
			c[a] = b
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	check := func(token string, key *verifyKey, issuer string) error {
		t.Helper()
		tok, err := parseJWT(token)
		if err != nil {
			return err
		}
		return verifyJWT(tok, key, now, issuer)
	}
	for _, k := range []*testKey{rs, ec} {
		t.Run(k.alg, func(t *testing.T) {
			vk := keys[k.kid]
			tok := k.sign(t, good)
			if err := check(tok, vk, "https://gh/user_management/client_123"); err != nil {
				t.Fatalf("valid token: %v", err)
			}
			p, _ := parseJWT(tok)
			if p.claims.SessionID != "session_1" || p.claims.OrganizationID != "org_1" || p.claims.Roles[0] != "admin" || p.claims.expiresAt().Unix() != now.Add(time.Minute).Unix() {
				t.Fatalf("claims = %+v", p.claims)
			}
			parts := strings.Split(tok, ".")
			other, _ := json.Marshal(with("sub", "user_2"))
			cases := map[string]struct {
				token  string
				issuer string
				want   error
			}{
				"tampered payload": {parts[0] + "." + b64u.EncodeToString(other) + "." + parts[2], "", errBadSignature},
				"bad signature":    {parts[0] + "." + parts[1] + "." + b64u.EncodeToString(make([]byte, len(p.sig))), "", errBadSignature},
				"short signature":  {parts[0] + "." + parts[1] + ".AAAA", "", errBadSignature},
				"expired":          {k.sign(t, with("exp", now.Unix())), "", errTokenExpired},
				"not yet":          {k.sign(t, with("nbf", now.Add(time.Minute).Unix())), "", errTokenNotYet},
				"wrong issuer":     {tok, "https://other", errTokenIssuer},
				"alg none":         {k.signHeader(t, map[string]any{"alg": "none", "kid": k.kid}, good), "", errTokenMalformed},
				"alg HS256":        {k.signHeader(t, map[string]any{"alg": "HS256", "kid": k.kid}, good), "", errTokenMalformed},
				"no kid":           {k.signHeader(t, map[string]any{"alg": k.alg}, good), "", errTokenMalformed},
				"crit":             {k.signHeader(t, map[string]any{"alg": k.alg, "kid": k.kid, "crit": []string{"exp"}}, good), "", errTokenMalformed},
				"two segments":     {parts[0] + "." + parts[1], "", errTokenMalformed},
				"four segments":    {tok + ".x", "", errTokenMalformed},
				"bad base64":       {parts[0] + ".!!." + parts[2], "", errTokenMalformed},
				"iat not a number": {k.sign(t, with("iat", "yesterday")), "", errTokenMalformed},
			}
			for name, tc := range cases {
				if err := check(tc.token, vk, tc.issuer); !errors.Is(err, tc.want) {
					t.Errorf("%s: err = %v, want %v", name, err, tc.want)
				}
			}
			// A token without exp is accepted, as jose does.
			if err := check(k.sign(t, with("exp", nil)), vk, ""); err != nil {
				t.Errorf("no exp: %v", err)
			}
		})
	}
	// A key of the other algorithm does not verify.
	if err := check(rs.signHeader(t, map[string]any{"alg": "RS256", "kid": "ec1"}, good), keys["ec1"], ""); !errors.Is(err, errUnknownKey) {
		t.Errorf("RS256 token with an ES256 key: %v", err)
	}
	if err := check(ec.signHeader(t, map[string]any{"alg": "ES256", "kid": "rs1"}, good), keys["rs1"], ""); !errors.Is(err, errUnknownKey) {
		t.Errorf("ES256 token with an RS256 key: %v", err)
	}
}

func TestParseJWKS(t *testing.T) {
	rs, ec := newRSAKey(t, "rs1"), newECKey(t, "ec1")
	jk := func(k *testKey, set map[string]any) map[string]any {
		j := k.jwk()
		for a, b := range set {
			if b == nil {
				delete(j, a)
			} else {
				j[a] = b
			}
		}
		return j
	}
	doc := map[string]any{"keys": []any{
		jk(rs, nil), jk(ec, nil),
		jk(rs, map[string]any{"kid": "enc", "use": "enc"}),
		jk(rs, map[string]any{"kid": "ops", "key_ops": []string{"sign"}}),
		jk(rs, map[string]any{"kid": "ps", "alg": "PS256"}),
		jk(rs, map[string]any{"kid": "small", "n": b64u.EncodeToString(make([]byte, 128))}),
		jk(ec, map[string]any{"kid": "p384", "crv": "P-384"}),
		jk(ec, map[string]any{"kid": "offcurve", "y": b64u.EncodeToString(make([]byte, 32))}),
		jk(rs, map[string]any{"kid": nil}),
		jk(rs, map[string]any{"kid": "noalg", "alg": nil}),
		map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
		"not an object",
	}}
	b, _ := json.Marshal(doc)
	keys, err := parseJWKS(b)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for kid := range keys {
		got = append(got, kid)
	}
	if len(keys) != 3 || keys["rs1"] == nil || keys["ec1"] == nil || keys["noalg"] == nil || keys["noalg"].alg != algRS256 {
		t.Fatalf("kept %v", got)
	}
	for _, bad := range []string{`{}`, `[]`, `{"keys":`, ``} {
		if _, err := parseJWKS([]byte(bad)); err == nil {
			t.Errorf("parseJWKS(%q) succeeded", bad)
		}
	}
	dup, _ := json.Marshal(map[string]any{"keys": []any{rs.jwk(), rs.jwk()}})
	if _, err := parseJWKS(dup); err == nil {
		t.Error("duplicate kid accepted")
	}
}

func newTestCache(t *testing.T, srv *jwksServer, clk *clock) *jwksCache {
	c, err := NewClient(srv.URL, "sk", "client_123")
	if err != nil {
		t.Fatal(err)
	}
	return &jwksCache{url: c.JWKSURL(), client: c, ttl: DefaultJWKSCacheTTL, cooldown: DefaultJWKSCooldown, now: clk.Now}
}

func TestJWKSCacheCoalescesAndCoolsDown(t *testing.T) {
	rs, ec := newRSAKey(t, "rs1"), newECKey(t, "ec1")
	srv := newJWKSServer(t, rs)
	srv.delay = 50 * time.Millisecond
	clk := newClock()
	c := newTestCache(t, srv, clk)
	ctx := t.Context()

	// 50 concurrent lookups on a cold cache: one fetch.
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if k, err := c.lookup(ctx, "rs1"); err != nil || k == nil {
				t.Errorf("lookup: %v", err)
			}
		})
	}
	wg.Wait()
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for 50 concurrent lookups, want 1", n)
	}
	srv.delay = 0
	// Cached: no fetch per lookup.
	for range 100 {
		c.lookup(ctx, "rs1")
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches after cached lookups", n)
	}
	// An unknown kid fetches once, then not again within the cooldown.
	clk.Advance(DefaultJWKSCooldown)
	for range 20 {
		if _, err := c.lookup(ctx, "nope"); !errors.Is(err, errUnknownKey) {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after unknown kids, want 2", n)
	}
	// A rotated key: found on the first lookup after the cooldown.
	srv.setKeys(200, rs, ec)
	if _, err := c.lookup(ctx, "ec1"); !errors.Is(err, errUnknownKey) {
		t.Fatalf("new key within the cooldown: %v", err)
	}
	clk.Advance(DefaultJWKSCooldown)
	if k, err := c.lookup(ctx, "ec1"); err != nil || k.alg != algES256 {
		t.Fatalf("new key after the cooldown: %v", err)
	}
	if n := srv.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
	// After the TTL the keys are fetched again; if that fails, the stale
	// keys stay in use and the server is not hammered.
	srv.setKeys(500)
	clk.Advance(DefaultJWKSCacheTTL)
	for range 20 {
		if _, err := c.lookup(ctx, "rs1"); err != nil {
			t.Fatalf("stale key refused while the JWKS is down: %v", err)
		}
	}
	if n := srv.fetches.Load(); n != 4 {
		t.Fatalf("%d fetches while failing, want 4", n)
	}
}

func TestJWKSCacheColdFailure(t *testing.T) {
	srv := newJWKSServer(t)
	srv.setKeys(503)
	clk := newClock()
	c := newTestCache(t, srv, clk)
	_, err := c.lookup(t.Context(), "rs1")
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 503 || !Retryable(err) {
		t.Fatalf("err = %v", err)
	}
	c.lookup(t.Context(), "rs1")
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches right after a failure, want 1", n)
	}
	// A cancelled caller does not wait for a slow fetch.
	clk.Advance(time.Minute)
	srv.delay = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.lookup(ctx, "rs1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled lookup: %v", err)
	}
}

// A key remembers the signatures it has verified: a token seen before is
// accepted without checking its signature again, but only with exactly
// the signature that verified, and its claims are still checked each time.
func TestVerifiedSignaturesRemembered(t *testing.T) {
	for _, k := range []*testKey{newRSAKey(t, "rs1"), newECKey(t, "ec1")} {
		t.Run(k.alg, func(t *testing.T) {
			keys, err := parseJWKS(jwksJSON(k))
			if err != nil {
				t.Fatal(err)
			}
			vk := keys[k.kid]
			now := time.Now()
			claims := func(jti string) map[string]any {
				return map[string]any{"sub": "user_1", "jti": jti, "exp": now.Add(time.Hour).Unix()}
			}
			seen, unseen := mustParse(t, k.sign(t, claims("a"))), mustParse(t, k.sign(t, claims("b")))
			if err := verifyJWT(seen, vk, now, ""); err != nil {
				t.Fatalf("first verification: %v", err)
			}
			// Swap the key's public half for another one: from now on only
			// what the key remembers can pass.
			switch k.alg {
			case algRS256:
				vk.rsa = &rsa.PublicKey{N: new(big.Int).Add(vk.rsa.N, big.NewInt(2)), E: vk.rsa.E}
				vk.rs256 = rs256.New(vk.rsa)
			case algES256:
				other, _ := parseJWKS(jwksJSON(newECKey(t, "ec1")))
				vk.ec = other["ec1"].ec
			}
			if err := verifyJWT(seen, vk, now, ""); err != nil {
				t.Errorf("a token verified before: %v, want it remembered", err)
			}
			if err := verifyJWT(unseen, vk, now, ""); !errors.Is(err, errBadSignature) {
				t.Errorf("a token not seen before: %v, want its signature checked (and refused)", err)
			}
			forged := *seen
			forged.sig = slices.Clone(seen.sig)
			forged.sig[len(forged.sig)-1] ^= 1
			if err := verifyJWT(&forged, vk, now, ""); !errors.Is(err, errBadSignature) {
				t.Errorf("a remembered token with another signature: %v, want errBadSignature", err)
			}
			forged.sig = seen.sig[:len(seen.sig)-1]
			if err := verifyJWT(&forged, vk, now, ""); !errors.Is(err, errBadSignature) {
				t.Errorf("a remembered token with a shortened signature: %v, want errBadSignature", err)
			}
			if err := verifyJWT(seen, vk, now.Add(2*time.Hour), ""); !errors.Is(err, errTokenExpired) {
				t.Errorf("a remembered token past its exp: %v, want errTokenExpired", err)
			}
		})
	}
}

// The memory is bounded.
func TestVerifiedSignaturesBounded(t *testing.T) {
	v := &verifiedSigs{}
	for i := range maxVerified + 100 {
		d := sha256.Sum256([]byte(strconv.Itoa(i)))
		v.add(&d, []byte("sig"))
	}
	if n := len(v.sigs); n != maxVerified {
		t.Fatalf("%d signatures remembered, want %d", n, maxVerified)
	}
	last := sha256.Sum256([]byte(strconv.Itoa(maxVerified + 99)))
	if !v.has(&last, []byte("sig")) {
		t.Error("the newest signature was forgotten")
	}
}

func mustParse(t *testing.T, token string) *jwt {
	t.Helper()
	tok, err := parseJWT(token)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// RS256 tokens verify the same on both paths: internal/rs256, which a
// 2048-bit key with exponent 65537 gets where the CPU has ADX and BMI2,
// and crypto/rsa, which every other key and CPU gets.
func TestRS256BothPaths(t *testing.T) {
	k := newRSAKey(t, "rs1")
	keys, err := parseJWKS(jwksJSON(k))
	if err != nil {
		t.Fatal(err)
	}
	vk := keys[k.kid]
	pub := &k.priv.(*rsa.PrivateKey).PublicKey
	if (rs256.New(pub) != nil) != (vk.rs256 != nil) {
		t.Fatalf("parseJWKS set the key's rs256 to %v where rs256.New gives %v", vk.rs256, rs256.New(pub))
	}
	now := time.Now()
	paths := map[string]*rs256.Key{"crypto/rsa": nil}
	if vk.rs256 != nil {
		paths["internal/rs256"] = vk.rs256
	} else {
		t.Log("this CPU has no internal/rs256 path; only crypto/rsa is tested")
	}
	for name, fast := range paths {
		for i := range 3 {
			// A key of its own for each token, so none is remembered.
			vk := &verifyKey{alg: algRS256, rsa: pub, rs256: fast, verified: &verifiedSigs{}}
			tok := mustParse(t, k.sign(t, map[string]any{"sub": "user_1", "jti": strconv.Itoa(i), "exp": now.Add(time.Hour).Unix()}))
			forged := *tok
			forged.sig = slices.Clone(tok.sig)
			forged.sig[i*50] ^= 4
			if err := verifyJWT(&forged, vk, now, ""); !errors.Is(err, errBadSignature) {
				t.Errorf("%s: a signature with a flipped bit: %v, want errBadSignature", name, err)
			}
			if err := verifyJWT(tok, vk, now, ""); err != nil {
				t.Errorf("%s: a good token: %v", name, err)
			}
		}
	}
}
