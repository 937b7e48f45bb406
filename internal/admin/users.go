package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/authflow"
	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/opt"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/users"
)

type usersPage struct {
	Query string
	Users []store.User
	Prev  string
	Next  string
}

func (h *Handler) usersPage(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	search := strings.TrimSpace(q.Get("q"))
	if utf8.RuneCountInString(search) > 254 {
		search = string([]rune(search)[:254])
	}
	page, err := h.Store.ListUsers(r.Context(), c.Env.ID, store.UserFilter{Search: search},
		store.ListParams{Limit: pageSize, Order: store.Desc, After: cursor(q.Get("after")), Before: cursor(q.Get("before"))})
	if err != nil {
		return err
	}
	link := func(key, id string) string {
		if id == "" {
			return ""
		}
		v := url.Values{key: {id}}
		if search != "" {
			v.Set("q", search)
		}
		return envURL(c.Env, "users") + "?" + v.Encode()
	}
	h.render(w, r, c, http.StatusOK, "users", "Users", "users",
		usersPage{Query: search, Users: page.Data, Prev: link("before", page.Before), Next: link("after", page.After)})
	return nil
}

type sessionRow struct {
	Session store.Session
	Status  string
}

type userPage struct {
	User         *store.User
	Sessions     []sessionRow
	MoreSessions bool
	FirstName    string
	LastName     string
	Email        string
	Errors       map[string]string
	FormError    string
}

func (h *Handler) user(r *http.Request, c *call) (*store.User, error) {
	return h.Users.Get(r.Context(), c.Env.ID, r.PathValue("user"))
}

func (h *Handler) renderUser(w http.ResponseWriter, r *http.Request, c *call, status int, u *store.User, p userPage) error {
	sess, err := h.Store.ListUserSessions(r.Context(), c.Env.ID, u.ID, store.ListParams{Limit: pageSize, Order: store.Desc})
	if err != nil {
		return err
	}
	now := h.now()
	for _, s := range sess.Data {
		p.Sessions = append(p.Sessions, sessionRow{Session: s, Status: authflow.SessionStatus(c.Env, &s, now)})
	}
	p.MoreSessions = sess.After != ""
	p.User = u
	title := u.Email
	h.render(w, r, c, status, "user", title, "users", p)
	return nil
}

func (h *Handler) userPage(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := h.user(r, c)
	if err != nil {
		return err
	}
	return h.renderUser(w, r, c, http.StatusOK, u, userPage{FirstName: deref(u.FirstName), LastName: deref(u.LastName), Email: u.Email})
}

func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := h.user(r, c)
	if err != nil {
		return err
	}
	p := userPage{FirstName: r.PostFormValue("first_name"), LastName: r.PostFormValue("last_name"), Email: r.PostFormValue("email")}
	updated, err := h.Users.Update(r.Context(), c.Env.ID, u.ID, updateInput(p))
	if fields, msg, ok := fieldErrors(err); ok {
		p.Errors = fields
		if e, _ := errs.As(err); e.Kind == errs.Conflict {
			p.Errors["email"] = msg
		} else if len(fields) == 0 {
			p.FormError = msg
		}
		return h.renderUser(w, r, c, http.StatusUnprocessableEntity, u, p)
	}
	if err != nil {
		return err
	}
	changed := map[string]string{}
	if updated.Email != u.Email {
		changed["email"] = updated.Email
		changed["previous_email"] = u.Email
	}
	if deref(updated.FirstName) != deref(u.FirstName) {
		changed["first_name"] = deref(updated.FirstName)
	}
	if deref(updated.LastName) != deref(u.LastName) {
		changed["last_name"] = deref(updated.LastName)
	}
	h.audit(r, c, EventUserUpdated, u.ID, changed)
	return seeOther(w, r, envURL(c.Env, "users/"+url.PathEscape(u.ID)), "user_updated")
}

type userDeletePage struct {
	User  *store.User
	Error string
}

func (h *Handler) deleteUserPage(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := h.user(r, c)
	if err != nil {
		return err
	}
	h.render(w, r, c, http.StatusOK, "user_delete", "Delete "+u.Email, "users", userDeletePage{User: u})
	return nil
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := h.user(r, c)
	if err != nil {
		return err
	}
	if !strings.EqualFold(strings.TrimSpace(r.PostFormValue("confirm_email")), u.Email) {
		h.render(w, r, c, http.StatusUnprocessableEntity, "user_delete", "Delete "+u.Email, "users",
			userDeletePage{User: u, Error: "Type the user's email address exactly to confirm."})
		return nil
	}
	if err := h.Users.Delete(r.Context(), c.Env.ID, u.ID); err != nil {
		return err
	}
	h.audit(r, c, EventUserDeleted, u.ID, map[string]string{"email": u.Email})
	return seeOther(w, r, envURL(c.Env, "users"), "user_deleted")
}

func (h *Handler) revokeSession(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := h.user(r, c)
	if err != nil {
		return err
	}
	id := r.PathValue("session")
	s, err := h.Store.GetSession(r.Context(), c.Env.ID, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && s.UserID != u.ID) {
		return errs.New(errs.NotFound, "session_not_found", "This user has no such session.")
	}
	if err != nil {
		return err
	}
	if err := h.Flow.RevokeSession(r.Context(), c.Env, id); err != nil {
		return err
	}
	h.audit(r, c, EventSessionRevoked, id, map[string]string{"user_id": u.ID})
	return seeOther(w, r, envURL(c.Env, "users/"+url.PathEscape(u.ID)), "session_revoked")
}

// updateInput is the change the edit form asks for: name and email. An
// empty name clears it.
func updateInput(p userPage) users.UpdateInput {
	return users.UpdateInput{Email: opt.Of(p.Email), FirstName: opt.Of(p.FirstName), LastName: opt.Of(p.LastName)}
}
