package password

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

const (
	// MinLength is the minimum password length in Unicode code points.
	MinLength = 8
	// MaxLength is the maximum password length in Unicode code points.
	MaxLength = 256
)

// Policy error codes, stable for API clients.
const (
	// CodeTooShort is the code for a password shorter than MinLength.
	CodeTooShort = "password_too_short"
	// CodeTooLong is the code for a password longer than MaxLength.
	CodeTooLong = "password_too_long"
	// CodeTooCommon is the code for a password on the common-password list.
	CodeTooCommon = "password_too_common"
	// CodeInvalid is the code for a password that is not valid UTF-8 or
	// contains a NUL character.
	CodeInvalid = "password_invalid"
)

// PolicyError describes why Check refused a password.
type PolicyError struct {
	// Code is one of CodeTooShort, CodeTooLong, CodeTooCommon and
	// CodeInvalid.
	Code string
	// Message explains the refusal in a sentence for the end user.
	Message string
}

// Error returns a description of e for logs.
func (e *PolicyError) Error() string {
	return "password: refused by policy: " + e.Code
}

// Check reports whether password satisfies the password policy. It returns
// nil or a *PolicyError. Length is counted in Unicode code points; the
// password must be valid UTF-8 without NUL characters, and must not be a
// well-known common password, compared case-insensitively.
func Check(password string) error {
	if !utf8.ValidString(password) || strings.IndexByte(password, 0) >= 0 {
		return &PolicyError{
			Code:    CodeInvalid,
			Message: "This password contains characters that can't be used. Choose another.",
		}
	}
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinLength:
		return &PolicyError{
			Code:    CodeTooShort,
			Message: fmt.Sprintf("Choose a password of at least %d characters.", MinLength),
		}
	case n > MaxLength:
		return &PolicyError{
			Code:    CodeTooLong,
			Message: fmt.Sprintf("Choose a password of at most %d characters.", MaxLength),
		}
	case isCommon(password):
		return &PolicyError{
			Code:    CodeTooCommon,
			Message: "This password is too common and easy to guess. Choose another.",
		}
	}
	return nil
}
