package admin

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Event types for admins' changes to an environment.
const (
	EventEnvironmentCreated = "admin.environment_created"
	EventSettingsUpdated    = "admin.settings_updated"
	EventUserUpdated        = "admin.user_updated"
	EventUserDeleted        = "admin.user_deleted"
	EventSessionRevoked     = "admin.session_revoked"
	EventRedirectAdded      = "admin.redirect_added"
	EventRedirectRemoved    = "admin.redirect_removed"
	EventRedirectDefault    = "admin.redirect_default_set"
	EventSignInEndpoint     = "admin.sign_in_endpoint_updated"
	EventCORSOrigins        = "admin.cors_origins_updated"
	EventAPIKeyCreated      = "admin.api_key_created"
	EventAPIKeyRevoked      = "admin.api_key_revoked"
	EventBrandingUpdated    = "admin.branding_updated"
)

// envEventTypes are offered by an environment's activity filter: what the
// sign-in flow records, then admins' changes.
var envEventTypes = []string{
	"user.signed_up", "user.signed_in", "user.sign_in_failed", "session.ended", "session.revoked",
	EventEnvironmentCreated, EventSettingsUpdated, EventUserUpdated, EventUserDeleted, EventSessionRevoked,
	EventRedirectAdded, EventRedirectRemoved, EventRedirectDefault, EventSignInEndpoint, EventCORSOrigins,
	EventAPIKeyCreated, EventAPIKeyRevoked, EventBrandingUpdated,
}

// pageSize is the length of the dashboard's lists.
const pageSize = 50

// cursor accepts a keyset cursor from a query string: an ID, short.
func cursor(s string) string {
	if len(s) > 100 || strings.ContainsAny(s, " \t\r\n") {
		return ""
	}
	return s
}

func (h *Handler) activityPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return h.activity(w, r, c, c.Env.ID, envURL(c.Env, "activity"), envEventTypes)
}

func (h *Handler) activity(w http.ResponseWriter, r *http.Request, c *call, envID, base string, types []string) error {
	q := r.URL.Query()
	typ := strings.TrimSpace(q.Get("type"))
	if len(typ) > 100 {
		typ = ""
	}
	var filter []string
	if typ != "" {
		filter = []string{typ}
		if !slices.Contains(types, typ) {
			types = append(slices.Clone(types), typ)
		}
	}
	page, err := h.Store.ListEvents(r.Context(), envID, filter,
		store.ListParams{Limit: pageSize, Order: store.Desc, After: cursor(q.Get("after")), Before: cursor(q.Get("before"))})
	if err != nil {
		return err
	}
	link := func(key, id string) string {
		if id == "" {
			return ""
		}
		v := url.Values{key: {id}}
		if typ != "" {
			v.Set("type", typ)
		}
		return base + "?" + v.Encode()
	}
	admins, err := h.Store.ListAdmins(r.Context())
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, a := range admins {
		names[a.ID] = a.Email
	}
	p := activityPage{Events: page.Data, Types: types, Type: typ, Prev: link("before", page.Before), Next: link("after", page.After),
		Server: envID == "", BaseURL: base, Admins: names}
	section, title := "activity", "Activity"
	if envID == "" {
		section, title = "server-activity", "Admin activity"
	}
	h.render(w, r, c, http.StatusOK, "activity", title, section, p)
	return nil
}
