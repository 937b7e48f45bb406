package tokens

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/tokens/rsa2048"
)

const testIssuer = "https://auth.example.com/user_management/client_01"

func testClaims(now time.Time) Claims {
	return Claims{
		Issuer: testIssuer, Subject: "user_01", SessionID: "session_01", ID: "jti_01",
		IssuedAt: now.Unix(), ExpiresAt: now.Add(5 * time.Minute).Unix(),
	}
}

func testSet() JWKS {
	return JWKS{Keys: []PublicKey{testKeys()[RS256].Public(), testKeys()[ES256].Public()}}
}

// signRaw signs an arbitrary header and payload with k's private key, the
// way k's algorithm would.
func signRaw(t testing.TB, k *Key, header, payload string) string {
	t.Helper()
	in := b64(header) + "." + b64(payload)
	digest := sha256.Sum256([]byte(in))
	var sig []byte
	var err error
	switch priv := k.signer.(type) {
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(nil, priv, crypto.SHA256, digest[:])
	case *ecdsa.PrivateKey:
		r, s, e := ecdsa.Sign(rand.Reader, priv, digest[:])
		sig, err = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...), e
	}
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestSignVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	full := testClaims(now)
	full.OrganizationID = "org_01"
	full.Role = "admin"
	full.Roles = []string{"admin", "member"}
	full.Permissions = []string{"users:read"}
	full.Entitlements = []string{"sso"}
	full.FeatureFlags = []string{"beta"}
	full.Actor = &Actor{Subject: "support@example.com"}

	for _, tc := range []struct {
		name    string
		alg     string
		claims  Claims
		absent  []string // claims that must not be in the payload
		present []string
	}{
		{"RS256 minimal", RS256, testClaims(now),
			[]string{"org_id", "role", "roles", "permissions", "entitlements", "feature_flags", "act", "nbf", "aud"},
			[]string{"iss", "sub", "sid", "jti", "iat", "exp"}},
		{"ES256 minimal", ES256, testClaims(now), []string{"org_id", "roles"}, []string{"sid", "exp"}},
		{"RS256 full", RS256, full, nil, []string{"org_id", "role", "roles", "permissions", "entitlements", "feature_flags", "act"}},
		{"ES256 full", ES256, full, nil, []string{"org_id", "act"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := testKeys()[tc.alg]
			tok, err := Sign(k, tc.claims)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(tok, ".")
			if len(parts) != 3 {
				t.Fatalf("token has %d parts", len(parts))
			}
			hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
			if want := `{"alg":"` + tc.alg + `","kid":"` + k.ID + `","typ":"JWT"}`; string(hdr) != want {
				t.Errorf("header = %s, want %s", hdr, want)
			}
			sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
			if wantLen := map[string]int{RS256: 256, ES256: 64}[tc.alg]; len(sig) != wantLen {
				t.Errorf("signature is %d bytes, want %d", len(sig), wantLen)
			}
			pb, _ := base64.RawURLEncoding.DecodeString(parts[1])
			var m map[string]any
			if err := json.Unmarshal(pb, &m); err != nil {
				t.Fatal(err)
			}
			for _, c := range tc.absent {
				if _, ok := m[c]; ok {
					t.Errorf("payload has %q: %s", c, pb)
				}
			}
			for _, c := range tc.present {
				if _, ok := m[c]; !ok {
					t.Errorf("payload lacks %q: %s", c, pb)
				}
			}

			got, err := Verify(tok, testSet(), now, testIssuer)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tc.claims, *got); diff != "" {
				t.Errorf("claims (-signed +verified):\n%s", diff)
			}
		})
	}
}

