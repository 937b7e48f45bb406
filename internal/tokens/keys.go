package tokens

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/gatehouse/gatehouse/internal/tokens/rsa2048"
)

// The signing algorithms Gatehouse issues and accepts (RFC 7518 §3.1).
const (
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256, on a key of at least 2048 bits.
	RS256 = "RS256"
	// ES256 is ECDSA on P-256 with SHA-256.
	ES256 = "ES256"
)

const (
	rsaBits    = 2048 // size of generated RSA keys
	minRSABits = 2048 // jose refuses smaller keys
	maxRSABits = 8192 // bounds the cost of verifying with an untrusted key
	certLife   = 10 * 365 * 24 * time.Hour
)

// Key is a private signing key with its key ID, algorithm and self-signed
// certificate. It is immutable and safe for concurrent use.
type Key struct {
	// ID is the key ID, the "kid" of the JWK and of every token header the
	// key signs: 16 random bytes in unpadded base64url.
	ID string
	// Algorithm is RS256 or ES256.
	Algorithm string

	signer crypto.Signer   // *rsa.PrivateKey or *ecdsa.PrivateKey
	fast   *rsa2048.Signer // the same RSA key on rsa2048's faster path, if this CPU and key allow
	cert   []byte          // self-signed X.509 certificate, DER
	jwk    []byte          // public JWK, JSON
	header string          // base64url of the JWS header, with its trailing "."
}

// RSASigner names what signs RS256 tokens with 2048-bit keys in this
// process, for the startup log: Gatehouse's own signer where the CPU has
// AVX-512 IFMA or ADX, crypto/rsa elsewhere (and for other key sizes).
func RSASigner() string {
	if rsa2048.Supported() {
		return "rsa2048 (" + rsa2048.Path() + ")"
	}
	return "crypto/rsa"
}

// GenerateKey returns a new key for alg (RS256: RSA 2048; ES256: P-256)
// with a random ID and a self-signed certificate.
func GenerateKey(alg string) (*Key, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("generate key: unsupported algorithm %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	id := newKeyID()
	cert, err := selfSign(id, priv, time.Now())
	if err != nil {
		return nil, err
	}
	return newKey(id, alg, priv, cert)
}

func newKeyID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// selfSign makes the certificate published in the JWK's x5c: subject and
// issuer are the key ID, valid for ten years from now.
func selfSign(id string, priv crypto.Signer, now time.Time) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial.Add(serial, big.NewInt(1)),
		Subject:               pkix.Name{CommonName: id},
		NotBefore:             now.Add(-time.Minute).UTC(),
		NotAfter:              now.Add(certLife).UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return nil, fmt.Errorf("self-sign certificate: %w", err)
	}
	return der, nil
}

// newKey checks that priv suits alg and precomputes the JWK and JWS header.
func newKey(id, alg string, priv crypto.Signer, cert []byte) (*Key, error) {
	if id == "" {
		return nil, errors.New("key: empty key ID")
	}
	if err := checkPublic(alg, priv.Public()); err != nil {
		return nil, err
	}
	k := &Key{ID: id, Algorithm: alg, signer: priv, cert: cert}
	if rk, ok := priv.(*rsa.PrivateKey); ok {
		k.fast, _ = rsa2048.New(rk) // nil where unsupported: crypto/rsa signs
	}
	jwk, err := marshalJWK(id, alg, priv.Public(), cert)
	if err != nil {
		return nil, err
	}
	k.jwk = jwk
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{alg, id, "JWT"})
	if err != nil {
		return nil, fmt.Errorf("key: marshal header: %w", err)
	}
	k.header = base64.RawURLEncoding.EncodeToString(h) + "."
	return k, nil
}

