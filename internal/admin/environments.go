package admin

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/environments"
	"github.com/gatehouse/gatehouse/internal/store"
)

// home sends the admin to the first environment, or to create one.
func (h *Handler) home(w http.ResponseWriter, r *http.Request, c *call) error {
	if len(c.Envs) == 0 {
		return seeOther(w, r, "/admin/environments", r.URL.Query().Get("notice"))
	}
	return seeOther(w, r, envURL(&c.Envs[0], "users"), r.URL.Query().Get("notice"))
}

func (h *Handler) envHome(w http.ResponseWriter, r *http.Request, c *call) error {
	return seeOther(w, r, envURL(c.Env, "users"), "")
}

// sections are the pages of an environment, for the switcher.
var sections = []string{"users", "redirects", "api-keys", "branding", "activity", "settings"}

// switchEnvironment answers the switcher form: the same section of
// another environment.
func (h *Handler) switchEnvironment(w http.ResponseWriter, r *http.Request, c *call) error {
	id := r.URL.Query().Get("env")
	section := r.URL.Query().Get("section")
	if !slices.Contains(sections, section) {
		section = "users"
	}
	for i := range c.Envs {
		if c.Envs[i].ID == id {
			return seeOther(w, r, envURL(&c.Envs[i], section), "")
		}
	}
	return seeOther(w, r, "/admin/environments", "")
}

type environmentsPage struct {
	Name      string
	Type      string
	Errors    map[string]string
	FormError string
}

func (h *Handler) environmentsPage(w http.ResponseWriter, r *http.Request, c *call) error {
	h.render(w, r, c, http.StatusOK, "environments", "Environments", "environments", environmentsPage{Type: string(store.Development)})
	return nil
}

func (h *Handler) createEnvironment(w http.ResponseWriter, r *http.Request, c *call) error {
	p := environmentsPage{Name: strings.TrimSpace(r.PostFormValue("name")), Type: r.PostFormValue("type")}
	env, err := h.Environments.Create(r.Context(), p.Name, store.EnvironmentType(p.Type))
	if fields, msg, ok := fieldErrors(err); ok {
		p.Errors = fields
		if code := errCode(err); code == "invalid_name" {
			p.Errors["name"] = msg
		} else if code == "invalid_type" {
			p.Errors["type"] = msg
		} else if len(fields) == 0 {
			p.FormError = msg
		}
		h.render(w, r, c, http.StatusUnprocessableEntity, "environments", "Environments", "environments", p)
		return nil
	}
	if err != nil {
		return err
	}
	c.Env = env
	h.audit(r, c, EventEnvironmentCreated, env.ID, map[string]string{"name": env.Name, "type": string(env.Type)})
	return seeOther(w, r, envURL(env, "settings"), "environment_created")
}

type settingsPage struct {
	Name               string
	AccessTokenTTL     string
	SessionLifetime    string
	SessionIdleTimeout string
	SigningAlgorithm   string
	Errors             map[string]string
	FormError          string
}

func settingsOf(env *store.Environment) settingsPage {
	e := env.WithDefaults()
	return settingsPage{Name: e.Name, AccessTokenTTL: formatDuration(e.AccessTokenTTL), SessionLifetime: formatDuration(e.SessionLifetime),
		SessionIdleTimeout: formatDuration(e.SessionIdleTimeout), SigningAlgorithm: e.SigningAlgorithm}
}

func (h *Handler) settingsPage(w http.ResponseWriter, r *http.Request, c *call) error {
	h.render(w, r, c, http.StatusOK, "settings", "Settings", "settings", settingsOf(c.Env))
	return nil
}

func (h *Handler) saveSettings(w http.ResponseWriter, r *http.Request, c *call) error {
	p := settingsPage{Name: r.PostFormValue("name"), AccessTokenTTL: r.PostFormValue("access_token_ttl"),
		SessionLifetime: r.PostFormValue("session_lifetime"), SessionIdleTimeout: r.PostFormValue("session_idle_timeout"),
		SigningAlgorithm: r.PostFormValue("signing_algorithm"), Errors: map[string]string{}}
	old := c.Env.WithDefaults()
	in := environments.SettingsInput{Name: &p.Name, SigningAlgorithm: &p.SigningAlgorithm}
	changed := map[string]string{}
	durations := []struct {
		field string
		text  string
		dst   **time.Duration
		old   time.Duration
	}{
		{"access_token_ttl", p.AccessTokenTTL, &in.AccessTokenTTL, old.AccessTokenTTL},
		{"session_lifetime", p.SessionLifetime, &in.SessionLifetime, old.SessionLifetime},
		{"session_idle_timeout", p.SessionIdleTimeout, &in.SessionIdleTimeout, old.SessionIdleTimeout},
	}
	for _, d := range durations {
		v, err := parseDuration(d.text)
		if err != nil {
			p.Errors[d.field] = "Write a duration such as 90s, 5m, 12h or 30d."
			continue
		}
		*d.dst = &v
		if v != d.old {
			changed[d.field] = formatDuration(v)
		}
	}
	if len(p.Errors) > 0 {
		h.render(w, r, c, http.StatusUnprocessableEntity, "settings", "Settings", "settings", p)
		return nil
	}
	env, err := h.Environments.UpdateSettings(r.Context(), c.Env, in)
	if _, msg, ok := fieldErrors(err); ok {
		p.FormError = msg
		h.render(w, r, c, http.StatusUnprocessableEntity, "settings", "Settings", "settings", p)
		return nil
	}
	if err != nil {
		return err
	}
	if env.Name != old.Name {
		changed["name"] = env.Name
	}
	if env.SigningAlgorithm != old.SigningAlgorithm {
		changed["signing_algorithm"] = env.SigningAlgorithm
	}
	h.audit(r, c, EventSettingsUpdated, env.ID, changed)
	return seeOther(w, r, envURL(env, "settings"), "settings_saved")
}
