package admin

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/adminauth"
	"github.com/gatehouse/gatehouse/internal/authflow"
	"github.com/gatehouse/gatehouse/internal/environments"
	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/users"
	"github.com/gatehouse/gatehouse/internal/web"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Handler serves the dashboard.
type Handler struct {
	Auth         *adminauth.Service
	Environments *environments.Service
	Users        *users.Service
	Flow         *authflow.Service
	Store        store.Store
	Logger       *slog.Logger
	// SecureCookies sets the Secure attribute on cookies; on whenever the
	// public URL is https.
	SecureCookies bool
	Now           func() time.Time

	pages map[string]*template.Template
	mux   *http.ServeMux
}

// pageNames lists every page template; each is parsed with layout.html.
var pageNames = []string{
	"error", "continue", "login", "login_totp", "setup",
	"account", "account_totp", "activity", "environments", "settings",
	"users", "user", "user_delete", "redirects",
	"api_keys", "api_key_created", "api_key_revoke", "branding",
}

// New parses the templates (a broken one fails at start, not on a
// request), builds the dashboard's mux and returns the Handler.
func New(h Handler) (*Handler, error) {
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	h.pages = pages
	h.mux = http.NewServeMux()
	h.routes(h.mux)
	return &h, nil
}

func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}

// Routes mounts the dashboard on mux under /admin/.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.Handle("/admin/", h)
	mux.Handle("GET /admin", http.RedirectHandler("/admin/", http.StatusMovedPermanently))
}

// ServeHTTP serves a dashboard request with the dashboard's security headers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data: https:; script-src 'self'; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) routes(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFiles, "static")
	files := http.StripPrefix("/admin/assets/", http.FileServerFS(static))
	mux.Handle("GET /admin/assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		files.ServeHTTP(w, r)
	}))

	h.route(mux, "GET /admin/{$}", signedIn, h.home)
	h.route(mux, "GET /admin/login", public, h.loginPage)
	h.route(mux, "POST /admin/login", public, h.loginSubmit)
	h.route(mux, "POST /admin/login/totp", public, h.loginTOTP)
	h.route(mux, "GET /admin/login/{token}", public, h.loginLink)
	h.route(mux, "GET /admin/setup/{token}", public, h.setupPage)
	h.route(mux, "POST /admin/setup/{token}", public, h.setupSubmit)
	h.route(mux, "POST /admin/logout", signedIn, h.logout)

	h.route(mux, "GET /admin/account", signedIn, h.accountPage)
	h.route(mux, "POST /admin/account/password", signedIn, h.changePassword)
	h.route(mux, "GET /admin/account/totp", signedIn, h.totpPage)
	h.route(mux, "POST /admin/account/totp", signedIn, h.enableTOTP)
	h.route(mux, "POST /admin/account/totp/disable", signedIn, h.disableTOTP)
	h.route(mux, "GET /admin/activity", signedIn, h.serverActivity)

	h.route(mux, "GET /admin/environments", signedIn, h.environmentsPage)
	h.route(mux, "POST /admin/environments", signedIn, h.createEnvironment)
	h.route(mux, "GET /admin/switch", signedIn, h.switchEnvironment)
	h.route(mux, "GET /admin/env/{env}/{$}", inEnv, h.envHome)
	h.route(mux, "GET /admin/env/{env}/settings", inEnv, h.settingsPage)
	h.route(mux, "POST /admin/env/{env}/settings", inEnv, h.saveSettings)

	h.route(mux, "GET /admin/env/{env}/users", inEnv, h.usersPage)
	h.route(mux, "GET /admin/env/{env}/users/{user}", inEnv, h.userPage)
	h.route(mux, "POST /admin/env/{env}/users/{user}", inEnv, h.updateUser)
	h.route(mux, "GET /admin/env/{env}/users/{user}/delete", inEnv, h.deleteUserPage)
	h.route(mux, "POST /admin/env/{env}/users/{user}/delete", inEnv, h.deleteUser)
	h.route(mux, "POST /admin/env/{env}/users/{user}/sessions/{session}/revoke", inEnv, h.revokeSession)

	h.route(mux, "GET /admin/env/{env}/redirects", inEnv, h.redirectsPage)
	h.route(mux, "POST /admin/env/{env}/redirects/{kind}/add", inEnv, h.addRedirect)
	h.route(mux, "POST /admin/env/{env}/redirects/{kind}/remove", inEnv, h.removeRedirect)
	h.route(mux, "POST /admin/env/{env}/redirects/{kind}/default", inEnv, h.defaultRedirect)
	h.route(mux, "POST /admin/env/{env}/sign-in-endpoint", inEnv, h.setSignInEndpoint)
	h.route(mux, "POST /admin/env/{env}/cors-origins", inEnv, h.setCORSOrigins)

	h.route(mux, "GET /admin/env/{env}/api-keys", inEnv, h.apiKeysPage)
	h.route(mux, "POST /admin/env/{env}/api-keys", inEnv, h.createAPIKey)
	h.route(mux, "GET /admin/env/{env}/api-keys/{key}/revoke", inEnv, h.revokeAPIKeyPage)
	h.route(mux, "POST /admin/env/{env}/api-keys/{key}/revoke", inEnv, h.revokeAPIKey)

	h.route(mux, "GET /admin/env/{env}/branding", inEnv, h.brandingPage)
	h.route(mux, "POST /admin/env/{env}/branding", inEnv, h.saveBranding)
	h.route(mux, "GET /admin/env/{env}/branding.css", inEnv, h.brandingCSS)
	h.route(mux, "GET /admin/env/{env}/activity", inEnv, h.activityPage)

	h.route(mux, "/admin/", public, func(w http.ResponseWriter, r *http.Request, c *call) error {
		return errs.New(errs.NotFound, "not_found", "There is no dashboard page at this address.")
	})
}

