package main

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/sdk/go/gatehouse"
)

// stateCookie holds the random state of a sign-in in progress, for 10
// minutes.
const (
	stateCookie = "wos-auth-state"
	stateMaxAge = 10 * time.Minute
)

//go:embed templates/*.html
var templateFS embed.FS

// pages are the HTML pages, each the layout around one content template.
var pages = func() map[string]*template.Template {
	layout := template.Must(template.ParseFS(templateFS, "templates/layout.html"))
	out := map[string]*template.Template{}
	for _, name := range []string{"home", "dashboard", "message"} {
		out[name] = template.Must(template.Must(layout.Clone()).ParseFS(templateFS, "templates/"+name+".html"))
	}
	return out
}()

// app is the example's HTTP handler.
type app struct {
	cfg      config
	client   *gatehouse.Client
	sessions *gatehouse.SessionManager
	csrf     *csrfTokens
	log      *slog.Logger
	// secure marks the app's own cookies Secure (when AppURL is https).
	secure bool
	csp    string
}

// newApp builds the SDK client and session manager from cfg. The only
// Gatehouse-specific setting is the server's URL.
func newApp(cfg config, logger *slog.Logger) (*app, error) {
	client, err := gatehouse.NewClient(cfg.GatehouseURL, cfg.APIKey, cfg.ClientID, gatehouse.WithUserAgent("gatehouse-example-go"))
	if err != nil {
		return nil, err
	}
	secure := strings.HasPrefix(cfg.AppURL, "https://")
	mode := gatehouse.SecureNever
	if secure {
		mode = gatehouse.SecureAlways
	}
	sessions, err := gatehouse.NewSessionManager(client, cfg.CookiePassword, gatehouse.SessionOptions{Secure: mode})
	if err != nil {
		return nil, err
	}
	// Forms may submit to the app and be redirected through Gatehouse (the
	// sign-out goes to Gatehouse's logout endpoint, which comes back).
	formAction := "'self' " + origin(cfg.AppURL)
	if o := origin(cfg.GatehouseURL); o != origin(cfg.AppURL) {
		formAction += " " + o
	}
	return &app{cfg: cfg, client: client, sessions: sessions, csrf: newCSRFTokens(cfg.CookiePassword), log: logger, secure: secure,
		csp: "default-src 'none'; style-src 'unsafe-inline'; form-action " + formAction + "; frame-ancestors 'none'; base-uri 'none'"}, nil
}

// routes returns the app's handler.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /callback", a.callback)
	// The SDK's middleware: a valid session goes on; an expired access token
	// is refreshed transparently (new cookie, no redirect); no session or an
	// ended one goes to /login.
	protect := a.sessions.Middleware(gatehouse.MiddlewareOptions{SignInPath: "/login", ErrorHandler: a.sessionError})
	mux.Handle("GET /dashboard", protect(http.HandlerFunc(a.dashboard)))
	mux.HandleFunc("GET /csrf-token", a.csrfToken)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.message(w, http.StatusNotFound, "Not found", "There is no page here.", "/", "Home")
	})
	return a.headers(mux)
}

// headers sets the security headers every response gets.
func (a *app) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", a.csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// ---------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------

// homeData is the home page: User is nil when signed out.
type homeData struct {
	Title string
	User  *gatehouse.User
	CSRF  string
}

// home is public: it shows the signed-in user, refreshing an expired
// access token in place, and never redirects.
func (a *app) home(w http.ResponseWriter, r *http.Request) {
	s := a.currentSession(w, r)
	if s == nil {
		a.render(w, http.StatusOK, "home", homeData{Title: "Welcome"})
		return
	}
	title := "Welcome"
	if name := fullName(s.User); name != "" {
		title += ", " + name
	}
	a.render(w, http.StatusOK, "home", homeData{Title: title, User: &s.User, CSRF: a.csrf.Token(s.SessionID)})
}

