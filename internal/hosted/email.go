package hosted

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/authflow"
	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/web"
)

// renderCode shows a code-entry page.
func (h *Handler) renderCode(w http.ResponseWriter, r *http.Request, status int, env *store.Environment, req *store.AuthRequest, action string, p page) {
	p.Brand, p.LogoURL, p.BrandCSS = brandOf(env)
	p.CSRF, p.Request = h.csrfToken(w, r), req.ID
	p.Action = pageURL(env, action, "")
	h.render(w, r, status, "code", p, origin(req.RedirectURI))
}

// codeError turns a code-check error into a message for the code field,
// or reports false for errors that are not about the code.
func codeError(err error) (string, int, bool) {
	e, ok := errs.As(err)
	if !ok {
		return "", 0, false
	}
	switch e.Kind {
	case errs.Invalid:
		return e.Message, http.StatusUnprocessableEntity, true
	case errs.RateLimited:
		return e.Message, http.StatusTooManyRequests, true
	}
	return "", 0, false
}

func (h *Handler) verifyPage(w http.ResponseWriter, r *http.Request) {
	env, req, ok := h.pending(w, r, r.URL.Query().Get("request"))
	if !ok {
		return
	}
	h.renderVerify(w, r, http.StatusOK, env, req, r.URL.Query().Get("verification"), page{})
}

func (h *Handler) renderVerify(w http.ResponseWriter, r *http.Request, status int, env *store.Environment, req *store.AuthRequest, verification string, p page) {
	p.Title = "Check your email"
	email := ""
	if ch, err := h.Flow.Challenges.GetChallenge(r.Context(), env.ID, verification); err == nil && ch.Kind == store.ChallengeEmailVerification {
		email = ch.Email
	}
	if email == "" {
		h.restart(w, r, env)
		return
	}
	p.Message = "We sent a 6-digit code to " + email + ". Enter it to verify your email address."
	p.Hidden = map[string]string{"verification": verification}
	p.ResendLabel = "Send a new code"
	h.renderCode(w, r, status, env, req, "verify-email", p)
}