// access is what a route needs before its handler runs.
type access int

const (
	public   access = iota // nothing: the sign-in pages
	signedIn               // a live admin session
	inEnv                  // a live admin session and the path's {env}
)

// call is what the adapter found out about a request.
type call struct {
	Admin   *store.Admin
	Session *store.AdminSession
	CSRF    string
	Envs    []store.Environment
	Env     *store.Environment
}

// handler is a dashboard handler: it returns an error rather than writing
// one, and serve turns the error into a page.
type handler func(w http.ResponseWriter, r *http.Request, c *call) error

func (h *Handler) route(mux *http.ServeMux, pattern string, a access, fn handler) {
	mux.Handle(pattern, h.serve(a, fn))
}

// errSignedOut means the request needs a session it does not have.
var errSignedOut = errors.New("admin: not signed in")

// errCSRF refuses a POST without the browser's CSRF token.
var errCSRF = errs.New(errs.Forbidden, "csrf", "This form has expired or did not come from this dashboard. Go back, reload the page and try again.")

// serve is the dashboard's one adapter: it checks the CSRF token of every
// POST, finds the session and environment the route needs, runs fn and
// turns any error it returns into a page.
func (h *Handler) serve(a access, fn handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{}
		err := h.prepare(w, r, a, c)
		if err == nil {
			err = fn(w, r, c)
		}
		if err != nil {
			h.fail(w, r, c, err)
		}
	})
}

func (h *Handler) prepare(w http.ResponseWriter, r *http.Request, a access, c *call) error {
	c.CSRF = h.csrfToken(w, r)
	if r.Method == http.MethodPost {
		if err := parseForm(w, r); err != nil {
			return err
		}
		if !checkCSRF(r) {
			return errCSRF
		}
	}
	if a == public {
		return nil
	}
	sess, admin, err := h.Auth.Session(r.Context(), cookieValue(r, sessionCookie))
	if err != nil {
		return err
	}
	if sess == nil {
		return errSignedOut
	}
	c.Session, c.Admin = sess, admin
	if c.Envs, err = h.Store.ListEnvironments(r.Context()); err != nil {
		return err
	}
	if a == inEnv {
		id := r.PathValue("env")
		for i := range c.Envs {
			if c.Envs[i].ID == id {
				env := c.Envs[i]
				c.Env = &env
			}
		}
		if c.Env == nil {
			return errs.New(errs.NotFound, "environment_not_found", "There is no such environment. Pick one from the switcher.")
		}
	}
	return nil
}

// fail answers an error: a sign-in redirect, or an error page with the
// error's public message. Unexpected errors are logged once.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, c *call, err error) {
	if errors.Is(err, errSignedOut) {
		h.signInFirst(w, r, c)
		return
	}
	e, ok := errs.As(err)
	if !ok {
		if msg, down := web.Unavailable(err); down {
			e = &errs.Error{Kind: errs.Unavailable, Message: msg, Err: err}
		} else {
			e = &errs.Error{Kind: errs.Internal, Message: "Something went wrong on our side. Try again; if it keeps happening, check the server log for the reference below.", Err: err}
		}
	}
	status := web.Status(e.Kind)
	if status >= 500 {
		// The route, not the path: link paths hold one-time tokens.
		h.Logger.ErrorContext(r.Context(), "dashboard request failed", "request_id", web.RequestID(r.Context()),
			"method", r.Method, "route", r.Pattern, "status", status, "err", err)
	}
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", web.RetryAfter(e.RetryAfter))
	}
	title := map[int]string{400: "That did not work", 403: "Not allowed", 404: "Page not found", 409: "That clashes with something",
		429: "Too many attempts", 503: "Temporarily unavailable"}[status]
	if title == "" {
		title = "Something went wrong"
	}
	h.render(w, r, c, status, "error", title, "", errorPage{Message: e.Message, RequestID: web.RequestID(r.Context())})
}

