package api

import (
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/authflow"
	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/web"
)

// challengeJSON is the EmailVerification, MagicAuth and PasswordReset
// objects (workos-compat.md §4). Codes and tokens are stored hashed, so
// they appear only in the response that creates them.
type challengeJSON struct {
	Object             string  `json:"object"`
	ID                 string  `json:"id"`
	UserID             *string `json:"user_id"`
	Email              string  `json:"email"`
	Code               string  `json:"code,omitempty"`
	PasswordResetToken string  `json:"password_reset_token,omitempty"`
	PasswordResetURL   string  `json:"password_reset_url,omitempty"`
	ExpiresAt          string  `json:"expires_at"`
	CreatedAt          string  `json:"created_at"`
	UpdatedAt          string  `json:"updated_at,omitempty"`
}

func toChallengeJSON(c *store.Challenge) challengeJSON {
	obj := map[string]string{store.ChallengeEmailVerification: "email_verification", store.ChallengeMagicAuth: "magic_auth",
		store.ChallengePasswordReset: "password_reset"}[c.Kind]
	out := challengeJSON{Object: obj, ID: c.ID, UserID: nullable(c.UserID), Email: c.Email,
		ExpiresAt: web.Time(c.ExpiresAt), CreatedAt: web.Time(c.CreatedAt)}
	if c.Kind != store.ChallengePasswordReset {
		out.UpdatedAt = web.Time(c.CreatedAt)
		if c.UsedAt != nil {
			out.UpdatedAt = web.Time(*c.UsedAt)
		}
	}
	return out
}

type userEnvelope struct {
	User userJSON `json:"user"`
}

func (h *Handler) sendVerification(w http.ResponseWriter, r *http.Request) error {
	env := environment(r.Context())
	u, err := h.Users.Get(r.Context(), env.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if u.EmailVerified {
		return errs.New(errs.Invalid, "email_already_verified", "This user's email is already verified.")
	}
	if _, err := h.Flow.StartEmailVerification(r.Context(), env, u, clientFrom("", "")); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, userEnvelope{toUserJSON(u)})
	return nil
}

func (h *Handler) confirmVerification(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Code string `json:"code"`
	}
	if err := web.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	env := environment(r.Context())
	u, err := h.Users.Get(r.Context(), env.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	ch, err := h.Flow.LatestVerification(r.Context(), env, u)
	if errors.Is(err, store.ErrNotFound) {
		return authflow.ErrCodeInvalid
	} else if err != nil {
		return err
	}
	u, err = h.Flow.VerifyEmail(r.Context(), env, ch.ID, strings.TrimSpace(req.Code))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, userEnvelope{toUserJSON(u)})
	return nil
}

// getChallenge serves GET for the three challenge objects.
func (h *Handler) getChallenge(kind string) web.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		ch, err := h.Flow.Challenges.GetChallenge(r.Context(), environment(r.Context()).ID, r.PathValue("id"))
		if errors.Is(err, store.ErrNotFound) || (err == nil && ch.Kind != kind) {
			return errs.New(errs.NotFound, "entity_not_found", "Not found: '"+truncateID(r.PathValue("id"))+"'.")
		}
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, toChallengeJSON(ch))
		return nil
	}
}

func truncateID(s string) string {
	if len(s) > 100 {
		return s[:100]
	}
	return s
}

// clientFrom describes the end user of an API-key call. The caller is the
// app's server, so its address says nothing about the user: limits per IP
// apply only when the app passes the user's ip_address.
func clientFrom(ipAddress, userAgent string) authflow.Client {
	c := authflow.Client{UserAgent: userAgent}
	if ip := net.ParseIP(ipAddress); ip != nil {
		c.IP = ip.String()
	}
	return c
}

type emailRequest struct {
	Email     string `json:"email"`
	IPAddress string `json:"ip_address"`
	UserAgent string `json:"user_agent"`
}

func (h *Handler) createPasswordReset(w http.ResponseWriter, r *http.Request) error {
	var req emailRequest
	if err := web.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	env := environment(r.Context())
	// The app sends its own email with the token; Gatehouse sends none here.
	ch, tok, err := h.Flow.StartPasswordReset(r.Context(), env, req.Email, false, clientFrom(req.IPAddress, req.UserAgent))
	if err != nil {
		return err
	}
	if ch == nil {
		return errs.New(errs.NotFound, "entity_not_found", "No user has this email address.")
	}
	out := toChallengeJSON(ch)
	out.PasswordResetToken, out.PasswordResetURL = tok, h.Flow.ResetURL(env, tok)
	web.WriteJSON(w, http.StatusCreated, out)
	return nil
}

func (h *Handler) confirmPasswordReset(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Token       string `json:"token"`
		NewPassword string `json:"new_password"`
	}
	if err := web.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	u, err := h.Flow.ResetPassword(r.Context(), environment(r.Context()), req.Token, req.NewPassword)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, userEnvelope{toUserJSON(u)})
	return nil
}

func (h *Handler) createMagicAuth(w http.ResponseWriter, r *http.Request) error {
	var req emailRequest
	if err := web.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	ch, code, err := h.Flow.StartMagicAuth(r.Context(), environment(r.Context()), req.Email, clientFrom(req.IPAddress, req.UserAgent))
	if err != nil {
		return err
	}
	out := toChallengeJSON(ch)
	out.Code = code
	web.WriteJSON(w, http.StatusCreated, out)
	return nil
}

// stepUp writes a step-up error (403 {code, message, pending_authentication_token, …}).
func stepUp(w http.ResponseWriter, e *authflow.StepUpError) {
	web.WriteJSON(w, http.StatusForbidden, map[string]string{
		"code": e.Code, "message": e.Message, "pending_authentication_token": e.PendingToken,
		"email": e.Email, "email_verification_id": e.EmailVerificationID,
	})
}
