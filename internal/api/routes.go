package api

import (
	"log/slog"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/environments"
	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/users"
	"github.com/gatehouse/gatehouse/internal/web"
)

// Handler serves the JSON API.
type Handler struct {
	Environments *environments.Service
	Users        *users.Service
	Logger       *slog.Logger
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
	h.route(mux, "/user_management/users/external_id/{external_id}", map[string]web.Handler{
		http.MethodGet: h.authed(h.getUserByExternalID),
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
