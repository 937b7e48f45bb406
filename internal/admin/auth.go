package admin

import (
	"errors"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/gatehouse/gatehouse/internal/adminauth"
	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/web"
)

type loginPage struct {
	Email     string
	Next      string
	FormError string
	Ticket    string // login_totp: the sealed first step
}

// safeNext returns a dashboard path to go to after sign-in, or "/admin/".
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || len(next) > 1000 ||
		strings.IndexFunc(next, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' }) >= 0 ||
		path.Clean(u.Path) != u.Path && path.Clean(u.Path)+"/" != u.Path {
		return "/admin/"
	}
	if !strings.HasPrefix(u.Path, "/admin/") || strings.HasPrefix(next, "/admin//") ||
		strings.HasPrefix(u.Path, "/admin/login") || strings.HasPrefix(u.Path, "/admin/setup") {
		return "/admin/"
	}
	return u.EscapedPath() + queryPart(u)
}

func queryPart(u *url.URL) string {
	if u.RawQuery == "" {
		return ""
	}
	return "?" + u.Query().Encode()
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request, c *call) error {
	if sess, _, err := h.Auth.Session(r.Context(), cookieValue(r, sessionCookie)); err != nil {
		return err
	} else if sess != nil {
		return seeOther(w, r, safeNext(r.URL.Query().Get("next")), "")
	}
	h.render(w, r, c, http.StatusOK, "login", "Sign in", "", loginPage{Next: safeNext(r.URL.Query().Get("next"))})
	return nil
}

func (h *Handler) loginSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	p := loginPage{Email: strings.TrimSpace(r.PostFormValue("email")), Next: safeNext(r.PostFormValue("next"))}
	pw := r.PostFormValue("password")
	if p.Email == "" || pw == "" {
		p.FormError = "Enter your email and password."
		h.render(w, r, c, http.StatusBadRequest, "login", "Sign in", "", p)
		return nil
	}
	res, err := h.Auth.Authenticate(r.Context(), p.Email, pw, client(r))
	if h.credentialError(w, r, c, err, "login", &p) {
		return nil
	}
	if err != nil {
		return err
	}
	if res.Admin == nil {
		p.Ticket = res.Ticket
		h.render(w, r, c, http.StatusOK, "login_totp", "Two-factor authentication", "", p)
		return nil
	}
	return h.startSession(w, r, res.Admin, p.Next, "")
}

// credentialError renders the sign-in page again for a wrong credential or
// a throttled attempt, and reports whether it did.
func (h *Handler) credentialError(w http.ResponseWriter, r *http.Request, c *call, err error, page string, p *loginPage) bool {
	e, ok := errs.As(err)
	if !ok || (e.Kind != errs.Unauthenticated && e.Kind != errs.RateLimited) {
		return false
	}
	status := http.StatusUnauthorized
	if e.Kind == errs.RateLimited {
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", web.RetryAfter(e.RetryAfter))
	}
	title := "Sign in"
	if errors.Is(err, adminauth.ErrTicketExpired) {
		page, p.Ticket = "login", ""
	}
	if page == "login_totp" {
		title = "Two-factor authentication"
	}
	p.FormError = e.Message
	h.render(w, r, c, status, page, title, "", *p)
	return true
}

func (h *Handler) loginTOTP(w http.ResponseWriter, r *http.Request, c *call) error {
	p := loginPage{Next: safeNext(r.PostFormValue("next")), Ticket: r.PostFormValue("ticket")}
	a, err := h.Auth.VerifyTOTP(r.Context(), p.Ticket, r.PostFormValue("code"), client(r))
	if h.credentialError(w, r, c, err, "login_totp", &p) {
		return nil
	}
	if err != nil {
		return err
	}
	return h.startSession(w, r, a, p.Next, "")
}

// loginLink signs in with a one-time link. The link is printed to the
// operator's terminal (gatehouse dev) rather than emailed, so no mail
// scanner fetches it first; following it is the sign-in.
func (h *Handler) loginLink(w http.ResponseWriter, r *http.Request, c *call) error {
	a, err := h.Auth.SignInWithLink(r.Context(), r.PathValue("token"), client(r))
	if errors.Is(err, adminauth.ErrLinkInvalid) {
		h.render(w, r, c, http.StatusBadRequest, "login", "Sign in", "", loginPage{Next: "/admin/", FormError: adminauth.ErrLinkInvalid.Message})
		return nil
	}
	if err != nil {
		return err
	}
	return h.startSession(w, r, a, "/admin/", "")
}

// startSession sets the session cookie and goes on. A navigation that
// began on another site would not send the new SameSite=Strict cookie
// along the redirect, so it gets a page with a link instead.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, a *store.Admin, next, notice string) error {
	tok, _, err := h.Auth.StartSession(r.Context(), a.ID)
	if err != nil {
		return err
	}
	h.setSessionCookie(w, tok)
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		h.render(w, r, &call{}, http.StatusOK, "continue", "Continue to the dashboard", "", continuePage{URL: next})
		return nil
	}
	return seeOther(w, r, next, notice)
}

type setupPage struct {
	Token     string
	Invalid   string
	Errors    map[string]string
	FormError string
}

func (h *Handler) setupPage(w http.ResponseWriter, r *http.Request, c *call) error {
	h.render(w, r, c, http.StatusOK, "setup", "Choose your password", "", setupPage{Token: r.PathValue("token")})
	return nil
}

func (h *Handler) setupSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	p := setupPage{Token: r.PathValue("token"), Errors: map[string]string{}}
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("confirm_password") {
		p.Errors["confirm_password"] = "The two passwords do not match."
		h.render(w, r, c, http.StatusUnprocessableEntity, "setup", "Choose your password", "", p)
		return nil
	}
	a, err := h.Auth.SetupWithLink(r.Context(), p.Token, pw, client(r))
	if errors.Is(err, adminauth.ErrLinkInvalid) {
		p.Invalid = adminauth.ErrLinkInvalid.Message
		h.render(w, r, c, http.StatusBadRequest, "setup", "Choose your password", "", p)
		return nil
	}
	if fields, msg, ok := fieldErrors(err); ok {
		p.Errors = fields
		if len(fields) == 0 {
			p.FormError = msg
		}
		h.render(w, r, c, http.StatusUnprocessableEntity, "setup", "Choose your password", "", p)
		return nil
	}
	if err != nil {
		return err
	}
	return h.startSession(w, r, a, "/admin/", "password_set")
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := h.Auth.EndSession(r.Context(), c.Session, client(r)); err != nil {
		return err
	}
	h.clearSessionCookie(w)
	return seeOther(w, r, "/admin/login", "signed_out")
}
