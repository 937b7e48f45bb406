package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/store"
)

// MaxBodyBytes bounds every JSON request body.
const MaxBodyBytes = 256 << 10

// Handler is an HTTP handler that returns an error; JSON turns the error
// into a response.
type Handler func(w http.ResponseWriter, r *http.Request) error

// JSON adapts h: an error it returns becomes a JSON error body with the
// status its kind maps to. 5xx errors are logged once, with the request ID.
func JSON(logger *slog.Logger, h Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			WriteError(w, r, logger, err)
		}
	})
}

// errorBody is the WorkOS management-API error shape.
type errorBody struct {
	Message string            `json:"message"`
	Code    string            `json:"code,omitempty"`
	Errors  []errs.FieldError `json:"errors,omitempty"`
}

// Status maps an error kind to its HTTP status code.
func Status(k errs.Kind) int {
	switch k {
	case errs.Invalid:
		return http.StatusBadRequest
	case errs.NotFound:
		return http.StatusNotFound
	case errs.Conflict:
		return http.StatusConflict
	case errs.Unauthenticated:
		return http.StatusUnauthorized
	case errs.Forbidden:
		return http.StatusForbidden
	case errs.RateLimited:
		return http.StatusTooManyRequests
	case errs.Unavailable:
		return http.StatusServiceUnavailable
	case errs.TooLarge:
		return http.StatusRequestEntityTooLarge
	case errs.Unsupported:
		return http.StatusUnsupportedMediaType
	}
	return http.StatusInternalServerError
}

// WriteError writes err as a JSON error. Only the public part of an
// *errs.Error reaches the client; anything else is a 500 with a generic
// message, and its detail goes to the log.
func WriteError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	e, ok := errs.As(err)
	if !ok {
		switch {
		case errors.Is(err, store.ErrUnavailable):
			e = &errs.Error{Kind: errs.Unavailable, Code: "service_unavailable", Message: "The service is temporarily unavailable. Retry shortly.", Err: err}
		case errors.Is(err, context.Canceled):
			// The client went away; nobody reads this response.
			e = &errs.Error{Kind: errs.Unavailable, Code: "request_canceled", Message: "The request was canceled.", Err: err}
		case errors.Is(err, context.DeadlineExceeded):
			e = &errs.Error{Kind: errs.Unavailable, Code: "timeout", Message: "The request timed out. Retry shortly.", Err: err}
		default:
			e = &errs.Error{Kind: errs.Internal, Code: "server_error", Message: "Internal server error.", Err: err}
		}
	}
	status := Status(e.Kind)
	if e.Kind == errs.Invalid && len(e.Fields) > 0 {
		status = http.StatusUnprocessableEntity
	}
	if status >= 500 && !errors.Is(err, context.Canceled) {
		logger.ErrorContext(r.Context(), "request failed", "request_id", RequestID(r.Context()),
			"method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", RetryAfter(e.RetryAfter))
	}
	WriteJSON(w, status, errorBody{Message: e.Message, Code: e.Code, Errors: e.Fields})
}

// WriteOAuthError writes an error in the OAuth token endpoint's shape,
// {"error": code, "error_description": desc} (RFC 6749, 5.2).
func WriteOAuthError(w http.ResponseWriter, status int, code, desc string) {
	WriteJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// WriteJSON writes v with the given status and Content-Type: application/json.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"message":"Internal server error.","code":"server_error"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// DecodeJSON reads a JSON object from the request body into v. An empty
// body counts as {}. It refuses bodies over MaxBodyBytes, non-JSON media
// types (so a browser form cannot post to the API), malformed JSON, trailing
// data, and values of the wrong type, each with a clear error. Unknown
// fields are ignored: SDKs add optional fields over time.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errs.New(errs.Unsupported, "unsupported_media_type", "Send the request body as JSON with Content-Type: application/json.")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errs.Newf(errs.TooLarge, "request_too_large", "The request body is larger than %d bytes.", MaxBodyBytes)
		}
		return &errs.Error{Kind: errs.Invalid, Code: "invalid_body", Message: "The request body could not be read.", Err: err}
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	if body[0] != '{' {
		return errs.New(errs.Invalid, "invalid_json", "The request body must be a JSON object.")
	}
	// encoding/json would quietly turn these into U+FFFD or pass a NUL to
	// the database: refuse them instead.
	if !utf8.Valid(body) || bytes.IndexByte(body, 0) >= 0 || badEscape(body) {
		return errs.New(errs.Invalid, "invalid_text", "The request body contains invalid UTF-8, a NUL character or an unpaired surrogate.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			field := typeErr.Field
			if field == "" {
				field = "body"
			}
			return errs.Validation(errs.FieldError{Field: field, Code: "invalid_type",
				Message: fmt.Sprintf("%s must be %s, not a JSON %s.", field, typeName(typeErr.Type.String()), typeErr.Value)})
		}
		return &errs.Error{Kind: errs.Invalid, Code: "invalid_json", Message: "The request body is not valid JSON.", Err: err}
	}
	if rest := bytes.TrimSpace(body[dec.InputOffset():]); len(rest) > 0 {
		return errs.New(errs.Invalid, "invalid_json", "The request body has data after the JSON object.")
	}
	return nil
}

func typeName(goType string) string {
	goType = strings.TrimPrefix(goType, "*")
	switch {
	case strings.Contains(goType, "string") && strings.HasPrefix(goType, "map"):
		return "an object of strings"
	case strings.Contains(goType, "string"):
		return "a string"
	case strings.Contains(goType, "bool"):
		return "a boolean"
	case strings.Contains(goType, "int"):
		return "an integer"
	}
	return "another type"
}

// badEscape reports whether a JSON text escapes a NUL (\u0000) or an
// unpaired UTF-16 surrogate, which encoding/json would pass on or silently
// replace with U+FFFD.
func badEscape(b []byte) bool {
	hex := func(i int) (rune, bool) {
		if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
			return 0, false
		}
		var r rune
		for _, c := range b[i+2 : i+6] {
			switch {
			case c >= '0' && c <= '9':
				r = r<<4 | rune(c-'0')
			case c >= 'a' && c <= 'f':
				r = r<<4 | rune(c-'a'+10)
			case c >= 'A' && c <= 'F':
				r = r<<4 | rune(c-'A'+10)
			default:
				return 0, false
			}
		}
		return r, true
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		r, ok := hex(i)
		if !ok {
			i++ // skip the escaped character (which may be a backslash)
			continue
		}
		switch {
		case r == 0:
			return true
		case r >= 0xD800 && r <= 0xDBFF:
			low, ok := hex(i + 6)
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return true
			}
			i += 11
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		default:
			i += 5
		}
	}
	return false
}

// Time formats a time as the API does: ISO 8601 UTC with milliseconds.
func Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// RetryAfter formats a wait as whole seconds for a Retry-After header,
// rounding up, at least 1.
func RetryAfter(d time.Duration) string {
	secs := int((d + time.Second - 1) / time.Second)
	return fmt.Sprint(max(secs, 1))
}

// Unavailable reports whether err means a dependency is down, with the
// message to show.
func Unavailable(err error) (string, bool) {
	if errors.Is(err, store.ErrUnavailable) {
		return "The service is temporarily unavailable. Retry shortly.", true
	}
	return "", false
}
