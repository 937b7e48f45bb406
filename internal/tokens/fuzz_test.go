package tokens

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testNow = time.Unix(1_800_000_000, 0)

var verifyErrors = []error{ErrMalformed, ErrUnknownKey, ErrSignature, ErrExpired, ErrNotYetValid, ErrIssuer}

// FuzzVerify feeds Verify arbitrary tokens against a fixed key set: it must
// not panic, must fail with one of its sentinels, and may accept only a
// token whose header names one of the keys.
func FuzzVerify(f *testing.F) {
	for _, k := range testKeys() {
		tok, err := Sign(k, testClaims(testNow))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok, testIssuer)
		f.Add(signRaw(f, k, `{"alg":"`+k.Algorithm+`","kid":"`+k.ID+`"}`, `{"exp":1800000001,"nbf":1800000000}`), "")
		f.Add(signRaw(f, k, `{"alg":"`+k.Algorithm+`","kid":"`+k.ID+`","crit":["b64"],"b64":false}`, `{"exp":1800000001}`), "")
	}
	f.Add("", "")
	f.Add("..", "")
	f.Add(b64(`{"alg":"none"}`)+"."+b64(`{"exp":1}`)+".", "")
	f.Add(b64(`{"alg":"HS256","kid":"x"}`)+"."+b64(`{}`)+".c2ln", "")

	set := testSet()
	f.Fuzz(func(t *testing.T, token, issuer string) {
		c, err := Verify(token, set, testNow, issuer)
		if err != nil {
			if c != nil {
				t.Fatalf("Verify returned claims and %v", err)
			}
			for _, sentinel := range verifyErrors {
				if errors.Is(err, sentinel) {
					return
				}
			}
			t.Fatalf("Verify error %v wraps no sentinel", err)
		}
		if c == nil {
			t.Fatal("Verify returned neither claims nor an error")
		}
		if c.ExpiresAt <= testNow.Unix() || (issuer != "" && c.Issuer != issuer) {
			t.Fatalf("Verify accepted claims %+v at %v for issuer %q", c, testNow, issuer)
		}
		if strings.Count(token, ".") != 2 {
			t.Fatalf("Verify accepted %q", token)
		}
	})
}

// FuzzSignVerify checks that what Sign makes verifies against the signing
// key's own JWKS with the same claims, and that changing any one byte of
// the token makes it fail.
func FuzzSignVerify(f *testing.F) {
	f.Add("user_01", "session_01", "org_01", "admin", "users:read", int64(1_800_000_000), int64(1_800_000_300), uint(10), byte('A'))
	f.Add("", "", "", "", "", int64(0), int64(1), uint(0), byte('.'))
	f.Add("\xff\"\\<>&\u2028", "é", "", "", "a,b", int64(-5), int64(math.MaxInt64), uint(1<<20), byte('='))
	f.Add("u", "s", "o", "r", "", int64(math.MinInt64), int64(math.MinInt64+1), uint(500), byte('\n'))

	f.Fuzz(func(t *testing.T, sub, sid, org, role, perms string, iat, exp int64, pos uint, b byte) {
		if exp == math.MinInt64 {
			exp++
		}
		in := Claims{
			Issuer: testIssuer, Subject: sub, SessionID: sid, ID: "jti", IssuedAt: iat, ExpiresAt: exp,
			OrganizationID: org, Role: role,
		}
		if perms != "" {
			in.Permissions = strings.Split(perms, ",")
		}
		// What survives JSON: invalid UTF-8 becomes U+FFFD.
		want := roundTripJSON(t, in)
		now := time.Unix(exp-1, 0)

		payload, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		enc := base64.RawURLEncoding
		for alg, k := range testKeys() {
			sigLen := 64
			if rk, ok := k.signer.(*rsa.PrivateKey); ok {
				sigLen = rk.Size()
			}
			wantLen := len(k.header) + enc.EncodedLen(len(payload)) + 1 + enc.EncodedLen(sigLen)
			tok, err := Sign(k, in)
			if wantLen > maxTokenLen {
				if !errors.Is(err, ErrTooLong) {
					t.Fatalf("%s: Sign of claims making a %d-byte token = %d bytes, %v; want ErrTooLong", alg, wantLen, len(tok), err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: Sign: %v", alg, err)
			}
			if len(tok) != wantLen {
				t.Fatalf("%s: token of %d bytes, want %d", alg, len(tok), wantLen)
			}
			jwk, _ := k.PublicJWK()
			set, err := ParseJWKS([]byte(`{"keys":[` + string(jwk) + `]}`))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Verify(tok, set, now, testIssuer)
			if err != nil {
				t.Fatalf("%s: Verify(Sign(%+v)): %v", alg, in, err)
			}
			if diff := cmp.Diff(want, *got); diff != "" {
				t.Fatalf("%s: claims (-signed +verified):\n%s", alg, diff)
			}

			i := int(pos % uint(len(tok)))
			if tok[i] == b {
				continue
			}
			bad := tok[:i] + string([]byte{b}) + tok[i+1:]
			if _, err := Verify(bad, set, now, testIssuer); err == nil {
				t.Fatalf("%s: token with byte %d changed from %q to %q verified", alg, i, tok[i], b)
			}
		}
	})
}

func roundTripJSON(t *testing.T, c Claims) Claims {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var out Claims
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzParseJWKS checks that ParseJWKS does not panic, that every key it
// keeps is usable, with a unique kid, and that each kept key survives a
// round trip through Gatehouse's own JWK encoding.
func FuzzParseJWKS(f *testing.F) {
	for _, tc := range jwksCases {
		f.Add([]byte(tc.jwks))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := ParseJWKS(data)
		if err != nil {
			if len(set.Keys) != 0 {
				t.Fatalf("ParseJWKS returned keys and %v", err)
			}
			return
		}
		seen := map[string]bool{}
		var jwks []string
		for _, k := range set.Keys {
			checkParsedKey(t, k)
			if seen[k.ID] {
				t.Fatalf("duplicate kid %q", k.ID)
			}
			seen[k.ID] = true
			j, err := marshalJWK(k.ID, k.Algorithm, k.Key, nil)
			if err != nil {
				t.Fatalf("marshalJWK(%+v): %v", k, err)
			}
			jwks = append(jwks, string(j))
		}
		again, err := ParseJWKS([]byte(`{"keys":[` + strings.Join(jwks, ",") + `]}`))
		if err != nil {
			t.Fatalf("ParseJWKS of re-encoded keys: %v", err)
		}
		if len(again.Keys) != len(set.Keys) {
			t.Fatalf("re-encoded set kept %d keys, want %d", len(again.Keys), len(set.Keys))
		}
		for i := range set.Keys {
			if !equalPublic(set.Keys[i], again.Keys[i]) {
				t.Fatalf("key %d changed in a round trip: %+v, %+v", i, set.Keys[i], again.Keys[i])
			}
		}
	})
}
