package admin

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/store"
)

type apiKeysPage struct {
	Keys      []store.APIKey
	Name      string
	FormError string
}

func (h *Handler) renderAPIKeys(w http.ResponseWriter, r *http.Request, c *call, status int, p apiKeysPage) error {
	keys, err := h.Store.ListAPIKeys(r.Context(), c.Env.ID)
	if err != nil {
		return err
	}
	// Newest first: the key just made or used is the one looked for.
	for i, j := 0, len(keys)-1; i < j; i, j = i+1, j-1 {
		keys[i], keys[j] = keys[j], keys[i]
	}
	p.Keys = keys
	h.render(w, r, c, status, "api_keys", "API keys", "api-keys", p)
	return nil
}

func (h *Handler) apiKeysPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return h.renderAPIKeys(w, r, c, http.StatusOK, apiKeysPage{})
}

type apiKeyCreatedPage struct {
	Key    *store.APIKey
	Secret string
}

// createAPIKey makes a key and shows its secret on the response page, the
// only time it is ever shown (the page is no-store).
func (h *Handler) createAPIKey(w http.ResponseWriter, r *http.Request, c *call) error {
	name := strings.TrimSpace(r.PostFormValue("name"))
	secret, key, err := h.Environments.CreateAPIKey(r.Context(), c.Env, name)
	if _, msg, ok := fieldErrors(err); ok {
		return h.renderAPIKeys(w, r, c, http.StatusUnprocessableEntity, apiKeysPage{Name: name, FormError: msg})
	}
	if err != nil {
		return err
	}
	h.audit(r, c, EventAPIKeyCreated, key.ID, map[string]string{"name": key.Name, "prefix": key.Prefix})
	h.render(w, r, c, http.StatusOK, "api_key_created", "API key created", "api-keys", apiKeyCreatedPage{Key: key, Secret: secret})
	return nil
}

// apiKey finds the path's key in the environment.
func (h *Handler) apiKey(r *http.Request, c *call) (*store.APIKey, error) {
	keys, err := h.Store.ListAPIKeys(r.Context(), c.Env.ID)
	if err != nil {
		return nil, err
	}
	for i := range keys {
		if keys[i].ID == r.PathValue("key") {
			return &keys[i], nil
		}
	}
	return nil, errs.New(errs.NotFound, "api_key_not_found", "This environment has no such API key.")
}

func (h *Handler) revokeAPIKeyPage(w http.ResponseWriter, r *http.Request, c *call) error {
	key, err := h.apiKey(r, c)
	if err != nil {
		return err
	}
	h.render(w, r, c, http.StatusOK, "api_key_revoke", "Revoke API key", "api-keys", key)
	return nil
}

func (h *Handler) revokeAPIKey(w http.ResponseWriter, r *http.Request, c *call) error {
	key, err := h.apiKey(r, c)
	if err != nil {
		return err
	}
	if err := h.Environments.RevokeAPIKey(r.Context(), c.Env, key.ID); err != nil {
		return err
	}
	h.audit(r, c, EventAPIKeyRevoked, key.ID, map[string]string{"name": key.Name, "prefix": key.Prefix})
	return seeOther(w, r, envURL(c.Env, "api-keys"), "api_key_revoked")
}
