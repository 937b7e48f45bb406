package errs

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error by what the caller should do about it. Each
// surface maps a Kind to its own status code in one place.
type Kind int

// The kinds of error Gatehouse distinguishes.
const (
	Internal        Kind = iota // a bug or an unexpected failure; details stay in the logs
	Invalid                     // the request is malformed or breaks a rule
	NotFound                    // the named thing does not exist (in this environment)
	Conflict                    // the change clashes with existing state
	Unauthenticated             // credentials are missing or wrong
	Forbidden                   // credentials are fine but the action is not allowed
	RateLimited                 // too many attempts; try again later
	Unavailable                 // a dependency (the database) is down; retry
	TooLarge                    // the request body is over the limit
	Unsupported                 // the request's media type is not accepted
)

var kindNames = map[Kind]string{
	Internal: "internal", Invalid: "invalid", NotFound: "not_found", Conflict: "conflict",
	Unauthenticated: "unauthenticated", Forbidden: "forbidden", RateLimited: "rate_limited",
	Unavailable: "unavailable", TooLarge: "too_large", Unsupported: "unsupported",
}

// String returns the kind's snake_case name, used in logs and metrics.
func (k Kind) String() string { return kindNames[k] }

// FieldError names one invalid field of a request and why, as in the
// WorkOS 422 error body ({"field","code"}).
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

// Error is an error with a kind, a stable machine code and a message that is
// safe to show to clients. Err holds the internal cause, which is logged but
// never sent to a client.
type Error struct {
	Kind       Kind
	Code       string
	Message    string
	Fields     []FieldError
	RetryAfter time.Duration // for RateLimited: when to try again
	Err        error
}

// Error returns the public message followed by the internal cause, for logs.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an Error of the given kind with a public code and message.
func New(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// Newf is New with a formatted message.
func Newf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Validation returns an Invalid error listing the fields at fault.
func Validation(fields ...FieldError) *Error {
	msg := "Validation failed"
	if len(fields) > 0 && fields[0].Message != "" {
		msg = fields[0].Message
	}
	return &Error{Kind: Invalid, Code: "invalid_request_parameters", Message: msg, Fields: fields}
}

// KindOf returns the Kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
