package gatehouse

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

const vectorPassword = "this-is-a-test-cookie-password-of-32+chars"

// The reference vector of workos-compat.md §7.2, produced by iron-webcrypto.
const vectorSeal = "Fe26.2*1*aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa*AAECAwQFBgcICQoLDA0ODw*d5lhawo4OX9yB3AOeMYlGp6fRE4WYlrhLRDgGYDMUZaG7EGny1_kLxvogNq6iwm55Ubdt1QaWZjVaucRqxlO1PB0lxXnbYz4JdbI5sIbfFnrkObMOFEmbjeKYzBfReLF7JVoZjpOxnn2GFFx_Cft0A**bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb*JGqpS6oV_Ev6rIgiYTxE7soKg2dfbocQ1yJpqB7h-F8~2"

const vectorPlain = `{"accessToken":"a.b.c","refreshToken":"rt_1","user":{"object":"user","id":"user_1","email":"x@y.z"}}`

func TestIronVector(t *testing.T) {
	if got := hex.EncodeToString(ironKey(vectorPassword, strings.Repeat("a", 64))); got != "5aa26dd06de7acbea2184ffdc931541e654e6c4004508bb305b18a79faf0c6ee" {
		t.Errorf("encKey = %s", got)
	}
	if got := hex.EncodeToString(ironKey(vectorPassword, strings.Repeat("b", 64))); got != "6900626f799e563b77a5880ddf3a8aad5bd6d7e3f51550d1509ec86db35edff3" {
		t.Errorf("macKey = %s", got)
	}
	iv := make([]byte, 16)
	for i := range iv {
		iv[i] = byte(i)
	}
	got := sealWith(vectorPassword, []byte(vectorPlain), strings.Repeat("a", 64), iv, strings.Repeat("b", 64))
	if got != vectorSeal {
		t.Fatalf("seal differs from the reference vector:\n got %s\nwant %s", got, vectorSeal)
	}
	for _, s := range []string{vectorSeal, strings.TrimSuffix(vectorSeal, "~2")} {
		plain, err := unseal(vectorPassword, s, time.Now())
		if err != nil || string(plain) != vectorPlain {
			t.Fatalf("unseal(%.20s…) = %q, %v", s, plain, err)
		}
	}
	// The vector's payload is a session as authkit-session writes it.
	d, err := UnsealSession(vectorSeal, vectorPassword)
	if err != nil || d.AccessToken != "a.b.c" || d.RefreshToken != "rt_1" || d.User.ID != "user_1" || d.User.Email != "x@y.z" {
		t.Fatalf("UnsealSession = %+v, %v", d, err)
	}
}

func TestIronRoundTripAndRandomness(t *testing.T) {
	a, err := seal(vectorPassword, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := seal(vectorPassword, []byte("hello"))
	if a == b {
		t.Fatal("two seals of the same data are equal: salts or IV are not random")
	}
	if !strings.HasSuffix(a, "~2") || strings.Count(a, "*") != 7 || !strings.Contains(a, "**") {
		t.Fatalf("seal shape = %s", a)
	}
	for _, pt := range []string{"", "x", strings.Repeat("y", 16), strings.Repeat("z", 1000)} {
		s, _ := seal(vectorPassword, []byte(pt))
		got, err := unseal(vectorPassword, s, time.Now())
		if err != nil || string(got) != pt {
			t.Fatalf("round trip of %d bytes: %q, %v", len(pt), got, err)
		}
	}
}

func TestIronRejects(t *testing.T) {
	now := time.Now()
	parts := strings.Split(strings.TrimSuffix(vectorSeal, "~2"), "*")
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "*") + "~2"
	}
	// A seal with a future and a past expiry, MAC'd correctly.
	withExp := func(exp string) string {
		p := append([]string(nil), parts...)
		p[5] = exp
		return remac(strings.Join(p[:6], "*"), p[6])
	}
	future := withExp(itoa(now.Add(time.Hour).UnixMilli()))
	if _, err := unseal(vectorPassword, future, now); err != nil {
		t.Fatalf("future expiry refused: %v", err)
	}
	cases := map[string]struct {
		seal string
		want error
	}{
		"wrong password":  {vectorSeal, errSealMAC},
		"tampered ct":     {with(4, "A"+parts[4][1:]), errSealMAC},
		"tampered iv":     {with(3, "AAECAwQFBgcICQoLDA0ODx"), errSealMAC},
		"tampered mac":    {with(7, parts[7][:10]+"x"+parts[7][11:]), errSealMAC},
		"other prefix":    {with(0, "Fe26.1"), errSealFormat},
		"password id":     {with(1, "2"), errSealFormat},
		"empty id":        {with(1, ""), errSealFormat},
		"seven parts":     {strings.Join(parts[:7], "*"), errSealFormat},
		"nine parts":      {vectorSeal[:len(vectorSeal)-2] + "*x~2", errSealFormat},
		"version 1":       {strings.TrimSuffix(vectorSeal, "2") + "1", errSealFormat},
		"bad expiry":      {with(5, "0123"), errSealFormat},
		"expired":         {withExp(itoa(now.Add(-2 * time.Minute).UnixMilli())), errSealExpired},
		"empty":           {"", errSealFormat},
		"garbage":         {"not a seal", errSealFormat},
		"only stars":      {"*******", errSealFormat},
		"bad expiry text": {with(5, "12a"), errSealFormat},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			pw := vectorPassword
			if name == "wrong password" {
				pw = strings.Repeat("x", 32)
			}
			if _, err := unseal(pw, tc.seal, now); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// Within the 60-second skew an expired seal is still accepted, as iron does.
	if _, err := unseal(vectorPassword, withExp(itoa(now.Add(-30*time.Second).UnixMilli())), now); err != nil {
		t.Fatalf("seal within skew refused: %v", err)
	}
}

// remac returns base with a fresh MAC over it, for tests that alter the
// expiry field.
func remac(base, macSalt string) string {
	h := hmacSHA256(ironKey(vectorPassword, macSalt), []byte(base))
	return base + "*" + macSalt + "*" + b64u.EncodeToString(h) + "~2"
}

func TestCookiePasswordLength(t *testing.T) {
	if _, err := seal(strings.Repeat("x", 31), []byte("{}")); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("31-character password: %v", err)
	}
	if _, err := UnsealSession(vectorSeal, "short"); err == nil {
		t.Fatal("short password accepted by UnsealSession")
	}
	// 16 characters outside the BMP are 32 UTF-16 code units, as Node counts.
	if _, err := seal(strings.Repeat("😀", 16), []byte("{}")); err != nil {
		t.Fatalf("32 UTF-16 units refused: %v", err)
	}
}

func FuzzUnseal(f *testing.F) {
	f.Add(vectorSeal)
	f.Add(strings.TrimSuffix(vectorSeal, "~2"))
	f.Add("Fe26.2*1*a*b*c**d*e~2")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		plain, err := unseal(vectorPassword, s, time.Now())
		if err == nil && string(plain) != vectorPlain {
			t.Fatalf("unsealed %q to unexpected plaintext %q", s, plain)
		}
	})
}
