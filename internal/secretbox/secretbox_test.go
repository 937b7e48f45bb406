package secretbox

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store/sqlite/sqlitetest"
)

func TestSealOpen(t *testing.T) {
	k, err := ParseKey(GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(k)
	s := b.Seal([]byte("signing key"), []byte("row-1"))
	if strings.Contains(s, "signing") {
		t.Fatal("plaintext visible in sealed value")
	}
	got, err := b.Open(s, []byte("row-1"))
	if err != nil || string(got) != "signing key" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := b.Open(s, []byte("row-2")); err != ErrWrongKey {
		t.Fatalf("Open with other aad: %v", err)
	}
	if s2 := b.Seal([]byte("signing key"), []byte("row-1")); s2 == s {
		t.Fatal("two seals of one value are equal; nonce reused")
	}
	tampered := s[:len(s)-2] + "AA"
	if _, err := b.Open(tampered, []byte("row-1")); err != ErrWrongKey {
		t.Fatalf("Open tampered: %v", err)
	}
	for _, bad := range []string{"", "v1.", "v1.!!", "v2.abc", "v1.AAAA"} {
		if _, err := b.Open(bad, nil); err != ErrWrongKey {
			t.Errorf("Open(%q) = %v", bad, err)
		}
	}
}

func TestParseKey(t *testing.T) {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(raw),
		hex.EncodeToString(raw), " " + base64.StdEncoding.EncodeToString(raw) + "\n",
	} {
		k, err := ParseKey(s)
		if err != nil || string(k) != string(raw) {
			t.Errorf("ParseKey(%q) = %x, %v", s, k, err)
		}
	}
	for _, s := range []string{"", "short", base64.StdEncoding.EncodeToString(raw[:16]), "password123password123password12"} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
		}
	}
}

func TestVerify(t *testing.T) {
	db := sqlitetest.New(t)
	k1, _ := ParseKey(GenerateKey())
	k2, _ := ParseKey(GenerateKey())
	b1, _ := New(k1)
	b2, _ := New(k2)
	if err := b1.Verify(t.Context(), db); err != nil {
		t.Fatalf("first Verify: %v", err)
	}
	if err := b1.Verify(t.Context(), db); err != nil {
		t.Fatalf("second Verify with the same key: %v", err)
	}
	if err := b2.Verify(t.Context(), db); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_SECRET_KEY") {
		t.Fatalf("Verify with another key = %v", err)
	}
}

func TestMAC(t *testing.T) {
	k1, _ := ParseKey(GenerateKey())
	k2, _ := ParseKey(GenerateKey())
	b1, _ := New(k1)
	b2, _ := New(k2)
	first := b1.MAC("a", "123456")
	if again := b1.MAC("a", "123456"); string(first) != string(again) {
		t.Fatal("MAC is not deterministic")
	}
	if string(b1.MAC("a", "123456")) == string(b2.MAC("a", "123456")) {
		t.Fatal("MAC does not depend on the key")
	}
	if string(b1.MAC("a1", "23456")) == string(b1.MAC("a", "123456")) {
		t.Fatal("MAC parts are not separated")
	}
}
