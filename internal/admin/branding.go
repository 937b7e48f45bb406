package admin

import (
	"fmt"
	"github.com/gatehouse/gatehouse/internal/brand"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Branding limits.
const (
	maxAppName = 100
	maxLogoURL = 2048
)

var colorRE = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// appearances are the allowed Branding.Appearance values.
var appearances = []string{"auto", "light", "dark"}

// validateBranding checks and normalises branding as the form sent it,
// returning a message per field at fault. Logos must be https (http too in
// development environments); colours are #rrggbb.
func validateBranding(b store.Branding, env *store.Environment) (store.Branding, map[string]string) {
	errs := map[string]string{}
	b.AppName = strings.TrimSpace(b.AppName)
	if !utf8.ValidString(b.AppName) || strings.IndexFunc(b.AppName, unicode.IsControl) >= 0 {
		errs["app_name"] = "The app name contains characters that are not allowed."
	} else if utf8.RuneCountInString(b.AppName) > maxAppName {
		errs["app_name"] = fmt.Sprintf("The app name must be at most %d characters.", maxAppName)
	}
	b.LogoURL = strings.TrimSpace(b.LogoURL)
	if b.LogoURL != "" {
		u, err := url.Parse(b.LogoURL)
		dev := env.Type == store.Development
		switch {
		case len(b.LogoURL) > maxLogoURL || err != nil || u.Host == "" || u.User != nil || u.Opaque != "":
			errs["logo_url"] = "Enter the full URL of an image, like https://example.com/logo.png."
		case u.Scheme != "https" && !(u.Scheme == "http" && dev):
			if dev {
				errs["logo_url"] = "The logo URL must start with https:// or http://."
			} else {
				errs["logo_url"] = "The logo URL must start with https:// (http is allowed only in development environments)."
			}
		default:
			b.LogoURL = u.String()
		}
	}
	b.PrimaryColor = strings.ToLower(strings.TrimSpace(b.PrimaryColor))
	if b.PrimaryColor != "" && !colorRE.MatchString(b.PrimaryColor) {
		errs["primary_color"] = "Write the colour as # and six hex digits, like #3b5bdb."
	}
	switch b.Appearance {
	case "", "auto":
		b.Appearance = "auto"
	case "light", "dark":
	default:
		errs["appearance"] = "Choose light, dark or auto."
	}
	return b, errs
}

type brandingPage struct {
	Branding    store.Branding
	Saved       store.Branding
	Appearances []string
	Errors      map[string]string
	Development bool
}

func (h *Handler) renderBranding(w http.ResponseWriter, r *http.Request, c *call, status int, form store.Branding, errs map[string]string) {
	saved := c.Env.Branding
	if saved.Appearance == "" {
		saved.Appearance = "auto"
	}
	if form.Appearance == "" {
		form.Appearance = "auto"
	}
	h.render(w, r, c, status, "branding", "Branding", "branding", brandingPage{Branding: form, Saved: saved,
		Appearances: appearances, Errors: errs, Development: c.Env.Type == store.Development})
}

func (h *Handler) brandingPage(w http.ResponseWriter, r *http.Request, c *call) error {
	h.renderBranding(w, r, c, http.StatusOK, c.Env.Branding, nil)
	return nil
}

func (h *Handler) saveBranding(w http.ResponseWriter, r *http.Request, c *call) error {
	in := store.Branding{AppName: r.PostFormValue("app_name"), LogoURL: r.PostFormValue("logo_url"),
		PrimaryColor: r.PostFormValue("primary_color"), Appearance: r.PostFormValue("appearance")}
	b, problems := validateBranding(in, c.Env)
	if len(problems) > 0 {
		h.renderBranding(w, r, c, http.StatusUnprocessableEntity, in, problems)
		return nil
	}
	now := h.now()
	if _, err := h.Store.UpdateEnvironment(r.Context(), c.Env.ID, func(e *store.Environment) error {
		e.Branding = b
		e.UpdatedAt = now
		return nil
	}); err != nil {
		return err
	}
	h.audit(r, c, EventBrandingUpdated, c.Env.ID, map[string]string{"app_name": b.AppName, "logo_url": b.LogoURL,
		"primary_color": b.PrimaryColor, "appearance": b.Appearance})
	return seeOther(w, r, envURL(c.Env, "branding"), "branding_saved")
}

// defaultBrandColor is the hosted pages' accent when none is set.
const defaultBrandColor = "#3b5bdb"

// brandingCSS serves the saved colour as a stylesheet, so the preview shows
// it without inline styles (which the CSP forbids). The colour was checked
// against #rrggbb when saved; anything else falls back to the default.
func (h *Handler) brandingCSS(w http.ResponseWriter, r *http.Request, c *call) error {
	color := c.Env.Branding.PrimaryColor
	if !colorRE.MatchString(color) {
		color = defaultBrandColor
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	fmt.Fprintf(w, ".preview { --brand: %s; --brand-text: %s; }\n", color, brand.TextOn(color))
	return nil
}
