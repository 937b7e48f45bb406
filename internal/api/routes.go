package api

import (
	"log/slog"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/authflow"
	"github.com/gatehouse/gatehouse/internal/environments"
	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/idempotency"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/tokens"
	"github.com/gatehouse/gatehouse/internal/users"
	"github.com/gatehouse/gatehouse/internal/web"
)

// Handler serves the JSON API.
type Handler struct {
	Environments *environments.Service
	Users        *users.Service
	Flow         *authflow.Service
	Keys         *tokens.Keyring
	Logger       *slog.Logger
	// Idempotency replays the response to a retried authenticate that
	// carries an Idempotency-Key; nil turns that off.
	Idempotency *idempotency.Service
}

// Routes registers the API's routes on mux.
func (h *Handler) Routes(mux *http.ServeMux) {
	h.route(mux, "/user_management/users", map[string]web.Handler{
		http.MethodGet:  h.authed(h.listUsers),
		http.MethodPost: h.authed(h.createUser),
	})
	h.route(mux, "/user_management/users/{id}", map[string]web.Handler{
		http.MethodGet:    h.authed(h.getUser),
		http.MethodPut:    h.authed(h.updateUser),
		http.MethodDelete: h.authed(h.deleteUser),
	})
	// users/external_id/{external_id} and users/{id}/sessions overlap as
	// mux patterns, so one route serves both.
	h.route(mux, "/user_management/users/{a}/{b}", map[string]web.Handler{
		http.MethodGet: h.authed(h.userSubresource),
	})
	h.route(mux, "/user_management/users/{id}/email_verification/send", map[string]web.Handler{
		http.MethodPost: h.authed(h.sendVerification),
	})
	h.route(mux, "/user_management/users/{id}/email_verification/confirm", map[string]web.Handler{
		http.MethodPost: h.authed(h.confirmVerification),
	})
	h.route(mux, "/user_management/email_verification/{id}", map[string]web.Handler{
		http.MethodGet: h.authed(h.getChallenge(store.ChallengeEmailVerification)),
	})
	h.route(mux, "/user_management/password_reset", map[string]web.Handler{
		http.MethodPost: h.authed(h.createPasswordReset),
	})
	// POST …/password_reset/confirm and GET …/password_reset/{id} overlap
	// as mux patterns, so one route serves both.
	h.route(mux, "/user_management/password_reset/{id}", map[string]web.Handler{
		http.MethodGet: h.authed(h.getChallenge(store.ChallengePasswordReset)),
		http.MethodPost: h.authed(func(w http.ResponseWriter, r *http.Request) error {
			if r.PathValue("id") != "confirm" {
				return errs.New(errs.NotFound, "not_found", "No such endpoint: "+r.Method+" "+r.URL.Path)
			}
			return h.confirmPasswordReset(w, r)
		}),
	})
	h.route(mux, "/user_management/magic_auth", map[string]web.Handler{
		http.MethodPost: h.authed(h.createMagicAuth),
	})
	h.route(mux, "/user_management/magic_auth/{id}", map[string]web.Handler{
		http.MethodGet: h.authed(h.getChallenge(store.ChallengeMagicAuth)),
	})
	h.route(mux, "/user_management/sessions/revoke", map[string]web.Handler{
		http.MethodPost: h.authed(h.revokeSession),
	})
	// Public: authenticated by the body (client_id + client_secret, or PKCE).
	h.route(mux, "/user_management/authenticate", map[string]web.Handler{
		http.MethodPost:    h.authenticate,
		http.MethodOptions: h.preflight,
	})
	h.route(mux, "/sso/jwks/{client_id}", map[string]web.Handler{
		http.MethodGet: h.jwks,
	})
}

// route registers one handler per method on a path, and a JSON 405 for
// any other method (the mux's own 405 is plain text).
func (h *Handler) route(mux *http.ServeMux, path string, methods map[string]web.Handler) {
	allow := ""
	for m, fn := range methods {
		mux.Handle(m+" "+path, web.JSON(h.Logger, fn))
		if allow != "" {
			allow += ", "
		}
		allow += m
	}
	mux.Handle(path, web.JSON(h.Logger, func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", allow)
		web.WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{
			"message": "Method " + r.Method + " is not allowed here.", "code": "method_not_allowed"})
		return nil
	}))
}

// NotFound answers any path no route matched.
func (h *Handler) NotFound(w http.ResponseWriter, r *http.Request) {
	web.WriteError(w, r, h.Logger, errs.New(errs.NotFound, "not_found", "No such endpoint: "+r.Method+" "+r.URL.Path))
}

func (h *Handler) userSubresource(w http.ResponseWriter, r *http.Request) error {
	a, b := r.PathValue("a"), r.PathValue("b")
	switch {
	case a == "external_id":
		r.SetPathValue("external_id", b)
		return h.getUserByExternalID(w, r)
	case b == "sessions":
		r.SetPathValue("id", a)
		return h.listSessions(w, r)
	}
	return errs.New(errs.NotFound, "not_found", "No such endpoint: "+r.Method+" "+r.URL.Path)
}
