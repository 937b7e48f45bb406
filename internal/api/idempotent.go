package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/idempotency"
	"github.com/gatehouse/gatehouse/internal/web"
)

// authenticateIdempotently runs a keyed authenticate request at most once
// per Idempotency-Key and body: a retry with the same key and body gets
// the first response again (marked Idempotent-Replayed: true), so a client
// whose code exchange lost its response can retry it (package
// idempotency). Keys are scoped to the client_id: another client's same
// key is another key. Refreshes run as they are: a refresh retried within
// the grace window already gets the same successor
// (authflow.RefreshGrace), and keeping every refresh's response would cost
// the hottest path two more writes. A body that cannot be read, and a
// client that cannot use the grant (an unknown client_id, a wrong
// client_secret, authflow.CheckClient) are refused before a key is
// claimed, so that a caller without an API key cannot make keyed requests
// write; and only successful responses are kept: a refused request is run
// again when retried, so keyed garbage leaves nothing behind.
func (h *Handler) authenticateIdempotently(w http.ResponseWriter, r *http.Request, key string) error {
	if len(key) > idempotency.MaxKeyLen {
		web.WriteOAuthError(w, http.StatusBadRequest, "invalid_request", "The Idempotency-Key header is longer than 255 characters.")
		return nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, web.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			web.WriteOAuthError(w, http.StatusRequestEntityTooLarge, "invalid_request", "The request body is too large.")
		} else {
			web.WriteOAuthError(w, http.StatusBadRequest, "invalid_request", "The request body could not be read.")
		}
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	req, ok := decodeAuthenticate(w, r)
	if !ok {
		return nil
	}
	if req.GrantType == "refresh_token" {
		return h.token(w, r, req)
	}
	checked, err := h.Flow.CheckClient(r.Context(), tokenRequest(r, req), h.Environments.CheckAPIKey)
	if err != nil {
		return h.writeToken(w, r, req, nil, err)
	}
	request := append([]byte(r.Header.Get("Content-Type")+"\n"), body...)
	replay, claim, err := h.Idempotency.Begin(r.Context(), "POST /user_management/authenticate "+req.ClientID, key, request)
	switch {
	case errors.Is(err, idempotency.ErrKeyReused):
		web.WriteOAuthError(w, http.StatusUnprocessableEntity, "invalid_request", "This Idempotency-Key was used with a different request; use a new key for a new request.")
		return nil
	case errors.Is(err, idempotency.ErrInProgress):
		w.Header().Set("Retry-After", "1")
		web.WriteOAuthError(w, http.StatusConflict, "invalid_request", "A request with this Idempotency-Key is still running; retry it shortly.")
		return nil
	case err != nil:
		return err
	case replay != nil:
		for k, v := range replay.Header {
			w.Header()[k] = v
		}
		w.Header().Set("Idempotent-Replayed", "true")
		w.WriteHeader(replay.Status)
		w.Write(replay.Body)
		return nil
	}
	rec := &recorder{ResponseWriter: w}
	res, err := checked.Run(r.Context())
	err = h.writeToken(rec, r, req, res, err)
	// The request has run: its outcome is kept even if the client has
	// gone, since that is when it will retry.
	ctx := context.WithoutCancel(r.Context())
	if err != nil || rec.status < 200 || rec.status > 299 {
		if rerr := claim.Release(ctx); rerr != nil {
			h.Logger.WarnContext(ctx, "release an idempotency key", "err", rerr)
		}
		return err
	}
	if ferr := claim.Finish(ctx, idempotency.Response{Status: rec.status, Header: rec.kept, Body: rec.body.Bytes()}); ferr != nil {
		h.Logger.WarnContext(ctx, "keep a response for its idempotency key", "err", ferr)
	}
	return nil
}

// recorder passes a response through and keeps a copy: its status, the
// headers it was sent with (but the request ID, which is per request) and
// its body.
type recorder struct {
	http.ResponseWriter
	status int
	kept   http.Header
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
		r.kept = r.Header().Clone()
		r.kept.Del("X-Request-Id")
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}
