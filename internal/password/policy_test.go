package password

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		password string
		want     string // error code, "" for accepted
	}{
		{"ok", "correct horse battery staple", ""},
		{"exactly 8", "xk3#mq9z", ""},
		{"exactly 256", strings.Repeat("ab", 128), ""},
		{"unicode 8 runes", "żółwiąść", ""},
		{"emoji 8 runes", "🔒🔑🐉🌋🎲🧩🛶🪁", ""},
		{"256 two-byte runes", strings.Repeat("é", 256), ""},
		{"spaces count", "a b c d ", ""},
		{"empty", "", CodeTooShort},
		{"7 chars", "xk3#mq9", CodeTooShort},
		{"7 runes, 21 bytes", "日本語日本語日", CodeTooShort},
		{"257 chars", strings.Repeat("x", 257), CodeTooLong},
		{"257 two-byte runes", strings.Repeat("é", 257), CodeTooLong},
		{"common", "password", CodeTooCommon},
		{"common digits", "12345678", CodeTooCommon},
		{"common mixed case", "PassWord1", CodeTooCommon},
		{"common upper", "QWERTYUIOP", CodeTooCommon},
		{"common leet", "P@ssw0rd", CodeTooCommon},
		{"common with year", "Summer2024!", CodeTooCommon},
		{"invalid utf-8", "abcdefgh\xff", CodeInvalid},
		{"truncated rune", "abcdefgh\xc3", CodeInvalid},
		{"nul", "abcd\x00efgh", CodeInvalid},
		{"short and nul", "\x00", CodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.password)
			if tt.want == "" {
				if err != nil {
					t.Errorf("Check = %v, want nil", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("Check = %v, want *PolicyError", err)
			}
			if pe.Code != tt.want {
				t.Errorf("Code = %q, want %q", pe.Code, tt.want)
			}
			if pe.Message == "" || !strings.HasSuffix(pe.Message, ".") {
				t.Errorf("Message = %q, want a sentence", pe.Message)
			}
			if !strings.Contains(pe.Error(), pe.Code) {
				t.Errorf("Error() = %q, want it to mention %q", pe.Error(), pe.Code)
			}
		})
	}
}

func TestCheckMessages(t *testing.T) {
	tests := map[string]string{
		"short":     "Choose a password of at least 8 characters.",
		"password1": "This password is too common and easy to guess. Choose another.",
	}
	for pw, want := range tests {
		var pe *PolicyError
		if !errors.As(Check(pw), &pe) || pe.Message != want {
			t.Errorf("Check(%q) message = %v, want %q", pw, pe, want)
		}
	}
}

func TestCommonList(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(commonText, "\n"), "\n")
	if len(lines) < 900 {
		t.Errorf("common.txt has %d entries, want about 1000", len(lines))
	}
	seen := make(map[string]bool, len(lines))
	for i, w := range lines {
		switch {
		case w != strings.TrimSpace(w) || w == "":
			t.Errorf("line %d %q: blank or surrounded by space", i+1, w)
		case w != strings.ToLower(w):
			t.Errorf("line %d %q: not lowercase", i+1, w)
		case utf8.RuneCountInString(w) < MinLength:
			t.Errorf("line %d %q: shorter than MinLength", i+1, w)
		case seen[w]:
			t.Errorf("line %d %q: duplicate", i+1, w)
		}
		seen[w] = true
	}
	if got := len(commonPasswords()); got != len(seen) {
		t.Errorf("loaded %d entries, want %d", got, len(seen))
	}
	for _, w := range []string{
		"password", "password1", "12345678", "123456789", "qwertyuiop", "iloveyou1",
		"sunshine1", "football1", "baseball", "letmein1", "trustno1", "passw0rd",
		"p@ssw0rd", "welcome1", "abc12345", "11111111",
	} {
		if !isCommon(w) {
			t.Errorf("isCommon(%q) = false, want true", w)
		}
	}
}
