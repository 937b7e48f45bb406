package password

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	native "github.com/gatehouse/gatehouse/internal/password/argon2"
)

// testParams are cheap parameters so that tests run quickly.
var testParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func mustHash(t *testing.T, h *Hasher, password string) string {
	t.Helper()
	enc, err := h.Hash(t.Context(), password)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	return enc
}

func TestHashVerify(t *testing.T) {
	h := NewHasher(testParams, 0)
	enc := mustHash(t, h, "correct horse battery staple")

	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(enc) {
		t.Errorf("Hash = %q, not a PHC string with the test parameters", enc)
	}
	if again := mustHash(t, h, "correct horse battery staple"); again == enc {
		t.Error("two hashes of the same password are equal; salt not random")
	}

	tests := []struct {
		name     string
		password string
		wantOK   bool
	}{
		{"right", "correct horse battery staple", true},
		{"wrong", "correct horse battery stapler", false},
		{"case", "Correct horse battery staple", false},
		{"empty", "", false},
		{"too long", strings.Repeat("x", maxPasswordBytes+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(t.Context(), enc, tt.password)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if ok != tt.wantOK || rehash {
				t.Errorf("Verify = %v, %v; want %v, false", ok, rehash, tt.wantOK)
			}
		})
	}
}

func TestHashRejects(t *testing.T) {
	h := NewHasher(testParams, 1)
	for _, pw := range []string{"", strings.Repeat("x", maxPasswordBytes+1)} {
		if _, err := h.Hash(t.Context(), pw); err == nil {
			t.Errorf("Hash(%d bytes) succeeded, want error", len(pw))
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := h.Hash(ctx, "password"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash with cancelled context: err = %v, want context.Canceled", err)
	}
	if _, _, err := h.Verify(ctx, h.dummy, "password"); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with cancelled context: err = %v, want context.Canceled", err)
	}
}

func TestPHCRoundTrip(t *testing.T) {
	p := Params{Memory: 256, Time: 3, Threads: 2, SaltLen: 24, KeyLen: 48}
	h := NewHasher(p, 1)
	enc := mustHash(t, h, "round trip")
	ph, err := parseHash(enc, &h.limits)
	if err != nil {
		t.Fatalf("parseHash: %v", err)
	}
	a, ok := ph.(*argon2Hash)
	if !ok {
		t.Fatalf("parseHash returned %T, want *argon2Hash", ph)
	}
	got := Params{Memory: a.memory, Time: a.time, Threads: a.threads, SaltLen: uint32(len(a.salt)), KeyLen: uint32(len(a.key))}
	if diff := cmp.Diff(p, got); diff != "" {
		t.Errorf("parsed parameters (-want +got):\n%s", diff)
	}
	if a.mode != modeArgon2id || a.version != argon2.Version {
		t.Errorf("mode, version = %d, %#x; want %d, %#x", a.mode, a.version, modeArgon2id, argon2.Version)
	}
	if re := a.encode(); re != enc {
		t.Errorf("re-encoded = %q, want %q", re, enc)
	}
}

// phc builds a PHC string by hand, independently of encode.
func phc(alg string, version, m, t, p int, salt, key []byte) string {
	v := ""
	if version != 0 {
		v = fmt.Sprintf("$v=%d", version)
	}
	return fmt.Sprintf("$%s%s$m=%d,t=%d,p=%d$%s$%s", alg, v, m, t, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func TestNeedsRehash(t *testing.T) {
	const pw = "rehash me please"
	h := NewHasher(testParams, 0)
	other := func(mod func(*Params)) string {
		p := testParams
		mod(&p)
		return mustHash(t, NewHasher(p, 1), pw)
	}
	salt := []byte("0123456789abcdef")
	bc, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		encoded    string
		wantRehash bool
	}{
		{"current", mustHash(t, h, pw), false},
		{"memory", other(func(p *Params) { p.Memory = 128 }), true},
		{"time", other(func(p *Params) { p.Time = 2 }), true},
		{"threads", other(func(p *Params) { p.Threads = 2 }), true},
		{"salt length", other(func(p *Params) { p.SaltLen = 32 }), true},
		{"key length", other(func(p *Params) { p.KeyLen = 16 }), true},
		{"argon2i", phc("argon2i", 19, 64, 1, 1, salt, argon2.Key([]byte(pw), salt, 1, 64, 1, 32)), true},
		{"bcrypt", string(bc), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(t.Context(), tt.encoded, pw)
			if err != nil || !ok || rehash != tt.wantRehash {
				t.Errorf("Verify = %v, %v, %v; want true, %v, nil", ok, rehash, err, tt.wantRehash)
			}
			// A wrong password never asks for a rehash.
			ok, rehash, err = h.Verify(t.Context(), tt.encoded, pw+"x")
			if err != nil || ok || rehash {
				t.Errorf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

func TestVerifyKnownVectors(t *testing.T) {
	h := NewHasher(DefaultParams, 0)

	pw := []byte("hunter2 but longer")
	salt := []byte("saltysaltysalty!")
	bc, err := bcrypt.GenerateFromPassword(pw, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	bcs := string(bc)

	tests := []struct {
		name     string
		encoded  string
		password string
		big      bool // 64 MiB; skipped in short mode and under the race detector
	}{
		// Made here with x/crypto.
		{"bcrypt 2a", bcs, string(pw), false},
		{"bcrypt 2b", "$2b$" + bcs[4:], string(pw), false},
		{"bcrypt 2y", "$2y$" + bcs[4:], string(pw), false},
		{"argon2id", phc("argon2id", 19, 256, 2, 2, salt, argon2.IDKey(pw, salt, 2, 256, 2, 32)), string(pw), false},
		{"argon2i", phc("argon2i", 19, 256, 2, 2, salt, argon2.Key(pw, salt, 2, 256, 2, 32)), string(pw), false},
		{"argon2id 64-byte key", phc("argon2id", 19, 100, 3, 3, salt, argon2.IDKey(pw, salt, 3, 100, 3, 64)), string(pw), false},

		// From the crypt_blowfish test suite.
		{"crypt_blowfish", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U", false},

		// From the Argon2 reference implementation's test.c.
		{"ref argon2i v19 m=64Mi", "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA", "password", true},
		{"ref argon2i v19 m=256", "$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8", "password", false},
		{"ref argon2i v19 p=2", "$argon2i$v=19$m=256,t=2,p=2$c29tZXNhbHQ$T/XOJ2mh1/TIpJHfCdQan76Q5esCFVoT5MAeIM1Oq2E", "password", false},
		{"ref argon2id v19 m=64Mi", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.big && (testing.Short() || raceEnabled) {
				t.Skip("64 MiB vector skipped in short mode and under -race")
			}
			ok, rehash, err := h.Verify(t.Context(), tt.encoded, tt.password)
			if err != nil || !ok || !rehash {
				t.Errorf("Verify(right) = %v, %v, %v; want true, true, nil", ok, rehash, err)
			}
			if tt.big {
				return
			}
			ok, _, err = h.Verify(t.Context(), tt.encoded, tt.password+"!")
			if err != nil || ok {
				t.Errorf("Verify(wrong) = %v, %v; want false, nil", ok, err)
			}
		})
	}
}

func TestVerifyBadHashes(t *testing.T) {
	const salt16 = "c29tZXNhbHRzb21lc2FsdA" // 16 bytes
	const key32 = "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	const bc = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
	a := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt16 + "$" + key32 }

	tests := []struct {
		name    string
		encoded string
		want    error
	}{
		{"empty", "", ErrMalformedHash},
		{"garbage", "not a hash", ErrMalformedHash},
		{"no dollar", "argon2id$v=19$m=64,t=1,p=1$" + salt16 + "$" + key32, ErrMalformedHash},
		{"only dollar", "$", ErrMalformedHash},
		{"truncated argon2", a("m=64,t=1,p=1")[:40], ErrMalformedHash},
		{"missing key", "$argon2id$v=19$m=64,t=1,p=1$" + salt16, ErrMalformedHash},
		{"empty key", "$argon2id$v=19$m=64,t=1,p=1$" + salt16 + "$", ErrMalformedHash},
		{"extra field", a("m=64,t=1,p=1") + "$x", ErrMalformedHash},
		{"bad base64 salt", "$argon2id$v=19$m=64,t=1,p=1$c29tZX*hbHRzb21lc2FsdA$" + key32, ErrMalformedHash},
		{"bad base64 key", "$argon2id$v=19$m=64,t=1,p=1$" + salt16 + "$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPP", ErrMalformedHash},
		{"padded base64", a("m=64,t=1,p=1") + "=", ErrMalformedHash},
		{"non-canonical base64", "$argon2id$v=19$m=64,t=1,p=1$" + salt16 + "$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPd", ErrMalformedHash},
		{"newline in base64", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRz\nb21lc2FsdA$" + key32, ErrMalformedHash},
		{"short salt", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + key32, ErrMalformedHash},
		{"short key", "$argon2id$v=19$m=64,t=1,p=1$" + salt16 + "$c2FsdA", ErrMalformedHash},
		{"long key", "$argon2id$v=19$m=64,t=1,p=1$" + salt16 + "$" + strings.Repeat("A", 88), ErrMalformedHash},
		{"m=0", a("m=0,t=1,p=1"), ErrMalformedHash},
		{"m below 8p", a("m=15,t=1,p=2"), ErrMalformedHash},
		{"t=0", a("m=64,t=0,p=1"), ErrMalformedHash},
		{"p=0", a("m=64,t=1,p=0"), ErrMalformedHash},
		{"huge m", a("m=4294967295,t=1,p=1"), ErrMalformedHash},
		{"overflowing m", a("m=99999999999,t=1,p=1"), ErrMalformedHash},
		{"huge t", a("m=64,t=4294967295,p=1"), ErrMalformedHash},
		{"huge p", a("m=65536,t=1,p=255"), ErrMalformedHash},
		{"p beyond uint8", a("m=65536,t=1,p=257"), ErrMalformedHash},
		{"m over limit", a("m=262145,t=1,p=1"), ErrMalformedHash},
		{"t over limit", a("m=64,t=17,p=1"), ErrMalformedHash},
		{"negative", a("m=-64,t=1,p=1"), ErrMalformedHash},
		{"plus sign", a("m=+64,t=1,p=1"), ErrMalformedHash},
		{"leading zero", a("m=064,t=1,p=1"), ErrMalformedHash},
		{"empty value", a("m=,t=1,p=1"), ErrMalformedHash},
		{"params out of order", a("t=1,m=64,p=1"), ErrMalformedHash},
		{"missing param", a("m=64,t=1"), ErrMalformedHash},
		{"extra param", a("m=64,t=1,p=1,keyid=AAAA"), ErrMalformedHash},
		{"wrong version", "$argon2id$v=18$m=64,t=1,p=1$" + salt16 + "$" + key32, ErrMalformedHash},
		{"version 20", "$argon2id$v=20$m=64,t=1,p=1$" + salt16 + "$" + key32, ErrMalformedHash},
		{"empty version", "$argon2id$v=$m=64,t=1,p=1$" + salt16 + "$" + key32, ErrMalformedHash},
		{"version misplaced", "$argon2id$m=64,t=1,p=1$v=19$" + salt16 + "$" + key32, ErrMalformedHash},
		{"trailing space", a("m=64,t=1,p=1") + " ", ErrMalformedHash},
		{"too long", a("m=64,t=1,p=1") + strings.Repeat("A", maxEncodedLen), ErrMalformedHash},
		{"bcrypt truncated", bc[:59], ErrMalformedHash},
		{"bcrypt too long", bc + "A", ErrMalformedHash},
		{"bcrypt cost 03", "$2a$03" + bc[6:], ErrMalformedHash},
		{"bcrypt cost 17", "$2a$17" + bc[6:], ErrMalformedHash},
		{"bcrypt cost 31", "$2a$31" + bc[6:], ErrMalformedHash},
		{"bcrypt cost letters", "$2a$ab" + bc[6:], ErrMalformedHash},
		{"bcrypt one-digit cost", "$2a$5$" + bc[7:] + "C", ErrMalformedHash},
		{"bcrypt bad char", bc[:30] + "*" + bc[31:], ErrMalformedHash},
		{"bcrypt non-ascii", bc[:58] + "é", ErrMalformedHash},
		{"argon2d", "$argon2d$v=19$m=64,t=1,p=1$" + salt16 + "$" + key32, ErrUnsupportedHashType},
		{"bcrypt 2x", "$2x$" + bc[4:], ErrUnsupportedHashType},
		{"bcrypt 2", "$2$" + bc[4:], ErrUnsupportedHashType},
		{"scrypt", "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E", ErrUnsupportedHashType},
		{"pbkdf2", "$pbkdf2-sha256$29000$N2bsnfP.PwfGfy8Ut3t1Ew$8QxrQ0n9Lo0Gb9vSnMVh5Bf+cGyXsiqKOkHeu7nshyY", ErrUnsupportedHashType},
	}
	h := NewHasher(testParams, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(t.Context(), tt.encoded, "password")
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify err = %v, want %v", err, tt.want)
			}
			if ok || rehash {
				t.Errorf("Verify = %v, %v; want false, false", ok, rehash)
			}
		})
	}
}

func TestErrorsDoNotQuoteHash(t *testing.T) {
	const secret = "c3VwZXJzZWNyZXRzYWx0"
	for _, enc := range []string{
		"$argon2id$v=19$m=64,t=1,p=1$" + secret + "$" + secret + "*",
		"$argon2id$v=19$m=0,t=1,p=1$" + secret + "$" + secret,
	} {
		_, err := ValidateImported("argon2", enc)
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("ValidateImported err = %v, want an error not quoting the hash", err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	h := NewHasher(testParams, 1)
	salt := []byte("somesaltsomesalt")
	f.Add(mustHashF(f, h, "password"), "password")
	f.Add(phc("argon2i", 0, 64, 2, 2, salt, make([]byte, 32)), "password")
	f.Add(phc("argon2id", 16, 64, 1, 1, salt, make([]byte, 32)), "x")
	f.Add("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U")
	f.Add("$argon2id$v=19$m=0,t=0,p=0$$", "")
	f.Add("$2b$", "")
	f.Add("", "")
	// Keep each verification cheap so the fuzzer can explore parsing.
	h.limits.maxMemory, h.limits.maxTime, h.limits.maxThreads = 1024, 2, 4
	h.limits.maxBcryptCost = 5
	def := NewHasher(DefaultParams, 1)

	f.Fuzz(func(t *testing.T, encoded, password string) {
		ok, rehash, err := h.Verify(t.Context(), encoded, password)
		if err != nil && (ok || rehash) {
			t.Errorf("Verify = %v, %v, %v; want false, false with an error", ok, rehash, err)
		}
		if rehash && !ok {
			t.Error("needsRehash without a match")
		}
		for _, typ := range []string{"argon2", "bcrypt"} {
			got, err := ValidateImported(typ, encoded)
			if err != nil {
				continue
			}
			if got != encoded {
				t.Errorf("ValidateImported changed the hash")
			}
			// Whatever can be imported can be verified.
			if _, err := parseHash(encoded, &def.limits); err != nil {
				t.Errorf("imported hash does not parse for Verify: %v", err)
			}
		}
	})
}

func mustHashF(f *testing.F, h *Hasher, password string) string {
	enc, err := h.Hash(context.Background(), password)
	if err != nil {
		f.Fatal(err)
	}
	return enc
}

func TestValidateImported(t *testing.T) {
	const bc = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
	const salt8 = "c29tZXNhbHQ"
	const key32 = "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	salt64 := base64.RawStdEncoding.EncodeToString(make([]byte, 64))
	salt65 := base64.RawStdEncoding.EncodeToString(make([]byte, 65))
	key16 := base64.RawStdEncoding.EncodeToString(make([]byte, 16))
	key15 := base64.RawStdEncoding.EncodeToString(make([]byte, 15))
	key64 := base64.RawStdEncoding.EncodeToString(make([]byte, 64))
	salt7 := base64.RawStdEncoding.EncodeToString(make([]byte, 7))
	a := func(params, salt, key string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }

	tests := []struct {
		name     string
		hashType string
		hash     string
		want     error // nil for accepted
	}{
		{"bcrypt 2a", "bcrypt", bc, nil},
		{"bcrypt 2b", "bcrypt", "$2b$" + bc[4:], nil},
		{"bcrypt 2y", "bcrypt", "$2y$" + bc[4:], nil},
		{"bcrypt cost 4", "bcrypt", "$2b$04" + bc[6:], nil},
		{"bcrypt cost 16", "bcrypt", "$2b$16" + bc[6:], nil},
		{"bcrypt cost 3", "bcrypt", "$2b$03" + bc[6:], ErrMalformedHash},
		{"bcrypt cost 17", "bcrypt", "$2b$17" + bc[6:], ErrMalformedHash},
		{"bcrypt 59 chars", "bcrypt", bc[:59], ErrMalformedHash},
		{"bcrypt 61 chars", "bcrypt", bc + ".", ErrMalformedHash},
		{"bcrypt 2x", "bcrypt", "$2x$" + bc[4:], ErrUnsupportedHashType},
		{"bcrypt empty", "bcrypt", "", ErrMalformedHash},
		{"bcrypt given argon2", "bcrypt", a("m=65536,t=3,p=4", salt8, key32), ErrMalformedHash},
		{"argon2id", "argon2", a("m=65536,t=3,p=4", salt8, key32), nil},
		{"argon2i", "argon2", "$argon2i$v=19$m=4096,t=3,p=1$" + salt8 + "$" + key32, nil},
		{"argon2i v16", "argon2", "$argon2i$m=65536,t=2,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ", ErrUnsupportedHashType},
		{"argon2id v16 explicit", "argon2", "$argon2id$v=16$m=256,t=2,p=1$c29tZXNhbHQ$2gcOV25Q8vOKPIl8vdxsf7QCjocJcf+erntOGHkpXm4", ErrUnsupportedHashType},
		{"argon2 at limits", "argon2", a("m=262144,t=16,p=16", salt64, key64), nil},
		{"argon2 min lengths", "argon2", a("m=64,t=1,p=1", salt8, key16), nil},
		{"argon2 memory over", "argon2", a("m=262145,t=1,p=1", salt8, key32), ErrMalformedHash},
		{"argon2 time over", "argon2", a("m=65536,t=17,p=1", salt8, key32), ErrMalformedHash},
		{"argon2 threads over", "argon2", a("m=65536,t=1,p=17", salt8, key32), ErrMalformedHash},
		{"argon2 salt short", "argon2", a("m=64,t=1,p=1", salt7, key32), ErrMalformedHash},
		{"argon2 salt long", "argon2", a("m=64,t=1,p=1", salt65, key32), ErrMalformedHash},
		{"argon2 key short", "argon2", a("m=64,t=1,p=1", salt8, key15), ErrMalformedHash},
		{"argon2 given bcrypt", "argon2", bc, ErrMalformedHash},
		{"argon2d", "argon2", "$argon2d$v=19$m=64,t=1,p=1$" + salt8 + "$" + key32, ErrUnsupportedHashType},
		{"argon2 garbage", "argon2", "hello", ErrMalformedHash},
		{"firebase-scrypt", "firebase-scrypt", "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==", ErrUnsupportedHashType},
		{"ssha", "ssha", "{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", ErrUnsupportedHashType},
		{"scrypt", "scrypt", "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E", ErrUnsupportedHashType},
		{"pbkdf2", "pbkdf2", "$pbkdf2-sha256$29000$N2bsnfP.PwfGfy8Ut3t1Ew$8QxrQ0n9Lo0Gb9vSnMVh5Bf+cGyXsiqKOkHeu7nshyY", ErrUnsupportedHashType},
		{"unknown", "md5", "5f4dcc3b5aa765d61d8327deb882cf99", ErrUnsupportedHashType},
		{"empty type", "", bc, ErrUnsupportedHashType},
		{"type case", "BCRYPT", bc, ErrUnsupportedHashType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ValidateImported(tt.hashType, tt.hash)
			if tt.want == nil {
				if err != nil || got != tt.hash {
					t.Errorf("ValidateImported = %q, %v; want the hash unchanged, nil", got, err)
				}
				return
			}
			if !errors.Is(err, tt.want) || got != "" {
				t.Errorf("ValidateImported = %q, %v; want \"\", %v", got, err, tt.want)
			}
		})
	}
}

func TestImportedHashesVerify(t *testing.T) {
	// A hash made elsewhere with costs above DefaultParams (argon2-cffi's
	// defaults) imports and verifies, asking for a rehash.
	pw := []byte("imported user")
	salt := []byte("0123456789abcdef")
	enc := phc("argon2id", 19, 65536, 3, 4, salt, argon2.IDKey(pw, salt, 3, 65536, 4, 32))
	if _, err := ValidateImported("argon2", enc); err != nil {
		t.Fatalf("ValidateImported: %v", err)
	}
	h := NewHasher(DefaultParams, 4)
	ok, rehash, err := h.Verify(t.Context(), enc, string(pw))
	if err != nil || !ok || !rehash {
		t.Errorf("Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	for _, limit := range []int{1, 3} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			h := NewHasher(testParams, limit)
			var active, peak atomic.Int32
			h.testEnter = func() {
				n := active.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				time.Sleep(2 * time.Millisecond)
			}
			h.testExit = func() { active.Add(-1) }

			var wg sync.WaitGroup
			for i := range 12 {
				wg.Go(func() {
					if i%2 == 0 {
						mustHash(t, h, "concurrent")
					} else {
						h.DummyVerify(t.Context(), "concurrent")
					}
				})
			}
			wg.Wait()
			if got := peak.Load(); got > int32(limit) || got < 1 {
				t.Errorf("peak concurrent computations = %d, want 1..%d", got, limit)
			}
		})
	}
}

func TestWaitingHonoursContext(t *testing.T) {
	h := NewHasher(testParams, 1)
	entered := make(chan struct{})
	unblock := make(chan struct{})
	var calls atomic.Int32
	h.testEnter = func() {
		if calls.Add(1) == 1 {
			close(entered)
			<-unblock
		}
	}

	first := make(chan error, 1)
	go func() {
		_, err := h.Hash(context.Background(), "first")
		first <- err
	}()
	<-entered

	// The slot is taken: a second call must wait, and give up with its
	// context.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(ctx, "second"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Hash while busy: err = %v, want context.DeadlineExceeded", err)
	}
	ctx, cancel = context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, _, err := h.Verify(ctx, h.dummy, "third")
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Verify returned %v while the only slot was taken", err)
	case <-time.After(20 * time.Millisecond):
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Verify after cancel: err = %v, want context.Canceled", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d computations started, want 1", n)
	}

	close(unblock)
	if err := <-first; err != nil {
		t.Errorf("first Hash: %v", err)
	}
	// The slot is free again.
	mustHash(t, h, "fourth")
}

func TestWeight(t *testing.T) {
	h := NewHasher(DefaultParams, 4)
	salt, key := make([]byte, 16), make([]byte, 32)
	tests := []struct {
		name string
		ph   parsedHash
		want int64
	}{
		{"bcrypt", &bcryptHash{}, 1},
		{"current", &argon2Hash{memory: 19456, threads: 1, salt: salt, key: key}, 1},
		{"cheaper", &argon2Hash{memory: 64, threads: 1}, 1},
		{"twice the memory", &argon2Hash{memory: 2 * 19456, threads: 1}, 2},
		{"a bit more memory", &argon2Hash{memory: 19457, threads: 1}, 2},
		{"three lanes", &argon2Hash{memory: 19456, threads: 3}, 3},
		{"capped", &argon2Hash{memory: 262144, threads: 16}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.weight(tt.ph); got != tt.want {
				t.Errorf("weight = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestDummyVerify(t *testing.T) {
	h := NewHasher(testParams, 1)
	ph, err := parseHash(h.dummy, &h.limits)
	if err != nil {
		t.Fatalf("dummy hash does not parse: %v", err)
	}
	if !h.isCurrent(ph) {
		t.Errorf("dummy hash %q does not have the hasher's parameters", h.dummy)
	}
	var computed atomic.Int32
	h.testEnter = func() { computed.Add(1) }
	h.DummyVerify(t.Context(), "anything at all")
	if n := computed.Load(); n != 1 {
		t.Errorf("DummyVerify ran %d computations, want 1", n)
	}
	if other := NewHasher(testParams, 1); other.dummy == h.dummy {
		t.Error("two hashers share a dummy hash")
	}
}

// TestSetOwnProcessors: the Hasher passes what SetOwnProcessors set to the
// block memory of each computation, as KeepProcessor (whose effect the
// argon2 package's TestKeepProcessor shows).
func TestSetOwnProcessors(t *testing.T) {
	h := NewHasher(testParams, 1)
	for _, own := range []bool{true, false, true} {
		h.SetOwnProcessors(own)
		var keep bool
		if err := h.run(t.Context(), 1, func(mem *native.Memory) { keep = mem.KeepProcessor }); err != nil {
			t.Fatal(err)
		}
		if keep != own || h.OwnProcessors() != own {
			t.Errorf("SetOwnProcessors(%v): the computation's KeepProcessor is %v, OwnProcessors %v", own, keep, h.OwnProcessors())
		}
	}
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(*Params)
		valid bool
	}{
		{"default", func(*Params) {}, true},
		{"time 0", func(p *Params) { p.Time = 0 }, false},
		{"threads 0", func(p *Params) { p.Threads = 0 }, false},
		{"memory below 8p", func(p *Params) { p.Memory, p.Threads = 15, 2 }, false},
		{"salt 8", func(p *Params) { p.SaltLen = 8 }, false},
		{"salt 65", func(p *Params) { p.SaltLen = 65 }, false},
		{"key 8", func(p *Params) { p.KeyLen = 8 }, false},
		{"key 65", func(p *Params) { p.KeyLen = 65 }, false},
		{"big memory", func(p *Params) { p.Memory = 1 << 20 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultParams
			tt.mod(&p)
			if err := p.Validate(); (err == nil) != tt.valid {
				t.Errorf("Validate = %v, want valid %v", err, tt.valid)
			}
		})
	}
	defer func() {
		if recover() == nil {
			t.Error("NewHasher with invalid params did not panic")
		}
	}()
	NewHasher(Params{}, 1)
}

func TestHasherAboveImportLimits(t *testing.T) {
	// A Hasher configured above the import caps still verifies its own
	// hashes.
	p := Params{Memory: 64, Time: 20, Threads: 1, SaltLen: 16, KeyLen: 32}
	h := NewHasher(p, 1)
	enc := mustHash(t, h, "slow and steady")
	if ok, rehash, err := h.Verify(t.Context(), enc, "slow and steady"); !ok || rehash || err != nil {
		t.Errorf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	if _, err := ValidateImported("argon2", enc); !errors.Is(err, ErrMalformedHash) {
		t.Errorf("ValidateImported err = %v, want ErrMalformedHash", err)
	}
}

func BenchmarkHash(b *testing.B) {
	h := NewHasher(DefaultParams, 1)
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

// benchVerify hashes a password with a Hasher of the default parameters
// and one slot, and returns a function that verifies it against the hash.
func benchVerify(b *testing.B) func() error {
	h := NewHasher(DefaultParams, 1)
	const pw = "correct horse battery staple"
	enc, err := h.Hash(context.Background(), pw)
	if err != nil {
		b.Fatal(err)
	}
	return func() error {
		ok, _, err := h.Verify(context.Background(), enc, pw)
		if !ok && err == nil {
			err = errors.New("the right password did not verify")
		}
		return err
	}
}

func BenchmarkVerify(b *testing.B) {
	verify := benchVerify(b)
	for b.Loop() {
		if err := verify(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyQueued verifies with four callers for one slot, as in a
// sign-in storm: each computation ends with another waiting, so it leaves
// its blocks for that one to overwrite instead of clearing them (see
// memPool). Compare with BenchmarkVerify, one caller, where every
// computation clears its memory.
func BenchmarkVerifyQueued(b *testing.B) {
	verify := benchVerify(b)
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := verify(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// A panic during the computation reaches the caller, where net/http's
// recovery (or the caller's own) can handle it, and the slot is freed.
func TestComputePanicReachesCaller(t *testing.T) {
	h := NewHasher(testParams, 1)
	h.testEnter = func() { panic("boom") }
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the computation's panic", p)
			}
		}()
		mustHash(t, h, "a password")
		t.Error("Hash returned after its computation panicked")
	}()
	h.testEnter = nil
	done := make(chan struct{})
	go func() { mustHash(t, h, "a password"); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the slot was not freed after the panic")
	}
}

// A computation that ends its goroutine (t.FailNow in a hook, say) does
// not leave its caller waiting forever.
func TestComputeGoexitReachesCaller(t *testing.T) {
	h := NewHasher(testParams, 1)
	h.testEnter = runtime.Goexit
	func() {
		defer func() {
			if p := recover(); p != errGoexit {
				t.Errorf("recovered %v, want errGoexit", p)
			}
		}()
		mustHash(t, h, "a password")
		t.Error("Hash returned after its computation's goroutine ended")
	}()
}
