package gatehouse

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// MinCookiePasswordLength is the shortest cookie password accepted, in
// UTF-16 code units as the Node SDK counts them.
const MinCookiePasswordLength = 32

// The iron "Fe26.2" format as the WorkOS Node SDK seals sessions
// (workos-compat.md §7.2): PBKDF2-HMAC-SHA1 with 1 iteration over the ASCII
// hex salt, AES-256-CBC, HMAC-SHA256, password id "1", no expiry, and a
// "~2" suffix appended by the SDK.
const (
	ironMacPrefix  = "Fe26.2"
	ironPasswordID = "1"
	ironSuffix     = "~2"
	ironSaltBytes  = 32 // 256 random bits, written as 64 hex characters
	ironSkew       = 60 * time.Second
)

// Errors unsealing reports. Every one means the cookie is not a session this
// password sealed; they differ only for logs.
var (
	errSealFormat  = errors.New("gatehouse: malformed seal")
	errSealMAC     = errors.New("gatehouse: seal integrity check failed")
	errSealExpired = errors.New("gatehouse: seal expired")
)

// checkPassword refuses cookie passwords shorter than
// MinCookiePasswordLength, with the Node SDK's rule.
func checkPassword(password string) error {
	if n := len(utf16.Encode([]rune(password))); n < MinCookiePasswordLength {
		return fmt.Errorf("gatehouse: the cookie password is %d characters; it must be at least %d (generate one with `openssl rand -base64 32`)", n, MinCookiePasswordLength)
	}
	return nil
}

var b64u = base64.RawURLEncoding

// ironKey derives a 32-byte key from the password and the ASCII bytes of a
// hex salt (iron uses the salt string itself, not its decoded bytes).
func ironKey(password, salt string) []byte {
	k, err := pbkdf2.Key(sha1.New, password, []byte(salt), 1, 32)
	if err != nil {
		panic("gatehouse: pbkdf2: " + err.Error()) // fixed, valid parameters
	}
	return k
}

// seal seals plaintext with iron and appends "~2".
func seal(password string, plaintext []byte) (string, error) {
	if err := checkPassword(password); err != nil {
		return "", err
	}
	var salts [2 * ironSaltBytes]byte
	iv := make([]byte, aes.BlockSize)
	rand.Read(salts[:])
	rand.Read(iv)
	return sealWith(password, plaintext, hex.EncodeToString(salts[:ironSaltBytes]), iv, hex.EncodeToString(salts[ironSaltBytes:])), nil
}

// sealWith is seal with the salts and IV given, so a test can reproduce
// the reference vector.
func sealWith(password string, plaintext []byte, encSalt string, iv []byte, macSalt string) string {
	block, _ := aes.NewCipher(ironKey(password, encSalt))
	pad := aes.BlockSize - len(plaintext)%aes.BlockSize
	ct := make([]byte, len(plaintext)+pad)
	copy(ct, plaintext)
	for i := len(plaintext); i < len(ct); i++ {
		ct[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, ct)

	var sb strings.Builder
	sb.Grow(len(ironMacPrefix) + 3*len(encSalt) + b64u.EncodedLen(len(ct)) + 64)
	sb.WriteString(ironMacPrefix)
	sb.WriteString("*" + ironPasswordID + "*")
	sb.WriteString(encSalt)
	sb.WriteByte('*')
	sb.WriteString(b64u.EncodeToString(iv))
	sb.WriteByte('*')
	sb.WriteString(b64u.EncodeToString(ct))
	sb.WriteString("*") // exp: empty, the session seal never expires
	macBase := sb.String()

	mac := hmac.New(sha256.New, ironKey(password, macSalt))
	mac.Write([]byte(macBase))
	sb.WriteByte('*')
	sb.WriteString(macSalt)
	sb.WriteByte('*')
	sb.WriteString(b64u.EncodeToString(mac.Sum(nil)))
	sb.WriteString(ironSuffix)
	return sb.String()
}

// unseal checks and opens an iron seal with or without the "~2" suffix and
// returns the plaintext. The HMAC is checked, in constant time, before
// anything is decrypted.
func unseal(password, sealed string, now time.Time) ([]byte, error) {
	s, version, versioned := strings.Cut(sealed, "~")
	if versioned && version != "2" {
		return nil, fmt.Errorf("%w: version %q", errSealFormat, version)
	}
	var parts [8]string
	for i := range 7 {
		var ok bool
		parts[i], s, ok = strings.Cut(s, "*")
		if !ok {
			return nil, fmt.Errorf("%w: %d components", errSealFormat, i+1)
		}
	}
	if strings.Contains(s, "*") {
		return nil, fmt.Errorf("%w: too many components", errSealFormat)
	}
	parts[7] = s
	prefix, pwID, encSalt, iv64, ct64, exp, macSalt, mac64 := parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6], parts[7]
	if prefix != ironMacPrefix {
		return nil, fmt.Errorf("%w: prefix", errSealFormat)
	}
	if pwID != ironPasswordID {
		return nil, fmt.Errorf("%w: password id %q", errSealFormat, pwID)
	}
	if exp != "" {
		if exp[0] < '1' || exp[0] > '9' {
			return nil, fmt.Errorf("%w: expiry", errSealFormat)
		}
		ms, err := strconv.ParseInt(exp, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: expiry", errSealFormat)
		}
		if ms <= now.Add(-ironSkew).UnixMilli() {
			return nil, errSealExpired
		}
	}
	macBase := sealed[:len(prefix)+len(pwID)+len(encSalt)+len(iv64)+len(ct64)+len(exp)+5]
	h := hmac.New(sha256.New, ironKey(password, macSalt))
	h.Write([]byte(macBase))
	var sum [sha256.Size]byte
	want := b64u.AppendEncode(make([]byte, 0, 43), h.Sum(sum[:0]))
	if subtle.ConstantTimeCompare(want, []byte(mac64)) != 1 {
		return nil, errSealMAC
	}
	iv, err := b64u.DecodeString(iv64)
	if err != nil || len(iv) != aes.BlockSize {
		return nil, fmt.Errorf("%w: iv", errSealFormat)
	}
	ct, err := b64u.DecodeString(ct64)
	if err != nil || len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: ciphertext", errSealFormat)
	}
	block, _ := aes.NewCipher(ironKey(password, encSalt))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(ct, ct)
	pad := int(ct[len(ct)-1])
	if pad == 0 || pad > aes.BlockSize {
		return nil, fmt.Errorf("%w: padding", errSealFormat)
	}
	for _, b := range ct[len(ct)-pad:] {
		if int(b) != pad {
			return nil, fmt.Errorf("%w: padding", errSealFormat)
		}
	}
	return ct[:len(ct)-pad], nil
}
