// Package secretbox encrypts secrets at rest with the server's master key
// (GATEHOUSE_SECRET_KEY): AES-256-GCM with a random 96-bit nonce per value
// and caller-supplied associated data that binds a ciphertext to its row, so
// a value cannot be moved to another row or column and still decrypt.
//
// Verify guards against starting with the wrong key: the first start stores
// an encrypted check value in the settings table, and every later start
// must decrypt it.
package secretbox

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/internal/store"
)

// KeySize is the master key's length in bytes.
const KeySize = 32

// ErrWrongKey means a ciphertext does not open with this key.
var ErrWrongKey = errors.New("secretbox: value does not decrypt with this key")

// Box seals and opens values with one master key. It is safe for concurrent use.
type Box struct {
	aead   cipher.AEAD
	macKey []byte
}

// GenerateKey returns a new random key, base64-encoded, suitable for
// GATEHOUSE_SECRET_KEY.
func GenerateKey() string {
	k := make([]byte, KeySize)
	rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// ParseKey decodes a master key given as base64 (standard or URL alphabet,
// padded or not) or hex, and checks it is 32 bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != KeySize {
				return nil, fmt.Errorf("the key is %d bytes; it must be %d bytes", len(k), KeySize)
			}
			return k, nil
		}
	}
	return nil, errors.New("the key must be 32 random bytes in base64 or hex")
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secretbox: key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("gatehouse/mac/v1"))
	return &Box{aead: aead, macKey: mac.Sum(nil)}, nil
}

// MAC returns HMAC-SHA256 of the parts under a key derived from the master
// key. One-time codes are stored as MACs: six digits are too few to survive
// an offline guess against a plain hash, but without the master key a
// stolen database gives nothing to guess against.
func (b *Box) MAC(parts ...string) []byte {
	m := hmac.New(sha256.New, b.macKey)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

const prefix = "v1."

// Seal encrypts plaintext bound to aad and returns printable text.
func (b *Box) Seal(plaintext, aad []byte) string {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	rand.Read(nonce)
	return prefix + base64.RawURLEncoding.EncodeToString(b.aead.Seal(nonce, nonce, plaintext, aad))
}

// Open decrypts a value made by Seal with the same aad.
func (b *Box) Open(sealed string, aad []byte) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return nil, ErrWrongKey
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(raw) < b.aead.NonceSize()+b.aead.Overhead() {
		return nil, ErrWrongKey
	}
	n := b.aead.NonceSize()
	out, err := b.aead.Open(nil, raw[:n], raw[n:], aad)
	if err != nil {
		return nil, ErrWrongKey
	}
	return out, nil
}

const checkSetting = "master_key_check"

var checkAAD = []byte("gatehouse master key check")

// Verify proves that b holds the key this database was first started with,
// recording a check value on the first call.
func (b *Box) Verify(ctx context.Context, s store.Settings) error {
	stored, err := s.PutSettingIfAbsent(ctx, checkSetting, b.Seal([]byte("ok"), checkAAD))
	if err != nil {
		return fmt.Errorf("record master key check: %w", err)
	}
	if _, err := b.Open(stored, checkAAD); err != nil {
		return errors.New("the secret key does not match the one this database was set up with; " +
			"start with the original GATEHOUSE_SECRET_KEY (secrets in the database cannot be read without it)")
	}
	return nil
}
