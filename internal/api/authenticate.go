package api

import (
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/authflow"
	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/web"
)

// authenticateRequest is the body of POST /user_management/authenticate.
// Optional fields the SDKs add (ip_address, user_agent, device_id,
// signals_id) are read where useful and otherwise ignored.
type authenticateRequest struct {
	GrantType      string  `json:"grant_type"`
	ClientID       string  `json:"client_id"`
	ClientSecret   *string `json:"client_secret"`
	Code           string  `json:"code"`
	CodeVerifier   string  `json:"code_verifier"`
	RefreshToken   string  `json:"refresh_token"`
	OrganizationID string  `json:"organization_id"`
	Email          string  `json:"email"`
	Password       string  `json:"password"`
	PendingToken   string  `json:"pending_authentication_token"`
	IPAddress      string  `json:"ip_address"`
	UserAgent      string  `json:"user_agent"`
}

type authenticateResponse struct {
	User                 userJSON `json:"user"`
	OrganizationID       string   `json:"organization_id,omitempty"`
	AccessToken          string   `json:"access_token"`
	RefreshToken         string   `json:"refresh_token"`
	AuthenticationMethod string   `json:"authentication_method,omitempty"`
}

// decodeAuthenticate reads the body as JSON or, as production WorkOS also
// accepts, as a form.
func decodeAuthenticate(w http.ResponseWriter, r *http.Request) (authenticateRequest, bool) {
	var req authenticateRequest
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		r.Body = http.MaxBytesReader(w, r.Body, web.MaxBodyBytes)
		if err := r.ParseForm(); err != nil {
			web.WriteOAuthError(w, http.StatusBadRequest, "invalid_request", "The form body could not be read.")
			return req, false
		}
		f := r.PostForm
		req = authenticateRequest{GrantType: f.Get("grant_type"), ClientID: f.Get("client_id"), Code: f.Get("code"),
			CodeVerifier: f.Get("code_verifier"), RefreshToken: f.Get("refresh_token"), OrganizationID: f.Get("organization_id"),
			Email: f.Get("email"), Password: f.Get("password"), PendingToken: f.Get("pending_authentication_token"),
			IPAddress: f.Get("ip_address"), UserAgent: f.Get("user_agent")}
		if f.Has("client_secret") {
			s := f.Get("client_secret")
			req.ClientSecret = &s
		}
		return req, true
	}
	if err := web.DecodeJSON(w, r, &req); err != nil {
		e, _ := errs.As(err)
		status, desc := http.StatusBadRequest, "The request body is not valid."
		if e != nil {
			desc = e.Message
			if e.Kind == errs.TooLarge || e.Kind == errs.Unsupported {
				status = web.Status(e.Kind)
			}
		}
		web.WriteOAuthError(w, status, "invalid_request", desc)
		return req, false
	}
	return req, true
}

// authenticate is POST /user_management/authenticate; with an
// Idempotency-Key header, see authenticateIdempotently.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) error {
	if key := r.Header.Get("Idempotency-Key"); key != "" && h.Idempotency != nil {
		return h.authenticateIdempotently(w, r, key)
	}
	req, ok := decodeAuthenticate(w, r)
	if !ok {
		return nil
	}
	return h.token(w, r, req)
}

// token runs the grant of a decoded authenticate request.
func (h *Handler) token(w http.ResponseWriter, r *http.Request, req authenticateRequest) error {
	res, err := h.Flow.Token(r.Context(), tokenRequest(r, req), h.Environments.CheckAPIKey)
	return h.writeToken(w, r, req, res, err)
}

