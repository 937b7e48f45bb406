package hosted

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/gatehouse/gatehouse/internal/brand"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/gatehouse/gatehouse/internal/store"
)

var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// brandOf returns the name, logo URL and stylesheet URL of an
// environment's hosted pages.
func brandOf(env *store.Environment) (name, logo, css string) {
	b := env.Branding
	name = env.Name
	if b.AppName != "" {
		name = b.AppName
	}
	if u, err := url.Parse(b.LogoURL); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		logo = b.LogoURL
	}
	sum := sha256.Sum256([]byte(b.PrimaryColor + "|" + b.Appearance))
	css = "/assets/brand/" + url.PathEscape(env.ClientID) + ".css?v=" + hex.EncodeToString(sum[:6])
	return name, logo, css
}

// Colour sets for a forced appearance; they mirror style.css.
const (
	lightVars = `--bg:#f5f6f8;--card:#ffffff;--text:#15171a;--muted:#5b6270;--border:#d5d9e0;--error:#b42318;--error-bg:#fef3f2;--focus:#1c7ed6;color-scheme:light;`
	darkVars  = `--bg:#101215;--card:#1a1d22;--text:#eceef1;--muted:#a3aab5;--border:#343a44;--error:#ff8a80;--error-bg:#2a1414;--focus:#74c0fc;color-scheme:dark;`
)

// brandCSS serves an environment's colours. Values are re-validated here,
// whatever the database holds, so nothing but a colour reaches the CSS.
func (h *Handler) brandCSS(w http.ResponseWriter, r *http.Request) {
	env, err := h.Store.GetEnvironmentByClientID(r.Context(), strings.TrimSuffix(r.PathValue("file"), ".css"))
	if errors.Is(err, store.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	var css strings.Builder
	switch env.Branding.Appearance {
	case "light":
		css.WriteString(":root{" + lightVars + "}\n")
	case "dark":
		css.WriteString(":root{" + darkVars + "}\n")
	}
	if c := env.Branding.PrimaryColor; colorRE.MatchString(c) {
		fmt.Fprintf(&css, ":root{--accent:%s;--accent-text:%s;}\n", strings.ToLower(c), brand.TextOn(c))
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write([]byte(css.String()))
}
