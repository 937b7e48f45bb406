package adminauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// TOTP parameters (RFC 6238 with the defaults every authenticator app
// supports): HMAC-SHA-1, 6 digits, 30-second steps, and one step of clock
// drift either way.
const (
	TOTPDigits = 6
	TOTPPeriod = 30 * time.Second
	TOTPSkew   = 1
	// totpSecretLen is 160 bits, the HMAC-SHA-1 block-size-friendly length
	// RFC 4226 §4 recommends.
	totpSecretLen = 20
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTPSecret returns a random TOTP secret.
func NewTOTPSecret() []byte {
	b := make([]byte, totpSecretLen)
	rand.Read(b)
	return b
}

// EncodeTOTPSecret returns a secret as authenticator apps take it: base32,
// no padding.
func EncodeTOTPSecret(secret []byte) string { return b32.EncodeToString(secret) }

// DecodeTOTPSecret parses a base32 secret, ignoring spaces and case.
func DecodeTOTPSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	s = strings.TrimRight(s, "=")
	b, err := b32.DecodeString(s)
	if err != nil || len(b) < 10 || len(b) > 64 {
		return nil, fmt.Errorf("invalid TOTP secret")
	}
	return b, nil
}

// TOTPURI returns the otpauth:// URI (the Key Uri Format of Google
// Authenticator) an app can import: issuer, account, secret and parameters.
func TOTPURI(issuer, account string, secret []byte) string {
	q := url.Values{}
	q.Set("secret", EncodeTOTPSecret(secret))
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", fmt.Sprint(TOTPDigits))
	q.Set("period", fmt.Sprint(int(TOTPPeriod/time.Second)))
	return "otpauth://totp/" + url.PathEscape(issuer+":"+account) + "?" + q.Encode()
}

// hotp is RFC 4226 §5.3: HMAC-SHA-1 of the counter, dynamically truncated
// to a number of digits.
func hotp(secret []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}

// TOTP returns the code for time t (RFC 6238 §4: T = floor(unix / 30)).
func TOTP(secret []byte, t time.Time) string {
	return hotp(secret, uint64(t.Unix())/uint64(TOTPPeriod/time.Second), TOTPDigits)
}

// ValidateTOTP reports whether code is the secret's code at t, or one step
// before or after, comparing in constant time.
func ValidateTOTP(secret []byte, code string, t time.Time) bool {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != TOTPDigits {
		return false
	}
	step := uint64(t.Unix()) / uint64(TOTPPeriod/time.Second)
	ok := 0
	for d := -TOTPSkew; d <= TOTPSkew; d++ {
		c := hotp(secret, uint64(int64(step)+int64(d)), TOTPDigits)
		ok |= subtle.ConstantTimeCompare([]byte(c), []byte(code))
	}
	return ok == 1
}
