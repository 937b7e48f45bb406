package api

import (
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/authflow"
	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/web"
)

// sessionJSON is the Session object on the wire (workos-compat.md §4).
type sessionJSON struct {
	Object         string  `json:"object"`
	ID             string  `json:"id"`
	UserID         string  `json:"user_id"`
	IPAddress      *string `json:"ip_address"`
	UserAgent      *string `json:"user_agent"`
	OrganizationID *string `json:"organization_id,omitempty"`
	AuthMethod     string  `json:"auth_method"`
	Status         string  `json:"status"`
	ExpiresAt      string  `json:"expires_at"`
	EndedAt        *string `json:"ended_at"`
	CreatedAt      string  `json:"created_at"`
	UpdatedAt      string  `json:"updated_at"`
}

func (h *Handler) toSessionJSON(env *store.Environment, s *store.Session) sessionJSON {
	method := s.AuthMethod
	if method == "" {
		method = "unknown"
	}
	return sessionJSON{
		Object: "session", ID: s.ID, UserID: s.UserID, IPAddress: nullable(s.IPAddress), UserAgent: nullable(s.UserAgent),
		OrganizationID: nullable(s.OrganizationID), AuthMethod: method, Status: authflow.SessionStatus(env, s, h.Flow.Clock()),
		ExpiresAt: web.Time(s.ExpiresAt), EndedAt: timePtr(s.EndedAt), CreatedAt: web.Time(s.CreatedAt), UpdatedAt: web.Time(s.UpdatedAt),
	}
}

func (h *Handler) listSessions(w http.ResponseWriter, r *http.Request) error {
	env := environment(r.Context())
	p, err := listParams(r)
	if err != nil {
		return err
	}
	if _, err := h.Users.Get(r.Context(), env.ID, r.PathValue("id")); err != nil {
		return err
	}
	page, err := h.Environments.Store.ListUserSessions(r.Context(), env.ID, r.PathValue("id"), p)
	if err != nil {
		return err
	}
	out := listJSON[sessionJSON]{Object: "list", Data: []sessionJSON{},
		ListMetadata: listMetadata{Before: nullable(page.Before), After: nullable(page.After)}}
	for i := range page.Data {
		out.Data = append(out.Data, h.toSessionJSON(env, &page.Data[i]))
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) revokeSession(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		SessionID string `json:"session_id"`
	}
	if err := web.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.SessionID == "" {
		return errs.Validation(errs.FieldError{Field: "session_id", Code: "required", Message: "session_id is required."})
	}
	err := h.Flow.RevokeSession(r.Context(), environment(r.Context()), req.SessionID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]bool{"success": true})
	return nil
}
