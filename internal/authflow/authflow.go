package authflow

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/tokens"
	"github.com/gatehouse/gatehouse/internal/users"
)

// Lifetimes of the flow's credentials.
const (
	// AuthRequestTTL is how long a pending authorization request waits for
	// the user to sign in.
	AuthRequestTTL = 30 * time.Minute
	// CodeTTL is how long an authorization code can be exchanged.
	CodeTTL = 10 * time.Minute
	// RefreshGrace is how long after its first use a refresh token still
	// returns the same successor. It covers concurrent refreshes by one
	// browser (several tabs, parallel requests) without letting a stolen
	// token be replayed later.
	RefreshGrace = 10 * time.Second
)

// Service runs the sign-in flow.
type Service struct {
	Store  store.Store
	Users  *users.Service
	Hasher *password.Hasher
	Keys   *tokens.Keyring
	Box    *secretbox.Box
	Logger *slog.Logger
	// Challenges stores emailed codes and links; Mailer queues the emails.
	Challenges store.Challenges
	Mailer     Mailer
	// BaseURL is the server's public URL; access tokens' issuer is
	// BaseURL + "/user_management/" + client ID.
	BaseURL string
	Now     func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return store.Truncate(s.Now())
	}
	return store.Now()
}

// Clock returns the current time as the flow sees it.
func (s *Service) Clock() time.Time { return s.now() }

// Issuer returns the "iss" claim of an environment's access tokens.
func (s *Service) Issuer(env *store.Environment) string {
	return s.BaseURL + "/user_management/" + env.ClientID
}

// newSecret returns a random 256-bit token and its SHA-256 hash.
func newSecret() (string, []byte) {
	b := make([]byte, 32)
	rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	return tok, Hash(tok)
}

// Hash returns the SHA-256 of a secret, as stored.
func Hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Client describes who is asking: the IP address and user agent recorded on
// sessions and used for throttling.
type Client struct {
	IP        string
	UserAgent string
}
