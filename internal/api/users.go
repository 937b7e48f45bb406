package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/opt"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/users"
	"github.com/gatehouse/gatehouse/internal/web"
)

// userJSON is the User object on the wire (workos-compat.md §4).
type userJSON struct {
	Object            string            `json:"object"`
	ID                string            `json:"id"`
	Email             string            `json:"email"`
	EmailVerified     bool              `json:"email_verified"`
	FirstName         *string           `json:"first_name"`
	LastName          *string           `json:"last_name"`
	Name              *string           `json:"name"`
	ProfilePictureURL *string           `json:"profile_picture_url"`
	LastSignInAt      *string           `json:"last_sign_in_at"`
	Locale            *string           `json:"locale"`
	ExternalID        *string           `json:"external_id"`
	Metadata          map[string]string `json:"metadata"`
	CreatedAt         string            `json:"created_at"`
	UpdatedAt         string            `json:"updated_at"`
}

func timePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := web.Time(*t)
	return &s
}

func toUserJSON(u *store.User) userJSON {
	meta := u.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	return userJSON{
		Object: "user", ID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified,
		FirstName: u.FirstName, LastName: u.LastName, Name: u.Name, ProfilePictureURL: u.ProfilePictureURL,
		LastSignInAt: timePtr(u.LastSignInAt), Locale: u.Locale, ExternalID: u.ExternalID, Metadata: meta,
		CreatedAt: web.Time(u.CreatedAt), UpdatedAt: web.Time(u.UpdatedAt),
	}
}

type listMetadata struct {
	Before *string `json:"before"`
	After  *string `json:"after"`
}

type listJSON[T any] struct {
	Object       string       `json:"object"`
	Data         []T          `json:"data"`
	ListMetadata listMetadata `json:"list_metadata"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type createUserRequest struct {
	Email            *string           `json:"email"`
	Password         *string           `json:"password"`
	PasswordHash     *string           `json:"password_hash"`
	PasswordHashType *string           `json:"password_hash_type"`
	FirstName        *string           `json:"first_name"`
	LastName         *string           `json:"last_name"`
	Name             *string           `json:"name"`
	EmailVerified    *bool             `json:"email_verified"`
	ExternalID       *string           `json:"external_id"`
	Metadata         map[string]string `json:"metadata"`
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) error {
	var req createUserRequest
	if err := web.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	in := users.CreateInput{
		Password: req.Password, PasswordHash: req.PasswordHash, PasswordHashType: req.PasswordHashType,
		FirstName: req.FirstName, LastName: req.LastName, Name: req.Name, ExternalID: req.ExternalID,
		Metadata: req.Metadata,
	}
	if req.Email != nil {
		in.Email = *req.Email
	}
	if req.EmailVerified != nil {
		in.EmailVerified = *req.EmailVerified
	}
	u, err := h.Users.Create(r.Context(), environment(r.Context()).ID, in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, toUserJSON(u))
	return nil
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := h.Users.Get(r.Context(), environment(r.Context()).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, toUserJSON(u))
	return nil
}

func (h *Handler) getUserByExternalID(w http.ResponseWriter, r *http.Request) error {
	u, err := h.Users.GetByExternalID(r.Context(), environment(r.Context()).ID, r.PathValue("external_id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, toUserJSON(u))
	return nil
}

// listParams reads limit, before, after and order from the query string.
func listParams(r *http.Request) (store.ListParams, error) {
	q := r.URL.Query()
	var p store.ListParams
	var fields []errs.FieldError
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxLimit {
			fields = append(fields, errs.FieldError{Field: "limit", Code: "invalid", Message: "limit must be a whole number from 1 to 100."})
		}
		p.Limit = n
	}
	switch o := q.Get("order"); o {
	case "", "desc", "normal":
		p.Order = store.Desc
	case "asc":
		p.Order = store.Asc
	default:
		fields = append(fields, errs.FieldError{Field: "order", Code: "invalid", Message: "order must be asc or desc."})
	}
	p.Before, p.After = q.Get("before"), q.Get("after")
	if p.Before != "" && p.After != "" {
		fields = append(fields, errs.FieldError{Field: "before", Code: "invalid", Message: "Send before or after, not both."})
	}
	for _, c := range []struct{ name, v string }{{"before", p.Before}, {"after", p.After}} {
		if len(c.v) > 100 {
			fields = append(fields, errs.FieldError{Field: c.name, Code: "invalid", Message: c.name + " must be an object ID."})
		}
	}
	if len(fields) > 0 {
		return p, errs.Validation(fields...)
	}
	return p, nil
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request) error {
	p, err := listParams(r)
	if err != nil {
		return err
	}
	out := listJSON[userJSON]{Object: "list", Data: []userJSON{}}
	// Organizations do not exist yet, so no user is a member of one.
	if r.URL.Query().Get("organization_id") == "" {
		page, err := h.Users.List(r.Context(), environment(r.Context()).ID, r.URL.Query().Get("email"), p)
		if err != nil {
			return err
		}
		for i := range page.Data {
			out.Data = append(out.Data, toUserJSON(&page.Data[i]))
		}
		out.ListMetadata = listMetadata{Before: nullable(page.Before), After: nullable(page.After)}
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

type updateUserRequest struct {
	Email            opt.Value[string]             `json:"email"`
	EmailVerified    opt.Value[bool]               `json:"email_verified"`
	FirstName        opt.Value[string]             `json:"first_name"`
	LastName         opt.Value[string]             `json:"last_name"`
	Name             opt.Value[string]             `json:"name"`
	ExternalID       opt.Value[string]             `json:"external_id"`
	Locale           opt.Value[string]             `json:"locale"`
	Password         opt.Value[string]             `json:"password"`
	PasswordHash     opt.Value[string]             `json:"password_hash"`
	PasswordHashType opt.Value[string]             `json:"password_hash_type"`
	Metadata         opt.Value[map[string]*string] `json:"metadata"`
}

func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request) error {
	var req updateUserRequest
	if err := web.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	u, err := h.Users.Update(r.Context(), environment(r.Context()).ID, r.PathValue("id"), users.UpdateInput(req))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, toUserJSON(u))
	return nil
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) error {
	if err := h.Users.Delete(r.Context(), environment(r.Context()).ID, r.PathValue("id")); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
