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

// authorize handles GET /user_management/authorize.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := authflow.AuthorizeParams{
		ClientID: q.Get("client_id"), RedirectURI: q.Get("redirect_uri"), ResponseType: q.Get("response_type"),
		Provider: q.Get("provider"), State: q.Get("state"), HasState: q.Has("state"),
		ScreenHint: q.Get("screen_hint"), LoginHint: q.Get("login_hint"),
		CodeChallenge: q.Get("code_challenge"), CodeChallengeMethod: q.Get("code_challenge_method"),
		ConnectionID: q.Get("connection_id"), OrganizationID: q.Get("organization_id"),
	}
	env, req, err := h.Flow.CheckAuthorization(r.Context(), p)
	var ae *authflow.AuthorizeError
	if errors.As(err, &ae) {
		if ae.RedirectURI != "" {
			http.Redirect(w, r, ae.RedirectURL(), http.StatusFound)
			return
		}
		brand := ""
		if env != nil {
			brand = env.Name
		}
		h.message(w, r, http.StatusBadRequest, brand, "This sign-in link is not valid", ae.Description, "Error: "+ae.Code)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	// A live browser session signs in without asking again, and without
	// storing the request.
	if done := h.continueBrowserSession(w, r, env, req); done {
		return
	}
	if err := h.Flow.SaveAuthorization(r.Context(), req); err != nil {
		h.serverError(w, r, err)
		return
	}
	page := "sign-in"
	if req.ScreenHint == "sign-up" {
		page = "sign-up"
	}
	http.Redirect(w, r, pageURL(env, page, req.ID), http.StatusFound)
}

// continueBrowserSession grants req, not stored, to the browser's
// signed-in user, if it has a live session, and reports whether it
// answered the request.
func (h *Handler) continueBrowserSession(w http.ResponseWriter, r *http.Request, env *store.Environment, req *store.AuthRequest) bool {
	b, user, err := h.Flow.BrowserSession(r.Context(), env, cookieValue(r, sessionCookieName(env)))
	if err != nil {
		h.serverError(w, r, err)
		return true
	}
	if b == nil {
		return false
	}
	to, err := h.Flow.Grant(r.Context(), env, req, user, b.ID, "password", clientOf(r))
	if err != nil {
		h.flowError(w, r, env, err)
		return true
	}
	http.Redirect(w, r, to, http.StatusFound)
	return true
}

func pageURL(env *store.Environment, page, requestID string) string {
	u := "/hosted/" + url.PathEscape(env.ClientID) + "/" + page
	if requestID != "" {
		u += "?request=" + url.QueryEscape(requestID)
	}
	return u
}

// pending finds the environment and live request of a hosted page. When the
// request is missing or gone it sends the browser to the environment's
// sign-in endpoint (or explains that none is set) and returns ok=false.
func (h *Handler) pending(w http.ResponseWriter, r *http.Request, requestID string) (*store.Environment, *store.AuthRequest, bool) {
	env, err := h.Store.GetEnvironmentByClientID(r.Context(), r.PathValue("client_id"))
	if errors.Is(err, store.ErrNotFound) {
		h.message(w, r, http.StatusNotFound, "", "Page not found", "This sign-in page does not belong to any app on this server.", "")
		return nil, nil, false
	}
	if err != nil {
		h.serverError(w, r, err)
		return nil, nil, false
	}
	req, err := h.Flow.PendingRequest(r.Context(), env, requestID)
	if errors.Is(err, authflow.ErrRequestGone) {
		h.restart(w, r, env)
		return nil, nil, false
	}
	if err != nil {
		h.serverError(w, r, err)
		return nil, nil, false
	}
	return env, req, true
}

// restart sends a browser whose sign-in did not start at the app (or whose
// request expired) to the app's sign-in endpoint.
func (h *Handler) restart(w http.ResponseWriter, r *http.Request, env *store.Environment) {
	if env.SignInEndpoint != "" {
		http.Redirect(w, r, env.SignInEndpoint, http.StatusFound)
		return
	}
	h.message(w, r, http.StatusBadRequest, env.Name, "Start signing in from the app",
		"Sign-in requests must start at the app you want to use, and this app has no sign-in page configured.",
		"If you develop this app, set its sign-in endpoint (gatehouse sign-in-endpoint set URL) so Gatehouse can send people there.")
}

