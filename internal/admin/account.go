package admin

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/adminauth"
	"github.com/gatehouse/gatehouse/internal/store"
)

type accountPage struct {
	HasPassword bool
	TOTP        bool
	Errors      map[string]string
	FormError   string
	Section     string // which form the errors belong to: password or totp
}

func (h *Handler) renderAccount(w http.ResponseWriter, r *http.Request, c *call, status int, p accountPage) {
	p.HasPassword, p.TOTP = c.Admin.PasswordHash != "", c.Admin.TOTPSecret != ""
	h.render(w, r, c, status, "account", "Your account", "account", p)
}

func (h *Handler) accountPage(w http.ResponseWriter, r *http.Request, c *call) error {
	h.renderAccount(w, r, c, http.StatusOK, accountPage{})
	return nil
}

func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request, c *call) error {
	next := r.PostFormValue("new_password")
	if next != r.PostFormValue("confirm_password") {
		h.renderAccount(w, r, c, http.StatusUnprocessableEntity, accountPage{Section: "password",
			Errors: map[string]string{"confirm_password": "The two new passwords do not match."}})
		return nil
	}
	err := h.Auth.ChangePassword(r.Context(), c.Admin.ID, r.PostFormValue("current_password"), next, client(r))
	if fields, msg, ok := fieldErrors(err); ok {
		if p, found := fields["password"]; found {
			fields["new_password"] = p
		}
		h.renderAccount(w, r, c, http.StatusUnprocessableEntity, accountPage{Section: "password", Errors: fields, FormError: msgIfNoFields(fields, msg)})
		return nil
	}
	if err != nil {
		return err
	}
	return seeOther(w, r, "/admin/account", "password_changed")
}

func msgIfNoFields(fields map[string]string, msg string) string {
	if len(fields) == 0 {
		return msg
	}
	return ""
}

type totpPage struct {
	Secret string
	URI    string
	Error  string
}

func (h *Handler) totpPage(w http.ResponseWriter, r *http.Request, c *call) error {
	if c.Admin.TOTPSecret != "" {
		return seeOther(w, r, "/admin/account", "")
	}
	e := h.Auth.NewTOTPEnrollment(c.Admin)
	h.render(w, r, c, http.StatusOK, "account_totp", "Set up two-factor authentication", "account", totpPage{Secret: e.Secret, URI: e.URI})
	return nil
}

func (h *Handler) enableTOTP(w http.ResponseWriter, r *http.Request, c *call) error {
	secret := r.PostFormValue("secret")
	err := h.Auth.EnableTOTP(r.Context(), c.Admin.ID, secret, r.PostFormValue("code"), client(r))
	if fields, msg, ok := fieldErrors(err); ok {
		e := h.Auth.Enrollment(c.Admin, secret)
		if e.Secret == "" {
			e = h.Auth.NewTOTPEnrollment(c.Admin)
		}
		p := totpPage{Secret: e.Secret, URI: e.URI, Error: fields["code"]}
		if p.Error == "" {
			p.Error = msg
		}
		h.render(w, r, c, http.StatusUnprocessableEntity, "account_totp", "Set up two-factor authentication", "account", p)
		return nil
	}
	if err != nil {
		return err
	}
	return seeOther(w, r, "/admin/account", "totp_enabled")
}

func (h *Handler) disableTOTP(w http.ResponseWriter, r *http.Request, c *call) error {
	err := h.Auth.DisableTOTP(r.Context(), c.Admin.ID, r.PostFormValue("password"), client(r))
	if fields, msg, ok := fieldErrors(err); ok {
		if p, found := fields["password"]; found {
			fields["totp_password"] = p
		}
		h.renderAccount(w, r, c, http.StatusUnprocessableEntity, accountPage{Section: "totp", Errors: fields, FormError: msgIfNoFields(fields, msg)})
		return nil
	}
	if err != nil {
		return err
	}
	return seeOther(w, r, "/admin/account", "totp_disabled")
}

type activityPage struct {
	Events  []store.Event
	Types   []string
	Type    string
	Prev    string
	Next    string
	Server  bool // server-wide admin events rather than one environment's
	BaseURL string
	Admins  map[string]string // admin ID to email, to name actors and targets
}

func (h *Handler) serverActivity(w http.ResponseWriter, r *http.Request, c *call) error {
	return h.activity(w, r, c, "", "/admin/activity", serverEventTypes)
}

var serverEventTypes = []string{
	adminauth.EventSignedIn, adminauth.EventSignInFailed, adminauth.EventSignedOut, adminauth.EventCreated,
	adminauth.EventLinkIssued, adminauth.EventPasswordSet, adminauth.EventPasswordChange,
	adminauth.EventTOTPEnabled, adminauth.EventTOTPDisabled,
}
