package gatehouse

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinels that errors.Is matches against an *APIError.
var (
	// ErrUnauthorized matches a 401: a missing, wrong or revoked API key,
	// or a client_secret that is not a key of the client's environment.
	ErrUnauthorized = errors.New("gatehouse: unauthorized")
	// ErrNotFound matches a 404.
	ErrNotFound = errors.New("gatehouse: not found")
	// ErrConflict matches a 409, such as a duplicate email or external ID.
	ErrConflict = errors.New("gatehouse: conflict")
	// ErrUnprocessable matches a 422: the request's fields are invalid
	// (see APIError.Errors).
	ErrUnprocessable = errors.New("gatehouse: unprocessable request")
	// ErrRateLimited matches a 429 (see APIError.RetryAfter).
	ErrRateLimited = errors.New("gatehouse: rate limited")
	// ErrInvalidGrant matches an OAuth invalid_grant error at any status:
	// the code or refresh token is unknown, expired, used, or its session
	// has ended. The user must sign in again.
	ErrInvalidGrant = errors.New("gatehouse: invalid grant")
	// ErrEmailVerificationRequired matches a sign-in refused until the user
	// verifies their email: Gatehouse has emailed a code; finish with
	// Client.AuthenticateWithEmailVerification and the error's
	// PendingAuthenticationToken.
	ErrEmailVerificationRequired = errors.New("gatehouse: email verification required")
)

// FieldError is one invalid field of a 422 response.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// APIError is a non-2xx response from the API. Use errors.As to read it,
// and errors.Is with the sentinels above to classify it.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the body's "code" (management API and step-up errors).
	Code string
	// ErrorCode is the body's "error" (OAuth errors such as invalid_grant).
	ErrorCode string
	// Message is the body's "message".
	Message string
	// ErrorDescription is the body's "error_description".
	ErrorDescription string
	// RequestID is the X-Request-ID response header; quote it when asking
	// an operator to look at the server's logs.
	RequestID string
	// Errors are the invalid fields of a 422.
	Errors []FieldError
	// RetryAfter is the Retry-After header (whole seconds), or 0.
	RetryAfter time.Duration
	// PendingAuthenticationToken, EmailVerificationID and Email come with
	// step-up errors such as email_verification_required.
	PendingAuthenticationToken string
	EmailVerificationID        string
	Email                      string
	// RawBody is the response body as received.
	RawBody []byte
}

// Error describes the failure with its status, code, message and request ID.
func (e *APIError) Error() string {
	var sb strings.Builder
	sb.WriteString("gatehouse: ")
	sb.WriteString(strconv.Itoa(e.StatusCode))
	for _, s := range []string{e.Code, e.ErrorCode} {
		if s != "" {
			sb.WriteString(" " + s)
		}
	}
	msg := e.Message
	if msg == "" {
		msg = e.ErrorDescription
	}
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	sb.WriteString(": " + msg)
	for _, f := range e.Errors {
		sb.WriteString("; " + f.Field)
		if f.Message != "" {
			sb.WriteString(": " + f.Message)
		} else if f.Code != "" {
			sb.WriteString(": " + f.Code)
		}
	}
	if e.RequestID != "" {
		sb.WriteString(" (request " + e.RequestID + ")")
	}
	return sb.String()
}

// Is reports whether target is the sentinel for e's class.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	case ErrUnprocessable:
		return e.StatusCode == http.StatusUnprocessableEntity
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrInvalidGrant:
		return e.ErrorCode == "invalid_grant"
	case ErrEmailVerificationRequired:
		return e.Code == "email_verification_required"
	}
	return false
}

// NetworkError is a request that got no HTTP response: the connection
// failed, or the attempt timed out. It unwraps to the transport's error,
// so errors.Is(err, context.DeadlineExceeded) works.
type NetworkError struct {
	Method string
	URL    string // without the query string
	Err    error
}

// Error describes the request and the cause.
func (e *NetworkError) Error() string {
	return "gatehouse: " + e.Method + " " + e.URL + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *NetworkError) Unwrap() error { return e.Err }

// parseAPIError reads a non-2xx response.
func parseAPIError(res *http.Response, body []byte) *APIError {
	e := &APIError{StatusCode: res.StatusCode, RequestID: res.Header.Get("X-Request-ID"), RawBody: body}
	if s := strings.TrimSpace(res.Header.Get("Retry-After")); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	}
	var b struct {
		Code                       string          `json:"code"`
		Error                      string          `json:"error"`
		Message                    string          `json:"message"`
		ErrorDescription           string          `json:"error_description"`
		Errors                     json.RawMessage `json:"errors"`
		PendingAuthenticationToken string          `json:"pending_authentication_token"`
		EmailVerificationID        string          `json:"email_verification_id"`
		Email                      string          `json:"email"`
	}
	if json.Unmarshal(body, &b) != nil {
		return e
	}
	e.Code, e.ErrorCode, e.Message, e.ErrorDescription = b.Code, b.Error, b.Message, b.ErrorDescription
	e.PendingAuthenticationToken, e.EmailVerificationID, e.Email = b.PendingAuthenticationToken, b.EmailVerificationID, b.Email
	if len(b.Errors) > 0 {
		// [{field, code, message}], or, from some servers, a list of strings.
		if json.Unmarshal(b.Errors, &e.Errors) != nil {
			var msgs []string
			if json.Unmarshal(b.Errors, &msgs) == nil {
				for _, m := range msgs {
					e.Errors = append(e.Errors, FieldError{Message: m})
				}
			}
		}
	}
	return e
}

// retryableStatus reports whether a status is worth retrying.
func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// Retryable reports whether err is a transient failure that may succeed if
// tried again later: a network error, a 429, or a 500, 502, 503 or 504.
// The client has already retried such errors up to its retry limit.
func Retryable(err error) bool {
	var ne *NetworkError
	if errors.As(err, &ne) {
		return true
	}
	var ae *APIError
	return errors.As(err, &ae) && retryableStatus(ae.StatusCode)
}