// flowError answers an error from completing a sign-in.
func (h *Handler) flowError(w http.ResponseWriter, r *http.Request, env *store.Environment, err error) {
	if errors.Is(err, authflow.ErrRequestGone) {
		h.restart(w, r, env)
		return
	}
	h.serverError(w, r, err)
}

func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request) {
	env, req, ok := h.pending(w, r, r.URL.Query().Get("request"))
	if !ok {
		return
	}
	if done := h.continueBrowserSession(w, r, env, req); done {
		return
	}
	h.renderSignIn(w, r, http.StatusOK, env, req, page{Email: req.LoginHint})
}

func (h *Handler) renderSignIn(w http.ResponseWriter, r *http.Request, status int, env *store.Environment, req *store.AuthRequest, p page) {
	p.Title = "Sign in"
	p.Brand, p.LogoURL, p.BrandCSS = brandOf(env)
	p.CSRF, p.Request = h.csrfToken(w, r), req.ID
	p.Action = pageURL(env, "sign-in", "")
	p.SwitchURL = pageURL(env, "sign-up", req.ID)
	p.ForgotURL = pageURL(env, "forgot-password", req.ID)
	if env.Email.MagicAuth {
		p.MagicURL = pageURL(env, "magic", req.ID)
	}
	h.render(w, r, status, "sign_in", p, origin(req.RedirectURI))
}

func (h *Handler) renderSignUp(w http.ResponseWriter, r *http.Request, status int, env *store.Environment, req *store.AuthRequest, p page) {
	p.Title = "Create your account"
	p.Brand, p.LogoURL, p.BrandCSS = brandOf(env)
	p.CSRF, p.Request = h.csrfToken(w, r), req.ID
	p.Action = pageURL(env, "sign-up", "")
	p.SwitchURL = pageURL(env, "sign-in", req.ID)
	h.render(w, r, status, "sign_up", p, origin(req.RedirectURI))
}

// formRequest checks a hosted form POST (size, CSRF) and finds its request.
func (h *Handler) formRequest(w http.ResponseWriter, r *http.Request) (*store.Environment, *store.AuthRequest, bool) {
	if !limitForm(w, r) {
		h.message(w, r, http.StatusBadRequest, "", "The form could not be read", "Go back and try again.", "")
		return nil, nil, false
	}
	if !checkCSRF(r) {
		h.message(w, r, http.StatusForbidden, "", "This form has expired",
			"For your security, Gatehouse only accepts forms it served to this browser. Go back, reload the page and try again.", "")
		return nil, nil, false
	}
	return h.pending(w, r, r.PostFormValue("request"))
}

