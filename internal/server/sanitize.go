package server

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/web"
)

// maxFormBody bounds form-encoded bodies read by sanitize.
const maxFormBody = 256 << 10

// cleanText reports whether s may reach the domain: valid UTF-8, no NUL.
// PostgreSQL refuses both in text, and the rest of Gatehouse should never
// see them either.
func cleanText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

func cleanValues(v url.Values) bool {
	for k, vs := range v {
		if !cleanText(k) {
			return false
		}
		for _, s := range vs {
			if !cleanText(s) {
				return false
			}
		}
	}
	return true
}

// sanitize refuses, before any handler runs, requests whose path, query or
// form body holds invalid UTF-8 or a NUL byte: a clear 400 instead of a
// database error or silently altered text. JSON bodies get the same check
// in web.DecodeJSON.
func (s *Server) sanitize(next http.Handler) http.Handler {
	bad := errs.New(errs.Invalid, "invalid_text", "The request contains invalid UTF-8 or a NUL character.")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !cleanText(r.URL.Path) {
			web.WriteError(w, r, s.deps.Logger, bad)
			return
		}
		if r.URL.RawQuery != "" {
			q, err := url.ParseQuery(r.URL.RawQuery)
			if err != nil || !cleanValues(q) {
				web.WriteError(w, r, s.deps.Logger, bad)
				return
			}
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" && r.Body != nil {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBody))
			var tooBig *http.MaxBytesError
			switch {
			case errors.As(err, &tooBig):
				web.WriteError(w, r, s.deps.Logger, errs.Newf(errs.TooLarge, "request_too_large", "The form is larger than %d bytes.", maxFormBody))
				return
			case err != nil:
				web.WriteError(w, r, s.deps.Logger, errs.New(errs.Invalid, "invalid_body", "The request body could not be read."))
				return
			}
			if f, err := url.ParseQuery(string(body)); err != nil || !cleanValues(f) {
				web.WriteError(w, r, s.deps.Logger, bad)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}
