package secretbox

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// FuzzParseKey: ParseKey never panics, accepts only 32-byte keys, and
// reads a key back from each encoding it accepts.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{GenerateKey(), strings.Repeat("ab", 32), " " + GenerateKey() + "\n", "", "short",
		base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), base64.StdEncoding.EncodeToString(make([]byte, 31)),
		strings.Repeat("zz", 32), "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			if k != nil {
				t.Fatalf("ParseKey(%q) returned a key and %v", s, err)
			}
			return
		}
		if len(k) != KeySize {
			t.Fatalf("ParseKey(%q) = %d bytes", s, len(k))
		}
		for _, enc := range []string{base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k), hex.EncodeToString(k)} {
			if k2, err := ParseKey(enc); err != nil || !bytes.Equal(k, k2) {
				t.Fatalf("ParseKey(%q) = %x, %v; want %x", enc, k2, err, k)
			}
		}
		if _, err := New(k); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzOpen: Open never panics on any sealed text; what Seal makes opens
// to the same bytes with the same associated data, and with nothing else.
func FuzzOpen(f *testing.F) {
	f.Add("v1.", []byte("aad"), []byte("plain"))
	f.Add("", []byte{}, []byte{})
	f.Add("v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", []byte("x"), []byte("refresh-token"))
	f.Add("v2.abc", []byte(nil), bytes.Repeat([]byte{0}, 100))
	f.Add("v1.!!!!", []byte("\xff"), []byte("\xff\xfe"))
	key := bytes.Repeat([]byte{7}, KeySize)
	box, err := New(key)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, sealed string, aad, plain []byte) {
		if out, err := box.Open(sealed, aad); err == nil && !strings.HasPrefix(sealed, "v1.") {
			t.Fatalf("Open(%q) = %q without the v1. prefix", sealed, out)
		}
		s := box.Seal(plain, aad)
		out, err := box.Open(s, aad)
		if err != nil || !bytes.Equal(out, plain) {
			t.Fatalf("Open(Seal(%q)) = %q, %v", plain, out, err)
		}
		if _, err := box.Open(s, append(append([]byte{}, aad...), 'x')); err == nil {
			t.Fatal("opened with other associated data")
		}
		// Flip one base64 character in the middle: it changes whole bytes.
		i := len("v1.") + (len(s)-len("v1."))/2
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		if _, err := box.Open(s[:i]+string(c)+s[i+1:], aad); err == nil {
			t.Fatalf("a tampered value opened: %q", s)
		}
	})
}
