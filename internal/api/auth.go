package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/environments"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/web"
)

type ctxKey int

const envKey ctxKey = iota

// environment returns the environment the request's API key belongs to.
func environment(ctx context.Context) *store.Environment {
	return ctx.Value(envKey).(*store.Environment)
}

// authed requires a valid API key (Authorization: Bearer sk_…) and scopes
// the request to its environment.
func (h *Handler) authed(next web.Handler) web.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		scheme, secret, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return environments.ErrBadAPIKey
		}
		_, env, err := h.Environments.AuthenticateAPIKey(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			return err
		}
		return next(w, r.WithContext(context.WithValue(r.Context(), envKey, env)))
	}
}
