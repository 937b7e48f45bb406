package admin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/adminauth"
	"github.com/gatehouse/gatehouse/internal/errs"
)

// Cookie names. Both are scoped to /admin, so the hosted pages and the API
// never see them, and neither is the gh_<env> cookie of an end user.
const (
	sessionCookie = "gh_admin"
	csrfCookie    = "gh_admin_csrf"
)

// csrfToken returns the browser's CSRF token, setting a new one if absent.
func (h *Handler) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	b := make([]byte, 32)
	rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: tok, Path: "/admin", HttpOnly: true,
		Secure: h.SecureCookies, SameSite: http.SameSiteStrictMode})
	return tok
}

// checkCSRF reports whether a POST carries the browser's CSRF token in its
// form and was not sent cross-site.
func checkCSRF(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	c := cookieValue(r, csrfCookie)
	form := r.PostFormValue("csrf_token")
	if len(c) != 43 || len(form) != 43 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(form), []byte(c)) == 1
}

// maxFormBytes bounds dashboard form bodies.
const maxFormBytes = 64 << 10

// parseForm reads a urlencoded form body, refusing big and multipart ones.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		return errs.New(errs.Unsupported, "unsupported_media_type", "The dashboard only accepts plain forms.")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errs.New(errs.TooLarge, "too_large", "The form is too large.")
		}
		return errs.New(errs.Invalid, "invalid_form", "The form could not be read. Go back and try again.")
	}
	return nil
}

func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

func (h *Handler) setSessionCookie(w http.ResponseWriter, tok string) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/admin", HttpOnly: true,
		Secure: h.SecureCookies, SameSite: http.SameSiteStrictMode, MaxAge: int(adminauth.SessionLifetime / time.Second)})
}

func (h *Handler) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/admin", HttpOnly: true,
		Secure: h.SecureCookies, SameSite: http.SameSiteStrictMode, MaxAge: -1})
}