func (h *Handler) verifySubmit(w http.ResponseWriter, r *http.Request) {
	env, req, ok := h.formRequest(w, r)
	if !ok {
		return
	}
	verification := r.PostFormValue("verification")
	ch, err := h.Flow.Challenges.GetChallenge(r.Context(), env.ID, verification)
	if err != nil || ch.Kind != store.ChallengeEmailVerification {
		h.restart(w, r, env)
		return
	}
	if r.PostFormValue("action") == "resend" {
		user, err := h.Store.GetUser(r.Context(), env.ID, ch.UserID)
		if err != nil {
			h.restart(w, r, env)
			return
		}
		next, err := h.Flow.StartEmailVerification(r.Context(), env, user, clientOf(r))
		if msg, status, ok := codeError(err); ok {
			h.renderVerify(w, r, status, env, req, verification, page{FormError: msg})
			return
		}
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		http.Redirect(w, r, pageURL(env, "verify-email", req.ID)+"&verification="+url.QueryEscape(next.ID), http.StatusSeeOther)
		return
	}
	// The code's use, the verified address and the sign-in: one commit.
	to, tok, err := h.Flow.CompleteVerified(r.Context(), env, req, ch.UserID, verification, strings.TrimSpace(r.PostFormValue("code")), clientOf(r))
	if msg, status, ok := codeError(err); ok {
		h.renderVerify(w, r, status, env, req, verification, page{Errors: map[string]string{"code": msg}})
		return
	}
	if err != nil {
		h.flowError(w, r, env, err)
		return
	}
	h.setSessionCookie(w, env, tok)
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (h *Handler) magicPage(w http.ResponseWriter, r *http.Request) {
	env, req, ok := h.pending(w, r, r.URL.Query().Get("request"))
	if !ok {
		return
	}
	h.renderEmailForm(w, r, http.StatusOK, env, req, "magic", page{Email: req.LoginHint})
}

func (h *Handler) renderEmailForm(w http.ResponseWriter, r *http.Request, status int, env *store.Environment, req *store.AuthRequest, action string, p page) {
	p.Brand, p.LogoURL, p.BrandCSS = brandOf(env)
	p.CSRF, p.Request = h.csrfToken(w, r), req.ID
	p.Action = pageURL(env, action, "")
	p.SwitchURL, p.SwitchText = pageURL(env, "sign-in", req.ID), "Back to sign in"
	if action == "magic" {
		p.Title, p.Submit = "Sign in with a code", "Email me a code"
		p.Message = "We will email you a 6-digit code to sign in with. No password needed."
	} else {
		p.Title, p.Submit = "Reset your password", "Send reset link"
		p.Message = "Enter your account's email address and we will send you a link to choose a new password."
	}
	h.render(w, r, status, "email_form", p, origin(req.RedirectURI))
}

func (h *Handler) magicSubmit(w http.ResponseWriter, r *http.Request) {
	env, req, ok := h.formRequest(w, r)
	if !ok {
		return
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	_, _, err := h.Flow.StartMagicAuth(r.Context(), env, email, clientOf(r))
	if e, ok := errs.As(err); ok && (e.Kind == errs.Invalid || e.Kind == errs.RateLimited || e.Kind == errs.Forbidden) {
		status := http.StatusUnprocessableEntity
		p := page{Email: email}
		switch e.Kind {
		case errs.RateLimited:
			status = http.StatusTooManyRequests
			w.Header().Set("Retry-After", web.RetryAfter(e.RetryAfter))
			p.FormError = e.Message
		case errs.Forbidden:
			status = http.StatusForbidden
			p.FormError = e.Message
		default:
			p.Errors = map[string]string{"email": "Enter a valid email address, like name@example.com."}
		}
		h.renderEmailForm(w, r, status, env, req, "magic", p)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, pageURL(env, "magic-code", req.ID)+"&email="+url.QueryEscape(strings.ToLower(email)), http.StatusSeeOther)
}

func (h *Handler) magicCodePage(w http.ResponseWriter, r *http.Request) {
	env, req, ok := h.pending(w, r, r.URL.Query().Get("request"))
	if !ok {
		return
	}
	h.renderMagicCode(w, r, http.StatusOK, env, req, r.URL.Query().Get("email"), page{})
}

func (h *Handler) renderMagicCode(w http.ResponseWriter, r *http.Request, status int, env *store.Environment, req *store.AuthRequest, email string, p page) {
	p.Title = "Check your email"
	p.Message = "If " + email + " can sign in here, we sent it a 6-digit code. It expires in 10 minutes."
	p.Hidden = map[string]string{"email": email}
	p.SwitchURL, p.SwitchText = pageURL(env, "magic", req.ID), "Use another email or get a new code"
	h.renderCode(w, r, status, env, req, "magic-code", p)
}

func (h *Handler) magicCodeSubmit(w http.ResponseWriter, r *http.Request) {
	env, req, ok := h.formRequest(w, r)
	if !ok {
		return
	}
	email := r.PostFormValue("email")
	user, err := h.Flow.CompleteMagicAuth(r.Context(), env, email, strings.TrimSpace(r.PostFormValue("code")), clientOf(r))
	if msg, status, ok := codeError(err); ok {
		h.renderMagicCode(w, r, status, env, req, email, page{Errors: map[string]string{"code": msg}})
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.signedInWith(w, r, env, req, user, "magic_code")
}

// The forgot-password page works with or without a pending request: a
// reset always ends at the app's sign-in endpoint.
func (h *Handler) forgotEnv(w http.ResponseWriter, r *http.Request) (*store.Environment, bool) {
	env, err := h.Store.GetEnvironmentByClientID(r.Context(), r.PathValue("client_id"))
	if errors.Is(err, store.ErrNotFound) {
		h.message(w, r, http.StatusNotFound, "", "Page not found", "This page does not belong to any app on this server.", "")
		return nil, false
	}
	if err != nil {
		h.serverError(w, r, err)
		return nil, false
	}
	return env, true
}

func (h *Handler) renderForgot(w http.ResponseWriter, r *http.Request, status int, env *store.Environment, requestID string, p page) {
	h.renderEmailForm(w, r, status, env, &store.AuthRequest{ID: requestID}, "forgot-password", p)
}

func (h *Handler) forgotPage(w http.ResponseWriter, r *http.Request) {
	env, ok := h.forgotEnv(w, r)
	if !ok {
		return
	}
	h.renderForgot(w, r, http.StatusOK, env, r.URL.Query().Get("request"), page{})
}

func (h *Handler) forgotSubmit(w http.ResponseWriter, r *http.Request) {
	env, ok := h.forgotEnv(w, r)
	if !ok {
		return
	}
	if !limitForm(w, r) || !checkCSRF(r) {
		h.message(w, r, http.StatusForbidden, "", "This form has expired",
			"For your security, Gatehouse only accepts forms it served to this browser. Go back, reload the page and try again.", "")
		return
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	_, _, err := h.Flow.StartPasswordReset(r.Context(), env, email, true, clientOf(r))
	if e, ok := errs.As(err); ok && (e.Kind == errs.Invalid || e.Kind == errs.RateLimited) {
		p := page{Email: email}
		status := http.StatusUnprocessableEntity
		if e.Kind == errs.RateLimited {
			status = http.StatusTooManyRequests
			w.Header().Set("Retry-After", web.RetryAfter(e.RetryAfter))
			p.FormError = e.Message
		} else {
			p.Errors = map[string]string{"email": "Enter a valid email address, like name@example.com."}
		}
		h.renderForgot(w, r, status, env, r.PostFormValue("request"), p)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	name, _, _ := brandOf(env)
	// The same answer whether or not the account exists.
	h.message(w, r, http.StatusOK, name, "Check your email",
		"If an account exists for "+email+", we have sent it a link to choose a new password. The link works once, for 30 minutes.", "")
}

func (h *Handler) resetPage(w http.ResponseWriter, r *http.Request) {
	env, ok := h.forgotEnv(w, r)
	if !ok {
		return
	}
	h.renderReset(w, r, http.StatusOK, env, r.URL.Query().Get("token"), page{})
}

func (h *Handler) renderReset(w http.ResponseWriter, r *http.Request, status int, env *store.Environment, token string, p page) {
	ch, err := h.Flow.CheckResetToken(r.Context(), env, token)
	if errors.Is(err, authflow.ErrResetInvalid) {
		name, _, _ := brandOf(env)
		h.message(w, r, http.StatusBadRequest, name, "This link has expired", authflow.ErrResetInvalid.Message, "")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	p.Title, p.Email = "Choose a new password", ch.Email
	p.Brand, p.LogoURL, p.BrandCSS = brandOf(env)
	p.CSRF = h.csrfToken(w, r)
	p.Action = "/hosted/" + url.PathEscape(env.ClientID) + "/reset-password"
	p.Hidden = map[string]string{"token": token}
	h.render(w, r, status, "reset", p, origin(env.SignInEndpoint))
}

func (h *Handler) resetSubmit(w http.ResponseWriter, r *http.Request) {
	env, ok := h.forgotEnv(w, r)
	if !ok {
		return
	}
	if !limitForm(w, r) || !checkCSRF(r) {
		h.message(w, r, http.StatusForbidden, "", "This form has expired",
			"For your security, Gatehouse only accepts forms it served to this browser. Go back, reload the page and try again.", "")
		return
	}
	token := r.PostFormValue("token")
	_, err := h.Flow.ResetPassword(r.Context(), env, token, r.PostFormValue("password"))
	if e, ok := errs.As(err); ok && e.Kind == errs.Invalid && len(e.Fields) > 0 {
		h.renderReset(w, r, http.StatusUnprocessableEntity, env, token, page{Errors: map[string]string{"password": e.Fields[0].Message}})
		return
	}
	if errors.Is(err, authflow.ErrResetInvalid) {
		h.renderReset(w, r, http.StatusBadRequest, env, token, page{})
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	// The browser's own session belonged to the old password: end it.
	h.clearSessionCookie(w, env)
	if env.SignInEndpoint != "" {
		http.Redirect(w, r, env.SignInEndpoint, http.StatusSeeOther)
		return
	}
	name, _, _ := brandOf(env)
	h.message(w, r, http.StatusOK, name, "Password changed", "Your password has been changed and you have been signed out everywhere. Sign in again from the app.", "")
}
