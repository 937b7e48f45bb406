package tokens

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"strings"
	"testing"
)

// jwksCases are JWK Sets and how many keys ParseJWKS keeps (-1: it fails).
// The fuzz test starts from them too.
var jwksCases = func() []struct {
	name string
	jwks string
	keep int
} {
	rsaJWK, _ := testKeys()[RS256].PublicJWK()
	ecJWK, _ := testKeys()[ES256].PublicJWK()
	rsaPub := testKeys()[RS256].Public().Key.(*rsa.PublicKey)
	ecPub, _ := testKeys()[ES256].Public().Key.(*ecdsa.PublicKey).Bytes()
	enc := base64.RawURLEncoding.EncodeToString
	n, x, y := enc(rsaPub.N.Bytes()), enc(ecPub[1:33]), enc(ecPub[33:])
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		panic(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384pt, _ := p384.PublicKey.Bytes()
	set := func(keys ...string) string { return `{"keys":[` + strings.Join(keys, ",") + `]}` }

	return []struct {
		name string
		jwks string
		keep int
	}{
		{"empty", `{"keys":[]}`, 0},
		{"ours", set(string(rsaJWK), string(ecJWK)), 2},
		{"no alg, use or x5c", set(`{"kty":"RSA","kid":"a","n":"`+n+`","e":"AQAB"}`, `{"kty":"EC","kid":"b","crv":"P-256","x":"`+x+`","y":"`+y+`"}`), 2},
		{"key_ops verify", set(`{"kty":"EC","kid":"b","crv":"P-256","x":"` + x + `","y":"` + y + `","key_ops":["verify"]}`), 1},
		{"unknown members", `{"keys":[{"kty":"EC","kid":"b","crv":"P-256","x":"` + x + `","y":"` + y + `","ext":true}],"other":1}`, 1},

		{"skip OKP", set(`{"kty":"OKP","kid":"c","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`), 0},
		{"skip oct", set(`{"kty":"oct","kid":"c","k":"c2VjcmV0"}`), 0},
		{"skip P-384", set(`{"kty":"EC","kid":"c","crv":"P-384","x":"` + enc(p384pt[1:49]) + `","y":"` + enc(p384pt[49:]) + `"}`), 0},
		{"skip RS384", set(`{"kty":"RSA","kid":"a","alg":"RS384","n":"` + n + `","e":"AQAB"}`), 0},
		{"skip PS256", set(`{"kty":"RSA","kid":"a","alg":"PS256","n":"` + n + `","e":"AQAB"}`), 0},
		{"skip EC with alg RS256", set(`{"kty":"EC","kid":"b","alg":"RS256","crv":"P-256","x":"` + x + `","y":"` + y + `"}`), 0},
		{"skip use enc", set(`{"kty":"RSA","kid":"a","use":"enc","n":"` + n + `","e":"AQAB"}`), 0},
		{"skip key_ops sign", set(`{"kty":"RSA","kid":"a","key_ops":["sign"],"n":"` + n + `","e":"AQAB"}`), 0},
		{"skip no kid", set(`{"kty":"RSA","n":"` + n + `","e":"AQAB"}`), 0},

		{"not JSON", `keys`, -1},
		{"no keys member", `{}`, -1},
		{"keys null", `{"keys":null}`, -1},
		{"keys not an array", `{"keys":{}}`, -1},
		{"key not an object", `{"keys":[1]}`, -1},
		{"RSA 1024", set(`{"kty":"RSA","kid":"a","n":"` + enc(small.N.Bytes()) + `","e":"AQAB"}`), -1},
		{"RSA no n", set(`{"kty":"RSA","kid":"a","e":"AQAB"}`), -1},
		{"RSA even e", set(`{"kty":"RSA","kid":"a","n":"` + n + `","e":"AQAA"}`), -1},
		{"RSA e of one", set(`{"kty":"RSA","kid":"a","n":"` + n + `","e":"AQ"}`), -1},
		{"RSA e too long", set(`{"kty":"RSA","kid":"a","n":"` + n + `","e":"AQAAAAAB"}`), -1},
		{"RSA n padded base64", set(`{"kty":"RSA","kid":"a","n":"` + n + `==","e":"AQAB"}`), -1},
		{"EC short x", set(`{"kty":"EC","kid":"b","crv":"P-256","x":"` + x[:40] + `","y":"` + y + `"}`), -1},
		{"EC off the curve", set(`{"kty":"EC","kid":"b","crv":"P-256","x":"` + y + `","y":"` + x + `"}`), -1},
		{"private key", set(`{"kty":"EC","kid":"b","crv":"P-256","x":"` + x + `","y":"` + y + `","d":"AAAA"}`), -1},
		{"duplicate kid", set(`{"kty":"RSA","kid":"a","n":"`+n+`","e":"AQAB"}`, `{"kty":"EC","kid":"a","crv":"P-256","x":"`+x+`","y":"`+y+`"}`), -1},
	}
}()

func TestParseJWKS(t *testing.T) {
	for _, tc := range jwksCases {
		t.Run(tc.name, func(t *testing.T) {
			set, err := ParseJWKS([]byte(tc.jwks))
			if tc.keep < 0 {
				if err == nil {
					t.Fatalf("ParseJWKS succeeded with %d keys", len(set.Keys))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(set.Keys) != tc.keep {
				t.Fatalf("ParseJWKS kept %d keys, want %d", len(set.Keys), tc.keep)
			}
			for _, k := range set.Keys {
				checkParsedKey(t, k)
			}
		})
	}
}

func TestParseJWKSInfersAlgorithm(t *testing.T) {
	set, err := ParseJWKS([]byte(jwksCases[2].jwks))
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Keys[0].Algorithm + " " + set.Keys[1].Algorithm; got != "RS256 ES256" {
		t.Errorf("algorithms = %s, want RS256 ES256", got)
	}
	// The inferred keys verify our tokens (same key material, other kids).
	for i, k := range []*Key{testKeys()[RS256], testKeys()[ES256]} {
		tok := signRaw(t, k, `{"alg":"`+k.Algorithm+`","kid":"`+set.Keys[i].ID+`"}`, `{"exp":9999999999}`)
		if _, err := Verify(tok, set, testNow, ""); err != nil {
			t.Errorf("Verify with %s: %v", set.Keys[i].ID, err)
		}
	}
}

// checkParsedKey checks the invariants of every key ParseJWKS returns.
func checkParsedKey(t *testing.T, k PublicKey) {
	t.Helper()
	if k.ID == "" {
		t.Error("key without kid")
	}
	if err := checkPublic(k.Algorithm, k.Key); err != nil {
		t.Errorf("key %q: %v", k.ID, err)
	}
}