// currentSession returns the signed-in session, or nil. Unlike the
// middleware it never redirects: a cookie that cannot be used any more is
// cleared, and one that cannot be checked right now (Gatehouse or its JWKS
// unreachable) is kept for the next request.
func (a *app) currentSession(w http.ResponseWriter, r *http.Request) *gatehouse.Session {
	sealed := a.sessions.SessionCookie(r)
	if sealed == "" {
		return nil
	}
	ctx := r.Context()
	s, err := a.sessions.Authenticate(ctx, sealed)
	if err != nil {
		a.log.Warn("session check failed", "err", err)
		return nil
	}
	if s.Authenticated {
		return s
	}
	if s.Reason == gatehouse.ReasonInvalidJWT {
		rs, err := a.sessions.Refresh(ctx, sealed, "")
		if err != nil {
			a.log.Warn("session refresh failed; keeping the cookie", "err", err, "retryable", gatehouse.Retryable(err))
			return nil
		}
		if rs.Authenticated {
			a.sessions.SetCookie(w, r, rs.Sealed)
			return rs
		}
		s = rs
	}
	a.log.Info("session ended", "reason", s.Reason)
	a.sessions.ClearCookie(w, r)
	return nil
}

type dashboardData struct {
	Title     string
	User      gatehouse.User
	Name      string
	SessionID string
	Expires   string
	CSRF      string
}

// dashboard runs behind the middleware, which put the session in the
// request context.
func (a *app) dashboard(w http.ResponseWriter, r *http.Request) {
	s, _ := gatehouse.SessionFromContext(r.Context())
	expires := "unknown"
	if !s.ExpiresAt.IsZero() {
		expires = s.ExpiresAt.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	a.render(w, http.StatusOK, "dashboard", dashboardData{Title: "Dashboard", User: s.User, Name: fullName(s.User),
		SessionID: s.SessionID, Expires: expires, CSRF: a.csrf.Token(s.SessionID)})
}

// sessionError is the middleware's ErrorHandler: the session could not be
// checked or refreshed (Gatehouse or its JWKS unreachable). The cookie is
// kept, so an outage does not sign anyone out.
func (a *app) sessionError(w http.ResponseWriter, r *http.Request, err error) {
	a.log.Warn("session check failed", "path", r.URL.Path, "err", err, "retryable", gatehouse.Retryable(err))
	w.Header().Set("Retry-After", "1")
	a.message(w, http.StatusServiceUnavailable, "Try again", "Your session could not be checked right now. Reload the page to try again.", r.URL.Path, "Reload")
}

// ---------------------------------------------------------------------------
// Sign-in
// ---------------------------------------------------------------------------

// login starts a sign-in with Gatehouse's hosted pages. Gatehouse also
// sends browsers here (the environment's sign-in endpoint) when they open
// its sign-in page directly. A random state, kept in a short-lived cookie,
// ties the callback to this browser.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	b := make([]byte, 16)
	rand.Read(b)
	state := base64.RawURLEncoding.EncodeToString(b)
	u, err := a.client.AuthorizationURL(gatehouse.AuthorizationURLParams{RedirectURI: a.cfg.AppURL + "/callback", State: state})
	if err != nil {
		a.log.Error("authorization URL", "err", err)
		a.message(w, http.StatusInternalServerError, "Something went wrong", err.Error(), "/", "Home")
		return
	}
	http.SetCookie(w, a.stateCookie(state, int(stateMaxAge/time.Second)))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u, http.StatusFound)
}

func (a *app) stateCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: stateCookie, Value: value, Path: "/callback", MaxAge: maxAge,
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode}
}

