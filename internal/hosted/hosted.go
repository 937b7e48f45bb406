package hosted

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/authflow"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/web"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Handler serves the hosted pages.
type Handler struct {
	Flow   *authflow.Service
	Store  store.Store
	Logger *slog.Logger
	// SecureCookies sets the Secure attribute on cookies. It is on whenever
	// the public URL is https; a plain-http dev server cannot use it.
	SecureCookies bool
	pages         map[string]*template.Template
}

// New parses the templates (so a broken template fails at start, not on a
// user's request) and returns a Handler.
func New(h Handler) (*Handler, error) {
	h.pages = map[string]*template.Template{}
	for _, name := range []string{"sign_in", "sign_up", "message", "code", "email_form", "reset"} {
		t, err := template.New(name).ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		h.pages[name] = t
	}
	return &h, nil
}

// Routes registers the hosted routes on mux.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /user_management/authorize", h.authorize)
	mux.HandleFunc("GET /hosted/{client_id}/sign-in", h.signInPage)
	mux.HandleFunc("POST /hosted/{client_id}/sign-in", h.signInSubmit)
	mux.HandleFunc("GET /hosted/{client_id}/sign-up", h.signUpPage)
	mux.HandleFunc("POST /hosted/{client_id}/sign-up", h.signUpSubmit)
	mux.HandleFunc("GET /user_management/sessions/logout", h.logout)
	mux.HandleFunc("GET /hosted/{client_id}/verify-email", h.verifyPage)
	mux.HandleFunc("POST /hosted/{client_id}/verify-email", h.verifySubmit)
	mux.HandleFunc("GET /hosted/{client_id}/magic", h.magicPage)
	mux.HandleFunc("POST /hosted/{client_id}/magic", h.magicSubmit)
	mux.HandleFunc("GET /hosted/{client_id}/magic-code", h.magicCodePage)
	mux.HandleFunc("POST /hosted/{client_id}/magic-code", h.magicCodeSubmit)
	mux.HandleFunc("GET /hosted/{client_id}/forgot-password", h.forgotPage)
	mux.HandleFunc("POST /hosted/{client_id}/forgot-password", h.forgotSubmit)
	mux.HandleFunc("GET /hosted/{client_id}/reset-password", h.resetPage)
	mux.HandleFunc("POST /hosted/{client_id}/reset-password", h.resetSubmit)
	mux.HandleFunc("GET /assets/brand/{file}", h.brandCSS)
	static, _ := fs.Sub(staticFiles, "static")
	files := http.StripPrefix("/assets/", http.FileServerFS(static))
	mux.Handle("GET /assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	}))
}

// page is the data every template gets.
type page struct {
	Title       string
	Brand       string
	LogoURL     string
	BrandCSS    string
	CSRF        string
	Request     string
	Action      string
	SwitchURL   string
	Email       string
	FirstName   string
	LastName    string
	Errors      map[string]string
	FormError   string
	Message     string
	Detail      string
	Hidden      map[string]string
	Submit      string
	SwitchText  string
	ResendLabel string
	ForgotURL   string
	MagicURL    string
	LinkURL     string
	LinkText    string
	RequestID   string
}

// setSecurityHeaders sends the headers every hosted page carries.
// formTarget is the origin a form on the page may end up at after its
// redirect (the app's redirect URI); browsers apply form-action to the
// whole redirect chain of a submission.
func setSecurityHeaders(w http.ResponseWriter, formTarget string, imgOrigins ...string) {
	formAction := "'self'"
	if formTarget != "" {
		formAction += " " + formTarget
	}
	img := "'self' data:"
	for _, o := range imgOrigins {
		if o != "" {
			img += " " + o
		}
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src "+img+"; form-action "+formAction+
		"; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
}

// render writes a page with the given status.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p page, formTarget string) {
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		h.Logger.ErrorContext(r.Context(), "render page", "page", name, "request_id", web.RequestID(r.Context()), "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("Internal error. Reference: " + web.RequestID(r.Context()))
	}
	setSecurityHeaders(w, formTarget, origin(p.LogoURL))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// message renders the message page.
func (h *Handler) message(w http.ResponseWriter, r *http.Request, status int, brand, title, msg, detail string) {
	if brand == "" {
		brand = "Gatehouse"
	}
	p := page{Title: title, Brand: brand, Message: msg, Detail: detail}
	if status >= 400 {
		p.RequestID = web.RequestID(r.Context()) // a reference to quote to support
	}
	h.render(w, r, status, "message", p, "")
}

// serverError logs err and shows a generic error page.
func (h *Handler) serverError(w http.ResponseWriter, r *http.Request, err error) {
	h.Logger.ErrorContext(r.Context(), "hosted page failed", "request_id", web.RequestID(r.Context()),
		"method", r.Method, "path", r.URL.Path, "err", err)
	status, title, msg := http.StatusInternalServerError, "Something went wrong", "Gatehouse could not finish this step. Try again in a moment."
	if e, ok := web.Unavailable(err); ok {
		status, msg = http.StatusServiceUnavailable, e
		w.Header().Set("Retry-After", "1")
	}
	h.message(w, r, status, "", title, msg, "")
}

// origin returns scheme://host[:port] of a URL, for CSP.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// clientOf returns what the flow records about the requester.
func clientOf(r *http.Request) authflow.Client {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	return authflow.Client{IP: ip, UserAgent: r.UserAgent()}
}

const csrfCookie = "gh_csrf"

// csrfToken returns the browser's CSRF token, setting a new one if absent.
func (h *Handler) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	b := make([]byte, 32)
	rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: tok, Path: "/hosted/", HttpOnly: true,
		Secure: h.SecureCookies, SameSite: http.SameSiteStrictMode, MaxAge: 24 * 3600})
	return tok
}

// checkCSRF reports whether a form POST carries the browser's CSRF token
// and was not sent cross-site.
func checkCSRF(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" {
		return false
	}
	form := r.PostFormValue("csrf_token")
	return subtle.ConstantTimeCompare([]byte(form), []byte(c.Value)) == 1
}

// sessionCookieName is the browser-session cookie of one environment, so
// one Gatehouse host can serve several environments to one browser.
func sessionCookieName(env *store.Environment) string { return "gh_" + env.ID }

func (h *Handler) setSessionCookie(w http.ResponseWriter, env *store.Environment, token string) {
	e := env.WithDefaults()
	http.SetCookie(w, &http.Cookie{Name: sessionCookieName(env), Value: token, Path: "/", HttpOnly: true,
		Secure: h.SecureCookies, SameSite: http.SameSiteLaxMode, MaxAge: int(e.SessionLifetime / time.Second)})
}

func (h *Handler) clearSessionCookie(w http.ResponseWriter, env *store.Environment) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookieName(env), Value: "", Path: "/", HttpOnly: true,
		Secure: h.SecureCookies, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// maxFormBytes bounds hosted form bodies.
const maxFormBytes = 16 << 10

func limitForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return false
	}
	return !strings.Contains(r.Header.Get("Content-Type"), "multipart")
}