// checkPublic reports whether pub is a key alg can use: RSA of 2048 to 8192
// bits with a sane exponent for RS256, P-256 for ES256.
func checkPublic(alg string, pub crypto.PublicKey) error {
	switch alg {
	case RS256:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("key: %s needs an RSA key, not %T", alg, pub)
		}
		if n := k.N.BitLen(); n < minRSABits || n > maxRSABits {
			return fmt.Errorf("key: RSA key of %d bits; want %d to %d", n, minRSABits, maxRSABits)
		}
		if k.E < 3 || k.E%2 == 0 {
			return fmt.Errorf("key: bad RSA exponent %d", k.E)
		}
	case ES256:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("key: %s needs an ECDSA key, not %T", alg, pub)
		}
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("key: %s needs curve P-256, not %s", alg, k.Curve.Params().Name)
		}
	default:
		return fmt.Errorf("key: unsupported algorithm %q", alg)
	}
	return nil
}

// MarshalPrivate encodes the key for storage: the PKCS#8 DER private key
// immediately followed by the DER certificate. Both are self-delimiting DER,
// so ParsePrivate needs no framing. The result is secret: seal it before
// storing it.
func (k *Key) MarshalPrivate() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.signer)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return append(der, k.cert...), nil
}

// ParsePrivate decodes what MarshalPrivate wrote, for the key with the given
// ID and algorithm. It checks that the key type fits alg (RSA of at least
// 2048 bits for RS256, P-256 for ES256) and that the certificate is for the
// same key.
func ParsePrivate(id, alg string, der []byte) (*Key, error) {
	var raw asn1.RawValue
	cert, err := asn1.Unmarshal(der, &raw)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(raw.FullBytes)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("parse private key: %T cannot sign", parsed)
	}
	if err := checkPublic(alg, priv.Public()); err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	c, err := x509.ParseCertificate(cert)
	if err != nil {
		return nil, fmt.Errorf("parse key certificate: %w", err)
	}
	if pub, ok := priv.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(c.PublicKey) {
		return nil, errors.New("parse private key: certificate is for another key")
	}
	return newKey(id, alg, priv, bytes.Clone(cert))
}

// PublicJWK returns the key's public half as a JSON Web Key (RFC 7517): kty,
// kid, use "sig", alg, then n and e (RSA) or crv, x and y (EC), then x5c and
// x5t#S256 from the key's certificate. It is the same for the key's whole
// life.
func (k *Key) PublicJWK() ([]byte, error) {
	return bytes.Clone(k.jwk), nil
}

// Public returns the key's public half, as ParseJWKS would give it.
func (k *Key) Public() PublicKey {
	return PublicKey{ID: k.ID, Algorithm: k.Algorithm, Key: k.signer.Public()}
}

// jwk is a public JSON Web Key in the member order Gatehouse writes.
type jwk struct {
	Kty     string   `json:"kty"`
	Kid     string   `json:"kid,omitempty"`
	Use     string   `json:"use,omitempty"`
	Alg     string   `json:"alg,omitempty"`
	N       string   `json:"n,omitempty"`
	E       string   `json:"e,omitempty"`
	Crv     string   `json:"crv,omitempty"`
	X       string   `json:"x,omitempty"`
	Y       string   `json:"y,omitempty"`
	X5c     []string `json:"x5c,omitempty"`
	X5tS256 string   `json:"x5t#S256,omitempty"`
}

func marshalJWK(id, alg string, pub crypto.PublicKey, cert []byte) ([]byte, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	j := jwk{Kid: id, Use: "sig", Alg: alg}
	switch p := pub.(type) {
	case *rsa.PublicKey:
		j.Kty, j.N, j.E = "RSA", b64(p.N.Bytes()), b64(big.NewInt(int64(p.E)).Bytes())
	case *ecdsa.PublicKey:
		pt, err := p.Bytes() // 0x04 || x || y, each 32 bytes
		if err != nil {
			return nil, fmt.Errorf("marshal jwk: %w", err)
		}
		j.Kty, j.Crv, j.X, j.Y = "EC", "P-256", b64(pt[1:33]), b64(pt[33:])
	default:
		return nil, fmt.Errorf("marshal jwk: unsupported key %T", pub)
	}
	if len(cert) > 0 {
		sum := sha256.Sum256(cert)
		// x5c is standard base64 with padding (RFC 7517 §4.7), unlike the rest.
		j.X5c = []string{base64.StdEncoding.EncodeToString(cert)}
		j.X5tS256 = b64(sum[:])
	}
	out, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("marshal jwk: %w", err)
	}
	return out, nil
}