type errorPage struct {
	Message   string
	RequestID string
}

// signInFirst sends a browser without a live session to the sign-in page,
// clearing a stale cookie.
func (h *Handler) signInFirst(w http.ResponseWriter, r *http.Request, c *call) {
	if cookieValue(r, sessionCookie) != "" {
		h.clearSessionCookie(w)
	}
	if r.Method == http.MethodGet && r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		// SameSite=Strict withholds the session cookie from navigations
		// that start on another site; a click from this page sends it.
		h.render(w, r, c, http.StatusOK, "continue", "Continue to the dashboard", "", continuePage{URL: r.URL.RequestURI()})
		return
	}
	to := "/admin/login"
	if r.Method == http.MethodGet && r.URL.Path != "/admin/" {
		to += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

type continuePage struct{ URL string }

// view is what the layout gets; Page is the page's own data.
type view struct {
	Title     string
	Section   string
	Admin     *store.Admin
	CSRF      string
	Envs      []store.Environment
	Env       *store.Environment
	Notice    string
	RequestID string
	Page      any
}

// render writes a page. The notice named by ?notice= (a fixed message, never
// text from the URL) is shown on GET pages.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, c *call, status int, name, title, section string, data any) {
	v := view{Title: title, Section: section, Admin: c.Admin, CSRF: c.CSRF, Envs: c.Envs, Env: c.Env,
		RequestID: web.RequestID(r.Context()), Page: data}
	if r.Method == http.MethodGet {
		v.Notice = notices[r.URL.Query().Get("notice")]
	}
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		h.Logger.ErrorContext(r.Context(), "render dashboard page", "page", name, "request_id", v.RequestID, "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("Internal error. Reference: " + template.HTMLEscapeString(v.RequestID))
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// notices are the confirmations shown after a change (?notice=key).
var notices = map[string]string{
	"signed_out":          "You have been signed out.",
	"password_set":        "Your password is set.",
	"password_changed":    "Your password has been changed.",
	"totp_enabled":        "Two-factor authentication is on. You will be asked for a code when you sign in with your password.",
	"totp_disabled":       "Two-factor authentication is off.",
	"environment_created": "Environment created. Add a redirect URI and an API key to start.",
	"settings_saved":      "Settings saved.",
	"user_updated":        "User saved.",
	"user_deleted":        "User deleted.",
	"session_revoked":     "Session revoked. The user's app will be signed out at its next refresh.",
	"redirect_added":      "Redirect added.",
	"redirect_removed":    "Redirect removed.",
	"default_set":         "Default updated.",
	"sign_in_endpoint":    "Sign-in endpoint saved.",
	"cors_saved":          "CORS origins saved.",
	"api_key_revoked":     "API key revoked. Requests with it now get 401.",
	"branding_saved":      "Branding saved.",
}

// seeOther redirects after a successful POST, with an optional notice.
func seeOther(w http.ResponseWriter, r *http.Request, path, notice string) error {
	path, frag, _ := strings.Cut(path, "#")
	if notice != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "notice=" + url.QueryEscape(notice)
	}
	if frag != "" {
		path += "#" + frag
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
	return nil
}

// now is the dashboard's clock.
func (h *Handler) now() time.Time {
	if h.Now != nil {
		return store.Truncate(h.Now())
	}
	return store.Now()
}

// client returns what the domain records about the requester.
func client(r *http.Request) adminauth.Client {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	return adminauth.Client{IP: ip, UserAgent: r.UserAgent()}
}

// audit records an admin's change to an environment.
func (h *Handler) audit(r *http.Request, c *call, typ, target string, data map[string]string) {
	envID := ""
	if c.Env != nil {
		envID = c.Env.ID
	}
	h.Auth.Record(r.Context(), adminauth.Audit{EnvironmentID: envID, Type: typ, ActorID: c.Admin.ID,
		TargetID: target, IP: client(r).IP, Data: data})
}

// envURL returns the path of a page of the call's environment.
func envURL(env *store.Environment, rest string) string {
	return "/admin/env/" + url.PathEscape(env.ID) + "/" + rest
}

// fieldErrors turns a validation error into messages by field, or reports
// that err is no validation error.
func fieldErrors(err error) (map[string]string, string, bool) {
	e, ok := errs.As(err)
	if !ok || (e.Kind != errs.Invalid && e.Kind != errs.Conflict) {
		return nil, "", false
	}
	fields := map[string]string{}
	for _, f := range e.Fields {
		if _, seen := fields[f.Field]; !seen {
			fields[f.Field] = f.Message
		}
	}
	return fields, e.Message, true
}

// errCode returns the code of a domain error, or "".
func errCode(err error) string {
	if e, ok := errs.As(err); ok {
		return e.Code
	}
	return ""
}