func (h *Handler) signInSubmit(w http.ResponseWriter, r *http.Request) {
	env, req, ok := h.formRequest(w, r)
	if !ok {
		return
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	pw := r.PostFormValue("password")
	p := page{Email: email, Errors: map[string]string{}}
	if email == "" {
		p.Errors["email"] = "Enter your email address."
	}
	if pw == "" {
		p.Errors["password"] = "Enter your password."
	}
	if len(p.Errors) > 0 {
		h.renderSignIn(w, r, http.StatusBadRequest, env, req, p)
		return
	}
	user, err := h.Flow.Authenticate(r.Context(), env, email, pw, clientOf(r))
	if e, ok := errs.As(err); ok && (e.Kind == errs.Unauthenticated || e.Kind == errs.RateLimited) {
		status := http.StatusUnauthorized
		if e.Kind == errs.RateLimited {
			status = http.StatusTooManyRequests
			w.Header().Set("Retry-After", web.RetryAfter(e.RetryAfter))
		}
		p.FormError = e.Message
		h.renderSignIn(w, r, status, env, req, p)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.passwordSignedIn(w, r, env, req, user)
}

// passwordSignedIn finishes a password sign-in or sign-up: straight back to
// the app, or first through email verification when the environment asks
// for it.
func (h *Handler) passwordSignedIn(w http.ResponseWriter, r *http.Request, env *store.Environment, req *store.AuthRequest, user *store.User) {
	if !authflow.NeedsVerification(env, user) {
		h.signedIn(w, r, env, req, user)
		return
	}
	ch, err := h.Flow.StartEmailVerification(r.Context(), env, user, clientOf(r))
	if e, ok := errs.As(err); ok && e.Kind == errs.RateLimited {
		// A code went out moments ago: use it.
		latest, lerr := h.Flow.LatestVerification(r.Context(), env, user)
		if errors.Is(lerr, store.ErrNotFound) {
			// No code has gone out yet and none may now: say so, and let
			// the person come back (signing in sends a code).
			w.Header().Set("Retry-After", web.RetryAfter(e.RetryAfter))
			name, _, _ := brandOf(env)
			h.message(w, r, http.StatusTooManyRequests, name, "Too many emails",
				"Too many emails were requested from your network just now, so we could not send your verification code yet.",
				"Your account is saved. Wait a minute, then sign in to get the code.")
			return
		}
		if lerr != nil {
			h.serverError(w, r, lerr)
			return
		}
		ch, err = latest, nil
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, pageURL(env, "verify-email", req.ID)+"&verification="+url.QueryEscape(ch.ID), http.StatusSeeOther)
}

func (h *Handler) signUpPage(w http.ResponseWriter, r *http.Request) {
	env, req, ok := h.pending(w, r, r.URL.Query().Get("request"))
	if !ok {
		return
	}
	if done := h.continueBrowserSession(w, r, env, req); done {
		return
	}
	h.renderSignUp(w, r, http.StatusOK, env, req, page{Email: req.LoginHint})
}

func (h *Handler) signUpSubmit(w http.ResponseWriter, r *http.Request) {
	env, req, ok := h.formRequest(w, r)
	if !ok {
		return
	}
	in := authflow.SignUpInput{
		Email: r.PostFormValue("email"), Password: r.PostFormValue("password"),
		FirstName: strings.TrimSpace(r.PostFormValue("first_name")), LastName: strings.TrimSpace(r.PostFormValue("last_name")),
	}
	p := page{Email: strings.TrimSpace(in.Email), FirstName: in.FirstName, LastName: in.LastName, Errors: map[string]string{}}
	user, err := h.Flow.SignUp(r.Context(), env, in, clientOf(r))
	if e, ok := errs.As(err); ok && e.Kind == errs.Invalid {
		for _, f := range e.Fields {
			if _, seen := p.Errors[f.Field]; !seen {
				p.Errors[f.Field] = f.Message
			}
		}
		if len(p.Errors) == 0 {
			p.FormError = e.Message
		}
		h.renderSignUp(w, r, http.StatusUnprocessableEntity, env, req, p)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.passwordSignedIn(w, r, env, req, user)
}

// signedIn starts the browser session and sends the browser back to the
// app with a code.
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request, env *store.Environment, req *store.AuthRequest, user *store.User) {
	h.signedInWith(w, r, env, req, user, "password")
}

// signedInWith is signedIn for a given sign-in method (the session's
// auth_method: password, magic_code).
func (h *Handler) signedInWith(w http.ResponseWriter, r *http.Request, env *store.Environment, req *store.AuthRequest, user *store.User, method string) {
	to, tok, err := h.Flow.Complete(r.Context(), env, req, user, method, clientOf(r))
	if err != nil {
		h.flowError(w, r, env, err)
		return
	}
	h.setSessionCookie(w, env, tok)
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// logout handles GET /user_management/sessions/logout.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	res, err := h.Flow.Logout(r.Context(), q.Get("session_id"), q.Get("return_to"))
	if e, ok := errs.As(err); ok && e.Kind == errs.Invalid {
		web.WriteError(w, r, h.Logger, err)
		return
	}
	if errors.Is(err, authflow.ErrNoSignOutTarget) {
		h.message(w, r, http.StatusOK, "", "Signed out", "You have been signed out.", "")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	// Also end this browser's session cookie, even if the app session came
	// from elsewhere (authkit-js calls logout with credentials).
	if tok := cookieValue(r, sessionCookieName(res.Environment)); tok != "" {
		if err := h.Flow.EndBrowserSession(r.Context(), res.Environment, tok); err != nil {
			h.serverError(w, r, err)
			return
		}
	}
	h.clearSessionCookie(w, res.Environment)
	if res.RedirectURI == "" {
		h.message(w, r, http.StatusOK, res.Environment.Name, "Signed out", "You have been signed out.", "")
		return
	}
	setSecurityHeaders(w, "")
	http.Redirect(w, r, res.RedirectURI, http.StatusFound)
}
