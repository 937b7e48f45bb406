package server

import (
	"bytes"
	"errors"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/web"
)

// browserPath reports whether a path belongs to a browser surface, which
// answers errors with a page rather than JSON.
func browserPath(p string) bool {
	return strings.HasPrefix(p, "/hosted/") || p == "/admin" || strings.HasPrefix(p, "/admin/") || strings.HasPrefix(p, "/_dev/") ||
		p == "/user_management/authorize" || p == "/user_management/sessions/logout"
}

// oauthPath reports whether a path is the token endpoint, which answers
// errors in the OAuth shape whatever encoding its body came in.
func oauthPath(p string) bool { return p == "/user_management/authenticate" }

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Request refused · Gatehouse</title><link rel="stylesheet" href="/assets/style.css"></head>
<body><main class="shell"><section class="card"><h1>Request refused</h1>
<p class="message">{{.Message}}</p><p class="reference">Reference: <code>{{.RequestID}}</code></p>
</section></main></body></html>`))

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
	refuse := func(w http.ResponseWriter, r *http.Request, e *errs.Error) {
		if oauthPath(r.URL.Path) {
			web.WriteOAuthError(w, web.Status(e.Kind), "invalid_request", e.Message)
			return
		}
		if !browserPath(r.URL.Path) {
			web.WriteError(w, r, s.deps.Logger, e)
			return
		}
		status := web.Status(e.Kind)
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		errorPage.Execute(w, map[string]any{"Message": e.Message, "RequestID": web.RequestID(r.Context())})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/healthz", r.URL.Path == "/readyz", r.URL.Path == "/metrics":
			next.ServeHTTP(w, r) // they read nothing from the request
			return
		case r.URL.Path == "/user_management/sessions/logout":
			// Logout must always sign out: its parameters are checked (an ID
			// shape, an exact allow-list) before anything reaches a database.
			next.ServeHTTP(w, r)
			return
		case strings.HasPrefix(r.URL.Path, "/_dev/") && !s.deps.DevInbox:
			next.ServeHTTP(w, r) // no such pages outside gatehouse dev: the mux's 404
			return
		}
		if !cleanText(r.URL.Path) {
			refuse(w, r, errs.New(errs.NotFound, "not_found", "No such page."))
			return
		}
		if r.URL.RawQuery != "" {
			q, err := url.ParseQuery(r.URL.RawQuery)
			if err != nil || !cleanValues(q) {
				refuse(w, r, bad)
				return
			}
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" && r.Body != nil {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBody))
			var tooBig *http.MaxBytesError
			switch {
			case errors.As(err, &tooBig):
				refuse(w, r, errs.Newf(errs.TooLarge, "request_too_large", "The form is larger than %d bytes.", maxFormBody))
				return
			case err != nil:
				refuse(w, r, errs.New(errs.Invalid, "invalid_body", "The request body could not be read."))
				return
			}
			if f, err := url.ParseQuery(string(body)); err != nil || !cleanValues(f) {
				refuse(w, r, bad)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}