// tokenRequest is what authflow needs of a decoded authenticate request.
func tokenRequest(r *http.Request, req authenticateRequest) authflow.TokenRequest {
	client := authflow.Client{UserAgent: r.UserAgent()}
	client.IP, _, _ = net.SplitHostPort(r.RemoteAddr)
	// A server-side SDK calls for its user: the user's address is the
	// ip_address it passes, if any, never the app server's own address
	// (which would put every user of the app under one per-IP limit).
	if req.ClientSecret != nil && *req.ClientSecret != "" {
		client = clientFrom(req.IPAddress, req.UserAgent)
	}
	tr := authflow.TokenRequest{
		GrantType: req.GrantType, ClientID: req.ClientID, Code: req.Code, CodeVerifier: req.CodeVerifier,
		RefreshToken: req.RefreshToken, OrganizationID: req.OrganizationID, Email: req.Email, Password: req.Password,
		PendingToken: req.PendingToken, Client: client,
	}
	if req.ClientSecret != nil {
		tr.ClientSecret = *req.ClientSecret
	}
	return tr
}

// writeToken answers an authenticate request with the outcome of its
// grant, or of its client check (res nil).
func (h *Handler) writeToken(w http.ResponseWriter, r *http.Request, req authenticateRequest, res *authflow.TokenResponse, err error) error {
	h.corsHeaders(w, r, req.ClientID)
	var oe *authflow.OAuthError
	var su *authflow.StepUpError
	switch {
	case errors.As(err, &oe):
		web.WriteOAuthError(w, oe.Status, oe.Code, oe.Description)
		return nil
	case errors.As(err, &su):
		stepUp(w, su)
		return nil
	case err != nil:
		if e, ok := errs.As(err); ok && (e.Kind == errs.Unauthenticated || (e.Kind == errs.Invalid && len(e.Fields) == 0)) {
			// Wrong email or password, or a bad one-time code: 400 {code,message}, as WorkOS does.
			web.WriteJSON(w, http.StatusBadRequest, map[string]string{"code": e.Code, "message": e.Message})
			return nil
		}
		return err
	}
	web.WriteJSON(w, http.StatusOK, authenticateResponse{
		User: toUserJSON(res.User), OrganizationID: res.OrganizationID, AccessToken: res.AccessToken,
		RefreshToken: res.RefreshToken, AuthenticationMethod: res.AuthenticationMethod,
	})
	return nil
}

// corsHeaders allows a browser origin listed by the environment of clientID
// (workos-compat.md §9: authkit-js calls authenticate from the browser).
func (h *Handler) corsHeaders(w http.ResponseWriter, r *http.Request, clientID string) {
	origin := r.Header.Get("Origin")
	if origin == "" || clientID == "" {
		return
	}
	env, err := h.Environments.Store.GetEnvironmentByClientID(r.Context(), clientID)
	if err != nil || !slices.Contains(env.CORSOrigins, strings.ToLower(origin)) {
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Set("Access-Control-Allow-Credentials", "true")
	w.Header().Add("Vary", "Origin")
}

// preflight answers OPTIONS /user_management/authenticate. The body (and
// so the client ID) is not known yet, so an origin listed by any
// environment may proceed; the POST itself is checked per environment.
func (h *Handler) preflight(w http.ResponseWriter, r *http.Request) error {
	w.Header().Add("Vary", "Origin")
	origin := strings.ToLower(r.Header.Get("Origin"))
	envs, err := h.Environments.Store.ListEnvironments(r.Context())
	if err != nil {
		return err
	}
	for _, e := range envs {
		if origin != "" && slices.Contains(e.CORSOrigins, origin) {
			w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			w.Header().Set("Access-Control-Allow-Credentials", "true")
			w.Header().Set("Access-Control-Allow-Methods", "POST")
			w.Header().Set("Access-Control-Allow-Headers", "content-type, accept")
			w.Header().Set("Access-Control-Max-Age", "600")
			break
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) jwks(w http.ResponseWriter, r *http.Request) error {
	env, err := h.Environments.Store.GetEnvironmentByClientID(r.Context(), r.PathValue("client_id"))
	if errors.Is(err, store.ErrNotFound) {
		return errs.New(errs.NotFound, "entity_not_found", "No environment has this client ID.")
	}
	if err != nil {
		return err
	}
	body, err := h.Keys.JWKS(r.Context(), env.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	return nil
}
