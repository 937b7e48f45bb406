package tokens

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"sync"
	"testing"
	"time"
)

// testKeys are generated once per test binary: RSA generation is slow.
var testKeys = sync.OnceValue(func() map[string]*Key {
	m := map[string]*Key{}
	for _, alg := range []string{RS256, ES256} {
		k, err := GenerateKey(alg)
		if err != nil {
			panic(err)
		}
		m[alg] = k
	}
	return m
})

func TestGenerateKey(t *testing.T) {
	for _, tc := range []struct {
		alg     string
		kty     string
		members []string
	}{
		{RS256, "RSA", []string{"n", "e"}},
		{ES256, "EC", []string{"crv", "x", "y"}},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			k := testKeys()[tc.alg]
			if k.Algorithm != tc.alg {
				t.Errorf("Algorithm = %q, want %q", k.Algorithm, tc.alg)
			}
			if id, err := base64.RawURLEncoding.Strict().DecodeString(k.ID); err != nil || len(id) != 16 {
				t.Errorf("ID %q is not 16 bytes of base64url: %v", k.ID, err)
			}

			raw, err := k.PublicJWK()
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			for member, want := range map[string]string{"kty": tc.kty, "kid": k.ID, "use": "sig", "alg": tc.alg} {
				if m[member] != want {
					t.Errorf("JWK %s = %v, want %q", member, m[member], want)
				}
			}
			for _, member := range tc.members {
				if s, _ := m[member].(string); s == "" {
					t.Errorf("JWK has no %s: %s", member, raw)
				}
			}
			if tc.kty == "RSA" && m["e"] != "AQAB" {
				t.Errorf("JWK e = %v, want AQAB", m["e"])
			}
			if tc.kty == "EC" && m["crv"] != "P-256" {
				t.Errorf("JWK crv = %v, want P-256", m["crv"])
			}
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
				if _, ok := m[private]; ok {
					t.Errorf("public JWK has private member %q", private)
				}
			}

			x5c, _ := m["x5c"].([]any)
			if len(x5c) != 1 {
				t.Fatalf("x5c = %v, want one certificate", m["x5c"])
			}
			der, err := base64.StdEncoding.DecodeString(x5c[0].(string))
			if err != nil {
				t.Fatalf("x5c is not standard base64: %v", err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
				t.Errorf("certificate is not self-signed: %v", err)
			}
			if !k.signer.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
				t.Error("certificate is for another key")
			}
			sum := sha256.Sum256(der)
			if want := base64.RawURLEncoding.EncodeToString(sum[:]); m["x5t#S256"] != want {
				t.Errorf("x5t#S256 = %v, want %s", m["x5t#S256"], want)
			}

			// The JWK parses back to the same key.
			set, err := ParseJWKS([]byte(`{"keys":[` + string(raw) + `]}`))
			if err != nil {
				t.Fatal(err)
			}
			if len(set.Keys) != 1 || !equalPublic(set.Keys[0], k.Public()) {
				t.Errorf("ParseJWKS(PublicJWK) = %+v, want %+v", set.Keys, k.Public())
			}
		})
	}
}

func TestGenerateKeyUnsupported(t *testing.T) {
	for _, alg := range []string{"", "HS256", "none", "RS512", "ES384", "rs256"} {
		if _, err := GenerateKey(alg); err == nil {
			t.Errorf("GenerateKey(%q) succeeded", alg)
		}
	}
}

func TestMarshalPrivateRoundTrip(t *testing.T) {
	for alg, k := range testKeys() {
		t.Run(alg, func(t *testing.T) {
			der, err := k.MarshalPrivate()
			if err != nil {
				t.Fatal(err)
			}
			k2, err := ParsePrivate(k.ID, k.Algorithm, der)
			if err != nil {
				t.Fatal(err)
			}
			if k2.ID != k.ID || k2.Algorithm != k.Algorithm {
				t.Errorf("ParsePrivate = %s/%s, want %s/%s", k2.ID, k2.Algorithm, k.ID, k.Algorithm)
			}
			j1, _ := k.PublicJWK()
			j2, _ := k2.PublicJWK()
			if string(j1) != string(j2) {
				t.Errorf("PublicJWK changed across MarshalPrivate/ParsePrivate:\n%s\n%s", j1, j2)
			}
			// A token signed by the parsed key verifies with the original's JWKS.
			tok, err := Sign(k2, testClaims(time.Unix(1e9, 0)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Verify(tok, JWKS{Keys: []PublicKey{k.Public()}}, time.Unix(1e9, 0), ""); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestParsePrivateRejects(t *testing.T) {
	rsaKey, ecKey := testKeys()[RS256], testKeys()[ES256]
	rsaDER, _ := rsaKey.MarshalPrivate()
	ecDER, _ := ecKey.MarshalPrivate()
	pkcs8 := func(priv crypto.Signer) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	withCert := func(priv crypto.Signer) []byte {
		cert, err := selfSign("x", priv, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return append(pkcs8(priv), cert...)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	for _, tc := range []struct {
		name string
		alg  string
		der  []byte
	}{
		{"RSA key as ES256", ES256, rsaDER},
		{"EC key as RS256", RS256, ecDER},
		{"unknown algorithm", "HS256", rsaDER},
		{"RSA 1024", RS256, withCert(small)},
		{"P-384", ES256, withCert(p384)},
		{"no certificate", ES256, pkcs8(ecKey.signer)},
		{"certificate of another key", ES256, append(pkcs8(other), ecKey.cert...)},
		{"two certificates", ES256, append(append([]byte{}, ecDER...), ecKey.cert...)},
		{"trailing data", ES256, append(append([]byte{}, ecDER...), 0)},
		{"empty", RS256, nil},
		{"garbage", RS256, []byte("not a key")},
		{"truncated", RS256, rsaDER[:len(rsaDER)/2]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParsePrivate("kid", tc.alg, tc.der); err == nil {
				t.Errorf("ParsePrivate succeeded")
			}
		})
	}
	if _, err := ParsePrivate("", RS256, rsaDER); err == nil {
		t.Error("ParsePrivate with an empty ID succeeded")
	}
}

func equalPublic(a, b PublicKey) bool {
	eq, ok := a.Key.(interface{ Equal(crypto.PublicKey) bool })
	return ok && a.ID == b.ID && a.Algorithm == b.Algorithm && eq.Equal(b.Key)
}
