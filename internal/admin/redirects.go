package admin

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/store"
)

// redirectKinds maps the {kind} path segment to a redirect kind.
var redirectKinds = map[string]store.RedirectKind{
	"redirect-uris": store.RedirectURI,
	"sign-out":      store.SignOutRedirect,
}

type redirectsPage struct {
	RedirectURIs   []store.Redirect
	SignOut        []store.Redirect
	SignInEndpoint string
	CORSOrigins    string
	Development    bool
	// Errors and Values are keyed by form: redirect-uris, sign-out,
	// sign-in-endpoint, cors-origins.
	Errors map[string]*formError
	Values map[string]string
}

// formError is a refusal shown next to its form; Rule is the broken rule's
// code, when there is one.
type formError struct {
	Message string
	Rule    string
}

func (h *Handler) renderRedirects(w http.ResponseWriter, r *http.Request, c *call, status int, form string, err error, value string) error {
	ctx := r.Context()
	uris, lerr := h.Store.ListRedirects(ctx, c.Env.ID, store.RedirectURI)
	if lerr != nil {
		return lerr
	}
	signOut, lerr := h.Store.ListRedirects(ctx, c.Env.ID, store.SignOutRedirect)
	if lerr != nil {
		return lerr
	}
	p := redirectsPage{RedirectURIs: uris, SignOut: signOut, SignInEndpoint: c.Env.SignInEndpoint,
		CORSOrigins: strings.Join(c.Env.CORSOrigins, "\n"), Development: c.Env.Type == store.Development,
		Errors: map[string]*formError{}, Values: map[string]string{}}
	if err != nil {
		e, _ := errs.As(err)
		p.Errors[form] = &formError{Message: e.Message, Rule: e.Code}
		p.Values[form] = value
		if form == "sign-in-endpoint" {
			p.SignInEndpoint = value
		}
		if form == "cors-origins" {
			p.CORSOrigins = value
		}
	}
	h.render(w, r, c, status, "redirects", "Redirects", "redirects", p)
	return nil
}

func (h *Handler) redirectsPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return h.renderRedirects(w, r, c, http.StatusOK, "", nil, "")
}

// refused reports whether err is a rule or state refusal to show by the
// form (rather than an error page).
func refused(err error) bool {
	e, ok := errs.As(err)
	return ok && (e.Kind == errs.Invalid || e.Kind == errs.Conflict || e.Kind == errs.NotFound)
}

func kindOf(r *http.Request) (string, store.RedirectKind, error) {
	name := r.PathValue("kind")
	kind, ok := redirectKinds[name]
	if !ok {
		return "", "", errs.New(errs.NotFound, "not_found", "There is no such kind of redirect.")
	}
	return name, kind, nil
}

func (h *Handler) addRedirect(w http.ResponseWriter, r *http.Request, c *call) error {
	name, kind, err := kindOf(r)
	if err != nil {
		return err
	}
	uri := strings.TrimSpace(r.PostFormValue("uri"))
	red, err := h.Environments.AddRedirect(r.Context(), c.Env, kind, uri, r.PostFormValue("default") != "")
	if refused(err) {
		return h.renderRedirects(w, r, c, http.StatusUnprocessableEntity, name, err, uri)
	}
	if err != nil {
		return err
	}
	def := "false"
	if red.Default {
		def = "true"
	}
	h.audit(r, c, EventRedirectAdded, red.ID, map[string]string{"kind": string(kind), "uri": red.URI, "default": def})
	return seeOther(w, r, envURL(c.Env, "redirects#"+name), "redirect_added")
}

func (h *Handler) removeRedirect(w http.ResponseWriter, r *http.Request, c *call) error {
	name, kind, err := kindOf(r)
	if err != nil {
		return err
	}
	uri := r.PostFormValue("uri")
	err = h.Environments.RemoveRedirect(r.Context(), c.Env, kind, uri)
	if refused(err) {
		return h.renderRedirects(w, r, c, http.StatusUnprocessableEntity, name, err, "")
	}
	if err != nil {
		return err
	}
	h.audit(r, c, EventRedirectRemoved, "", map[string]string{"kind": string(kind), "uri": uri})
	return seeOther(w, r, envURL(c.Env, "redirects#"+name), "redirect_removed")
}

func (h *Handler) defaultRedirect(w http.ResponseWriter, r *http.Request, c *call) error {
	name, kind, err := kindOf(r)
	if err != nil {
		return err
	}
	uri := r.PostFormValue("uri")
	err = h.Environments.SetDefaultRedirect(r.Context(), c.Env, kind, uri)
	if refused(err) {
		return h.renderRedirects(w, r, c, http.StatusUnprocessableEntity, name, err, "")
	}
	if err != nil {
		return err
	}
	h.audit(r, c, EventRedirectDefault, "", map[string]string{"kind": string(kind), "uri": uri})
	return seeOther(w, r, envURL(c.Env, "redirects#"+name), "default_set")
}

func (h *Handler) setSignInEndpoint(w http.ResponseWriter, r *http.Request, c *call) error {
	uri := strings.TrimSpace(r.PostFormValue("uri"))
	if r.PostFormValue("action") == "clear" {
		uri = ""
	}
	env, err := h.Environments.SetSignInEndpoint(r.Context(), c.Env, uri)
	if refused(err) {
		return h.renderRedirects(w, r, c, http.StatusUnprocessableEntity, "sign-in-endpoint", err, uri)
	}
	if err != nil {
		return err
	}
	h.audit(r, c, EventSignInEndpoint, env.ID, map[string]string{"uri": env.SignInEndpoint})
	return seeOther(w, r, envURL(c.Env, "redirects#sign-in-endpoint"), "sign_in_endpoint")
}

func (h *Handler) setCORSOrigins(w http.ResponseWriter, r *http.Request, c *call) error {
	text := r.PostFormValue("origins")
	origins := strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' || r == ' ' || r == '\t' })
	env, err := h.Environments.SetCORSOrigins(r.Context(), c.Env, origins)
	if refused(err) {
		return h.renderRedirects(w, r, c, http.StatusUnprocessableEntity, "cors-origins", err, text)
	}
	if err != nil {
		return err
	}
	h.audit(r, c, EventCORSOrigins, env.ID, map[string]string{"origins": strings.Join(env.CORSOrigins, " ")})
	return seeOther(w, r, envURL(c.Env, "redirects#cors-origins"), "cors_saved")
}

// redirectList is the data of the redirect-list template, which the
// redirects page uses once per kind.
type redirectList struct {
	View      view
	Page      redirectsPage
	Kind      string
	Title     string
	Help      string
	Redirects []store.Redirect
}

func newRedirectList(v view, kind, title, help string, rs []store.Redirect) redirectList {
	p, _ := v.Page.(redirectsPage)
	return redirectList{View: v, Page: p, Kind: kind, Title: title, Help: help, Redirects: rs}
}
