package users_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/users"
)

// FuzzNormalizeEmail: NormalizeEmail never panics; it refuses with a
// validation error on the email field, or returns the input trimmed and
// lowercased (never otherwise rewritten), which is idempotent, valid
// UTF-8, at most 254 bytes, one @ with a dotted domain, and free of
// spaces, control and format characters. Input that is not valid UTF-8 is refused
// (it must not be stored with U+FFFD in place of its bytes).
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{
		"ada@example.com", " Ada@Example.COM ", "ADA@EXAMPLE.COM", "ada+tag@example.com", "o'brien@example.com",
		"ada@example.com.", "ada@example..com", ".ada@example.com", "<ada@example.com>", "Ada <ada@example.com>",
		`"ada"@example.com`, "ada@[127.0.0.1]", "ada@localhost", "ada@example.com\x00", "ａｄａ@example.com", "аda@example.com",
		"\u212Aate@example.com", "ada\u200b@example.com", "İ@example.com", "ada@exаmple.com", "", " ", "@", "a@b.c",
		strings.Repeat("a", 64) + "@example.com", strings.Repeat("a", 65) + "@example.com", "a@" + strings.Repeat("b", 250) + ".com",
		"ada@example.com\r\nBcc: eve@evil.com", "ada(comment)@example.com", "ada@example.com (Ada)",
		"ada\u2000@example.com", "ada\u202e@example.com", "ada@exa\u00a0mple.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := users.NormalizeEmail(in)
		if err != nil {
			e, ok := errs.As(err)
			if !ok || e.Kind != errs.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != "email" {
				t.Fatalf("NormalizeEmail(%q) error %#v is not a validation error on email", in, err)
			}
			if out != "" {
				t.Fatalf("NormalizeEmail(%q) = %q with an error", in, out)
			}
			return
		}
		if !utf8.ValidString(in) {
			t.Fatalf("NormalizeEmail(%q) accepted invalid UTF-8 as %q", in, out)
		}
		if out != strings.ToLower(strings.TrimSpace(in)) {
			t.Fatalf("NormalizeEmail(%q) = %q, more than trimmed and lowercased", in, out)
		}
		if again, err := users.NormalizeEmail(out); err != nil || again != out {
			t.Fatalf("NormalizeEmail(%q) = %q, but NormalizeEmail(%q) = %q, %v", in, out, out, again, err)
		}
		if strings.ToLower(out) != out || len(out) > users.MaxEmailLength || strings.Count(out, "@") != 1 {
			t.Fatalf("NormalizeEmail(%q) = %q", in, out)
		}
		if i := strings.IndexFunc(out, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }); i >= 0 {
			t.Fatalf("NormalizeEmail(%q) = %q holds a space, control or format character", in, out)
		}
		local, domain, _ := strings.Cut(out, "@")
		if local == "" || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
			t.Fatalf("NormalizeEmail(%q) = %q", in, out)
		}
	})
}
