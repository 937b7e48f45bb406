package gatehouse

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func hmacSHA256(key, data []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(data)
	return h.Sum(nil)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// testKey is a signing key generated for a test, with its kid.
type testKey struct {
	kid  string
	alg  string
	priv crypto.Signer
}

var (
	rsaOnce sync.Once
	rsaPriv *rsa.PrivateKey
)

// newRSAKey returns a 2048-bit RS256 key (generated once per test binary:
// generation is slow).
func newRSAKey(tb testing.TB, kid string) *testKey {
	tb.Helper()
	rsaOnce.Do(func() {
		var err error
		if rsaPriv, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return &testKey{kid: kid, alg: algRS256, priv: rsaPriv}
}

func newECKey(tb testing.TB, kid string) *testKey {
	tb.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return &testKey{kid: kid, alg: algES256, priv: priv}
}

// sign returns a compact JWS of claims with header {alg, kid, typ}.
func (k *testKey) sign(tb testing.TB, claims map[string]any) string {
	tb.Helper()
	return k.signHeader(tb, map[string]any{"alg": k.alg, "kid": k.kid, "typ": "JWT"}, claims)
}

func (k *testKey) signHeader(tb testing.TB, header, claims map[string]any) string {
	tb.Helper()
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(claims)
	input := b64u.EncodeToString(h) + "." + b64u.EncodeToString(p)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch priv := k.priv.(type) {
	case *rsa.PrivateKey:
		var err error
		if sig, err = rsa.SignPKCS1v15(nil, priv, crypto.SHA256, digest[:]); err != nil {
			tb.Fatal(err)
		}
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, priv, digest[:])
		if err != nil {
			tb.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	}
	return input + "." + b64u.EncodeToString(sig)
}

// jwk returns k's public JWK.
func (k *testKey) jwk() map[string]any {
	switch pub := k.priv.Public().(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "kid": k.kid, "alg": k.alg, "use": "sig",
			"n": b64u.EncodeToString(pub.N.Bytes()), "e": b64u.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}
	case *ecdsa.PublicKey:
		b, _ := pub.Bytes()
		return map[string]any{"kty": "EC", "kid": k.kid, "alg": k.alg, "use": "sig", "crv": "P-256",
			"x": b64u.EncodeToString(b[1:33]), "y": b64u.EncodeToString(b[33:])}
	}
	return nil
}

func jwksJSON(keys ...*testKey) []byte {
	var out []map[string]any
	for _, k := range keys {
		out = append(out, k.jwk())
	}
	b, _ := json.Marshal(map[string]any{"keys": out})
	return b
}

// jwksServer serves a JWKS at /sso/jwks/client_123 and counts fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	status  int
	fetches atomic.Int32
	delay   time.Duration
}

func newJWKSServer(tb testing.TB, keys ...*testKey) *jwksServer {
	s := &jwksServer{body: jwksJSON(keys...), status: 200}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/sso/jwks/client_123" {
			http.NotFound(w, r)
			return
		}
		s.fetches.Add(1)
		if s.delay > 0 {
			time.Sleep(s.delay)
		}
		s.mu.Lock()
		body, status := s.body, s.status
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	tb.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setKeys(status int, keys ...*testKey) {
	s.mu.Lock()
	s.body, s.status = jwksJSON(keys...), status
	s.mu.Unlock()
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
