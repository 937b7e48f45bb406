package adminauth

import (
	"strings"
	"testing"
	"time"
)

// RFC 6238 Appendix B, SHA-1 rows; the 6-digit code is the last six digits
// of the 8-digit one.
func TestTOTPVectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, tc := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		at := time.Unix(tc.unix, 0)
		if got := hotp(secret, uint64(tc.unix)/30, 8); got != tc.want {
			t.Errorf("8-digit code at %d = %s, want %s", tc.unix, got, tc.want)
		}
		if got := TOTP(secret, at); got != tc.want[2:] {
			t.Errorf("TOTP at %d = %s, want %s", tc.unix, got, tc.want[2:])
		}
		if !ValidateTOTP(secret, tc.want[2:], at) {
			t.Errorf("ValidateTOTP refused the code at %d", tc.unix)
		}
	}
}

func TestValidateTOTPWindow(t *testing.T) {
	secret := NewTOTPSecret()
	now := time.Unix(1_700_000_000, 0)
	code := TOTP(secret, now)
	for _, tc := range []struct {
		offset time.Duration
		ok     bool
	}{
		{0, true}, {-30 * time.Second, true}, {30 * time.Second, true},
		{-61 * time.Second, false}, {90 * time.Second, false},
	} {
		if got := ValidateTOTP(secret, code, now.Add(tc.offset)); got != tc.ok {
			t.Errorf("code checked at %v offset: %v, want %v", tc.offset, got, tc.ok)
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if ValidateTOTP(secret, bad, now) {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestTOTPSecretRoundTrip(t *testing.T) {
	s := NewTOTPSecret()
	enc := EncodeTOTPSecret(s)
	got, err := DecodeTOTPSecret(strings.ToLower(enc[:8]) + " " + enc[8:])
	if err != nil || string(got) != string(s) {
		t.Fatalf("round trip = %x, %v; want %x", got, err, s)
	}
	uri := TOTPURI("Gatehouse", "a@b.c", s)
	if !strings.HasPrefix(uri, "otpauth://totp/Gatehouse:a@b.c?") || !strings.Contains(uri, "secret="+enc) {
		t.Fatalf("uri = %s", uri)
	}
}

func TestNormalizeEmail(t *testing.T) {
	for in, want := range map[string]string{" Admin@Localhost ": "admin@localhost", "ops@example.com": "ops@example.com"} {
		if got, err := NormalizeEmail(in); err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "nope", "a@", "@b", "Name <a@b.c>", "a@[1.2.3.4]"} {
		if _, err := NormalizeEmail(bad); err == nil {
			t.Errorf("NormalizeEmail(%q) accepted", bad)
		}
	}
}
