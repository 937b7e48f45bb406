package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
)

// csrfTokens protect POST /logout with stateless HMAC tokens (the
// "signed token bound to the session" pattern): a token is a random nonce
// and HMAC-SHA256(key, session ID, nonce). Only this app can make one, and
// one made for a session is useless with any other, so a page on another
// site cannot submit a sign-out for the victim's session. The session ID
// stays the same when the access token is refreshed, so a form rendered
// before a refresh still works after it.
type csrfTokens struct {
	key []byte
}

const csrfNonceLen = 16

// newCSRFTokens derives the HMAC key from the cookie password (a separate
// key for a separate purpose, so tokens survive restarts without another
// secret to manage).
func newCSRFTokens(cookiePassword string) *csrfTokens {
	m := hmac.New(sha256.New, []byte(cookiePassword))
	m.Write([]byte("gatehouse examples/go csrf key v1"))
	return &csrfTokens{key: m.Sum(nil)}
}

func (c *csrfTokens) mac(sessionID string, nonce []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("logout\x00"))
	m.Write([]byte(sessionID))
	m.Write([]byte{0})
	m.Write(nonce)
	return m.Sum(nil)
}

// Token returns a new token for the session.
func (c *csrfTokens) Token(sessionID string) string {
	nonce := make([]byte, csrfNonceLen)
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(nonce) + "." + base64.RawURLEncoding.EncodeToString(c.mac(sessionID, nonce))
}

// Valid reports whether token was made by Token for the session.
func (c *csrfTokens) Valid(sessionID, token string) bool {
	if sessionID == "" {
		return false
	}
	n64, m64, ok := strings.Cut(token, ".")
	if !ok {
		return false
	}
	nonce, err := base64.RawURLEncoding.Strict().DecodeString(n64)
	if err != nil || len(nonce) != csrfNonceLen {
		return false
	}
	mac, err := base64.RawURLEncoding.Strict().DecodeString(m64)
	if err != nil {
		return false
	}
	return hmac.Equal(mac, c.mac(sessionID, nonce))
}

// crossSite reports a request a browser marked as coming from another
// site (Fetch Metadata). It is a second line of defence: older browsers
// do not send the header, and the token check does not depend on it.
func crossSite(r *http.Request) bool {
	return r.Header.Get("Sec-Fetch-Site") == "cross-site"
}