// callback checks the state, exchanges the code for the user and tokens,
// and keeps them in the sealed session cookie.
func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	expected := ""
	if c, err := r.Cookie(stateCookie); err == nil {
		expected = c.Value
	}
	http.SetCookie(w, a.stateCookie("", -1))
	if e := q.Get("error"); e != "" {
		a.signInFailed(w, e+": "+q.Get("error_description"))
		return
	}
	code := q.Get("code")
	if code == "" {
		a.signInFailed(w, "The callback has no code.")
		return
	}
	if state := q.Get("state"); expected == "" || subtle.ConstantTimeCompare([]byte(state), []byte(expected)) != 1 {
		a.signInFailed(w, "The sign-in was not started from this browser (state mismatch).")
		return
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	res, err := a.client.AuthenticateWithCode(r.Context(), gatehouse.AuthenticateWithCodeParams{Code: code, IPAddress: ip, UserAgent: r.UserAgent()})
	if err != nil {
		a.log.Warn("code exchange failed", "err", err)
		msg := "Gatehouse could not be reached. Try again."
		var ae *gatehouse.APIError
		if errors.Is(err, gatehouse.ErrInvalidGrant) {
			msg = "The sign-in link expired or was already used."
		} else if errors.As(err, &ae) {
			msg = ae.Error()
		}
		a.signInFailed(w, msg)
		return
	}
	// Seal as the Node SDK does: the Express example reads this cookie too.
	sealed, err := a.sessions.Seal(res)
	if err != nil {
		a.log.Error("seal session", "err", err)
		a.signInFailed(w, "The session could not be stored.")
		return
	}
	a.sessions.SetCookie(w, r, sealed)
	http.Redirect(w, r, "/", http.StatusFound)
}

func (a *app) signInFailed(w http.ResponseWriter, msg string) {
	a.message(w, http.StatusBadRequest, "Sign-in failed", msg, "/login", "Try again")
}

// ---------------------------------------------------------------------------
// Sign-out
// ---------------------------------------------------------------------------

// csrfToken gives scripts a token to send as the X-CSRF-Token header.
func (a *app) csrfToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	sid := a.sessionID(a.sessions.SessionCookie(r))
	if sid == "" {
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]string{"error": "unauthorized"})
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"csrfToken": a.csrf.Token(sid)})
}

// logout ends the session at Gatehouse (which also ends its own browser
// session) and comes back to the home page. The SDK builds the logout URL
// from the cookie alone, so an expired access token needs no refresh.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	sealed := a.sessions.SessionCookie(r)
	sid := a.sessionID(sealed)
	if sid == "" {
		// Nothing to sign out of (no cookie, or one this app cannot read).
		if sealed != "" {
			a.sessions.ClearCookie(w, r)
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	var token string
	// Forms send the token as _csrf; scripts send the X-CSRF-Token header.
	// Which one is read depends on the content type, never a fallthrough.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
		token = r.PostFormValue("_csrf")
	} else {
		token = r.Header.Get("X-CSRF-Token")
	}
	if crossSite(r) || !a.csrf.Valid(sid, token) {
		a.log.Warn("logout refused: bad CSRF token", "cross_site", crossSite(r))
		a.message(w, http.StatusForbidden, "Forbidden", "The form expired. Go back, reload the page and try again.", "/", "Home")
		return
	}
	u, err := a.sessions.LogoutURL(r.Context(), sealed, a.cfg.AppURL+"/")
	a.sessions.ClearCookie(w, r)
	if err != nil {
		a.log.Warn("logout URL", "err", err)
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// sessionID reads the session ID from a session cookie without any
// network call: the seal authenticates the cookie, and the access token's
// sid claim names the session even after the token expired.
func (a *app) sessionID(sealed string) string {
	if sealed == "" {
		return ""
	}
	d, err := gatehouse.UnsealSession(sealed, a.cfg.CookiePassword)
	if err != nil {
		return ""
	}
	return jwtClaim(d.AccessToken, "sid")
}

// jwtClaim decodes (without verifying) a string claim of a JWT's payload.
func jwtClaim(token, name string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims map[string]any
	if json.Unmarshal(b, &claims) != nil {
		return ""
	}
	s, _ := claims[name].(string)
	return s
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

type link struct{ Href, Text string }

type messageData struct {
	Title, Message string
	Link           *link
}

func (a *app) message(w http.ResponseWriter, status int, title, msg, href, text string) {
	d := messageData{Title: title, Message: msg}
	if href != "" {
		d.Link = &link{href, text}
	}
	a.render(w, status, "message", d)
}

// render writes a page; it renders into a buffer first so a template
// error is a clean 500.
func (a *app) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		a.log.Error("render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func fullName(u gatehouse.User) string {
	return strings.TrimSpace(u.FirstName + " " + u.LastName)
}