// TestSignRS256Fast: where this CPU has rsa2048's signer (AVX-512 IFMA or
// ADX), RS256 keys use it, and their tokens carry exactly crypto/rsa's
// signature.
func TestSignRS256Fast(t *testing.T) {
	k := testKeys()[RS256]
	if _, err := rsa2048.New(k.signer.(*rsa.PrivateKey)); err != nil {
		t.Skipf("no rsa2048 signer here (%v): crypto/rsa signs, as TestSignVerify shows", err)
	}
	if k.fast == nil {
		t.Fatalf("an RS256 key on a CPU with %s has no fast signer", rsa2048.Path())
	}
	now := time.Unix(1_800_000_000, 0)
	for i := range 20 {
		c := testClaims(now.Add(time.Duration(i) * time.Second))
		tok, err := Sign(k, c)
		if err != nil {
			t.Fatal(err)
		}
		dot := strings.LastIndexByte(tok, '.')
		digest := sha256.Sum256([]byte(tok[:dot]))
		want, err := rsa.SignPKCS1v15(nil, k.signer.(*rsa.PrivateKey), crypto.SHA256, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		if got := tok[dot+1:]; got != base64.RawURLEncoding.EncodeToString(want) {
			t.Fatalf("token %d: signature differs from crypto/rsa's", i)
		}
	}
}

// TestSignRS256FallsBack: when rsa2048's self-check fails, Sign
// signs with crypto/rsa instead of failing or returning a bad signature.
func TestSignRS256FallsBack(t *testing.T) {
	k := testKeys()[RS256]
	priv := k.signer.(*rsa.PrivateKey)
	// A signer for a copy of the key whose public modulus is not the
	// product of its primes: its signatures fail its own check against
	// that public key.
	broken := *priv
	broken.PublicKey.N = new(big.Int).Add(priv.N, big.NewInt(2))
	fast, err := rsa2048.New(&broken)
	if err != nil {
		t.Skipf("no rsa2048 signer here (%v)", err)
	}
	digest := sha256.Sum256([]byte("x"))
	if _, err := fast.SignSHA256(digest[:]); err == nil {
		t.Fatal("the broken signer passed its check; the test shows nothing")
	}
	withBroken := *k
	withBroken.fast = fast
	before := RSAFallbacks()
	tok, err := Sign(&withBroken, testClaims(time.Unix(1_800_000_000, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if n := RSAFallbacks() - before; n != 1 {
		t.Errorf("RSAFallbacks rose by %d, want 1", n)
	}
	if _, err := Verify(tok, testSet(), time.Unix(1_800_000_000, 0), testIssuer); err != nil {
		t.Fatalf("the fallback's token does not verify: %v", err)
	}
}

func TestSignNoKey(t *testing.T) {
	if _, err := Sign(nil, Claims{}); err == nil {
		t.Error("Sign(nil) succeeded")
	}
	if _, err := Sign(&Key{ID: "x", Algorithm: RS256}, Claims{}); err == nil {
		t.Error("Sign with no private key succeeded")
	}
}

func TestVerifyRejects(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	rsaKey, ecKey := testKeys()[RS256], testKeys()[ES256]
	good := func(k *Key) string {
		tok, err := Sign(k, testClaims(now))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	hdr := func(alg, kid string) string { return `{"alg":"` + alg + `","kid":"` + kid + `","typ":"JWT"}` }
	body := func(extra string) string {
		c, _ := json.Marshal(testClaims(now))
		if extra == "" {
			return string(c)
		}
		return strings.TrimSuffix(string(c), "}") + "," + extra + "}"
	}
	impostor, err := GenerateKey(ES256)
	if err != nil {
		t.Fatal(err)
	}
	asn1Sig := func() string {
		in := b64(hdr(ES256, ecKey.ID)) + "." + b64(body(""))
		d := sha256.Sum256([]byte(in))
		sig, err := ecdsa.SignASN1(rand.Reader, ecKey.signer.(*ecdsa.PrivateKey), d[:])
		if err != nil {
			t.Fatal(err)
		}
		return in + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	hs256 := func() string {
		// Algorithm confusion: an HMAC keyed with the public JWK.
		jwk, _ := rsaKey.PublicJWK()
		in := b64(`{"alg":"HS256","kid":"`+rsaKey.ID+`"}`) + "." + b64(body(""))
		m := hmac.New(sha256.New, jwk)
		m.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	tok := good(rsaKey)
	lastBits := func(tok string) string {
		// The RSA signature is 256 bytes, so its last base64url character
		// carries 4 unused bits, zero in canonical form. Setting one must not
		// be accepted.
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		last := strings.IndexByte(alphabet, tok[len(tok)-1])
		return tok[:len(tok)-1] + string(alphabet[last|1])
	}

	for _, tc := range []struct {
		name   string
		token  string
		now    time.Time
		issuer string
		want   error
	}{
		{"empty", "", now, "", ErrMalformed},
		{"two segments", tok[:strings.LastIndexByte(tok, '.')], now, "", ErrMalformed},
		{"four segments", tok + ".x", now, "", ErrMalformed},
		{"padding", tok + "=", now, "", ErrMalformed},
		{"line break in signature", tok[:len(tok)-4] + "\n" + tok[len(tok)-4:], now, "", ErrMalformed},
		{"standard base64", strings.ReplaceAll(strings.ReplaceAll(tok, "-", "+"), "_", "/"), now, "", ErrMalformed},
		{"stray bits", lastBits(tok), now, "", ErrMalformed},
		{"too long", tok + strings.Repeat("A", maxTokenLen), now, "", ErrMalformed},
		{"header not JSON", b64("alg") + "." + b64(body("")) + ".c2ln", now, "", ErrMalformed},
		{"alg none", b64(`{"alg":"none","kid":"`+rsaKey.ID+`"}`) + "." + b64(body("")) + ".", now, "", ErrMalformed},
		{"alg none with signature", b64(`{"alg":"none","kid":"`+rsaKey.ID+`"}`) + "." + b64(body("")) + ".c2ln", now, "", ErrMalformed},
		{"HS256 keyed with the public key", hs256(), now, "", ErrMalformed},
		{"RS384", signRaw(t, rsaKey, hdr("RS384", rsaKey.ID), body("")), now, "", ErrMalformed},
		{"no kid", signRaw(t, rsaKey, `{"alg":"RS256","typ":"JWT"}`, body("")), now, "", ErrMalformed},
		{"crit", signRaw(t, rsaKey, `{"alg":"RS256","kid":"`+rsaKey.ID+`","crit":["exp"]}`, body("")), now, "", ErrMalformed},
		{"unknown kid", signRaw(t, rsaKey, hdr(RS256, "nope"), body("")), now, "", ErrUnknownKey},
		{"ES256 header, RSA key", signRaw(t, rsaKey, hdr(ES256, rsaKey.ID), body("")), now, "", ErrUnknownKey},
		{"RS256 header, EC key", signRaw(t, ecKey, hdr(RS256, ecKey.ID), body("")), now, "", ErrUnknownKey},
		{"signed by another key", signRaw(t, impostor, hdr(ES256, ecKey.ID), body("")), now, "", ErrSignature},
		{"ES256 ASN.1 signature", asn1Sig(), now, "", ErrSignature},
		{"payload swapped", strings.Split(good(rsaKey), ".")[0] + "." + b64(body(`"org_id":"org_x"`)) + "." + strings.Split(good(rsaKey), ".")[2], now, "", ErrSignature},
		{"expired exactly at exp", tok, now.Add(5 * time.Minute), "", ErrExpired},
		{"expired after exp", good(ecKey), now.Add(time.Hour), "", ErrExpired},
		{"not yet valid", signRaw(t, ecKey, hdr(ES256, ecKey.ID), body(`"nbf":1800000060`)), now, "", ErrNotYetValid},
		{"no exp", signRaw(t, ecKey, hdr(ES256, ecKey.ID), `{"sub":"user_01"}`), now, "", ErrMalformed},
		{"exp not a number", signRaw(t, ecKey, hdr(ES256, ecKey.ID), `{"exp":"2030"}`), now, "", ErrMalformed},
		{"exp fractional", signRaw(t, ecKey, hdr(ES256, ecKey.ID), `{"exp":1800000300.5}`), now, "", ErrMalformed},
		{"payload not JSON", signRaw(t, ecKey, hdr(ES256, ecKey.ID), `exp`), now, "", ErrMalformed},
		{"wrong issuer", tok, now, "https://other.example.com", ErrIssuer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Verify(tc.token, testSet(), tc.now, tc.issuer)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if c != nil {
				t.Errorf("Verify returned claims with an error")
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ecKey := testKeys()[ES256]
	hdr := `{"alg":"ES256","kid":"` + ecKey.ID + `"}`
	for _, tc := range []struct {
		name    string
		payload string
		now     time.Time
		issuer  string
	}{
		{"one second before exp", `{"exp":1800000001}`, now, ""},
		{"sub-second before exp", `{"exp":1800000001}`, now.Add(999 * time.Millisecond), ""},
		{"nbf now", `{"exp":1800000300,"nbf":1800000000}`, now, ""},
		{"no typ, no iss, issuer unchecked", `{"exp":1800000300}`, now, ""},
		{"issuer matches", `{"exp":1800000300,"iss":"` + testIssuer + `"}`, now, testIssuer},
		{"unknown claims", `{"exp":1800000300,"aud":"client_01","client_id":"x"}`, now, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Verify(signRaw(t, ecKey, hdr, tc.payload), testSet(), tc.now, tc.issuer); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func BenchmarkSignRS256(b *testing.B) { benchmarkSign(b, RS256) }
func BenchmarkSignES256(b *testing.B) { benchmarkSign(b, ES256) }

func benchmarkSign(b *testing.B, alg string) {
	k := testKeys()[alg]
	c := testClaims(time.Now())
	c.OrganizationID, c.Role, c.Permissions = "org_01", "member", []string{"users:read", "users:write"}
	for b.Loop() {
		if _, err := Sign(k, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyRS256(b *testing.B) { benchmarkVerify(b, RS256) }
func BenchmarkVerifyES256(b *testing.B) { benchmarkVerify(b, ES256) }

func benchmarkVerify(b *testing.B, alg string) {
	now := time.Now()
	c := testClaims(now)
	c.OrganizationID, c.Role, c.Permissions = "org_01", "member", []string{"users:read", "users:write"}
	tok, err := Sign(testKeys()[alg], c)
	if err != nil {
		b.Fatal(err)
	}
	set := testSet()
	for b.Loop() {
		if _, err := Verify(tok, set, now, testIssuer); err != nil {
			b.Fatal(err)
		}
	}
}
