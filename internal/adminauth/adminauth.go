package adminauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Lifetimes of admin credentials.
const (
	// SignInLinkTTL is how long a one-time sign-in link works.
	SignInLinkTTL = 15 * time.Minute
	// SetupLinkTTL is how long a one-time set-up link works.
	SetupLinkTTL = 24 * time.Hour
	// SessionIdleTimeout ends a dashboard session after this long without a request.
	SessionIdleTimeout = 30 * time.Minute
	// SessionLifetime ends a dashboard session this long after sign-in, however busy.
	SessionLifetime = 12 * time.Hour
)

// The purposes of one-time link tokens.
const (
	PurposeSignIn = "sign_in"
	PurposeSetup  = "setup"
)

// DevAdminEmail is the local admin gatehouse dev creates.
const DevAdminEmail = "admin@localhost"

// Store is the storage adminauth needs.
type Store interface {
	store.Admins
	store.Throttles
	store.Events
}

// Service manages admins, their credentials and their sessions.
type Service struct {
	Store  Store
	Hasher *password.Hasher
	Box    *secretbox.Box // seals TOTP secrets and sign-in tickets
	Logger *slog.Logger
	// BaseURL is the server's public URL (no trailing slash); links are
	// BaseURL + "/admin/login/…" or "/admin/setup/…".
	BaseURL string
	Now     func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return store.Truncate(s.Now())
	}
	return store.Now()
}

// Client describes who is asking, for throttling and the activity log.
type Client struct {
	IP        string
	UserAgent string
}

// ErrLinkInvalid is returned for a one-time link that is unknown, used,
// expired or meant for something else. The cases are not told apart.
var ErrLinkInvalid = errs.New(errs.Unauthenticated, "invalid_link",
	"This link is not valid: it may have expired or been used already. Ask for a new one (gatehouse admin link --email …, or restart gatehouse dev).")

// NormalizeEmail trims and lowercases an admin's email and checks it is a
// plain address. Unlike end users' emails, a dotless domain such as
// localhost is allowed, for the dev server's admin@localhost.
func NormalizeEmail(raw string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(raw))
	bad := errs.Validation(errs.FieldError{Field: "email", Code: "email_invalid", Message: "Enter a valid email address, like name@example.com."})
	if e == "" || len(e) > 254 || !utf8.ValidString(e) {
		return "", bad
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Name != "" || addr.Address != e {
		return "", bad
	}
	at := strings.LastIndexByte(e, '@')
	if at <= 0 || at == len(e)-1 || strings.ContainsAny(e[at+1:], "[]") {
		return "", bad
	}
	return e, nil
}

// Create adds an admin with no password; give them a set-up link to choose
// one. Conflict if the email is taken.
func (s *Service) Create(ctx context.Context, email string) (*store.Admin, error) {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	now := s.now()
	a := &store.Admin{ID: ids.New("admin"), Email: norm, CreatedAt: now, UpdatedAt: now}
	if err := s.Store.CreateAdmin(ctx, a); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, &errs.Error{Kind: errs.Conflict, Code: "admin_exists", Message: "An admin with this email already exists.", Err: err}
		}
		return nil, err
	}
	return a, nil
}

// Get returns an admin by ID.
func (s *Service) Get(ctx context.Context, id string) (*store.Admin, error) {
	a, err := s.Store.GetAdmin(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &errs.Error{Kind: errs.NotFound, Code: "admin_not_found", Message: "No such admin.", Err: err}
	}
	return a, err
}

// GetByEmail returns an admin by email.
func (s *Service) GetByEmail(ctx context.Context, email string) (*store.Admin, error) {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	a, err := s.Store.GetAdminByEmail(ctx, norm)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &errs.Error{Kind: errs.NotFound, Code: "admin_not_found", Message: "No admin has the email " + norm + ".", Err: err}
	}
	return a, err
}

// EnsureDevAdmin returns the admin gatehouse dev prints a sign-in link
// for: admin@localhost, created (with no password) when there are no
// admins at all; otherwise admin@localhost if it exists, else the oldest
// admin. It reports whether it created one.
func (s *Service) EnsureDevAdmin(ctx context.Context) (*store.Admin, bool, error) {
	a, err := s.Store.GetAdminByEmail(ctx, DevAdminEmail)
	if err == nil {
		return a, false, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, false, err
	}
	all, err := s.Store.ListAdmins(ctx)
	if err != nil {
		return nil, false, err
	}
	if len(all) > 0 {
		return &all[0], false, nil
	}
	a, err = s.Create(ctx, DevAdminEmail)
	if e, ok := errs.As(err); ok && e.Kind == errs.Conflict {
		// Another process created it first.
		a, err = s.Store.GetAdminByEmail(ctx, DevAdminEmail)
		return a, false, err
	}
	if err != nil {
		return nil, false, err
	}
	s.Record(ctx, Audit{Type: EventCreated, ActorType: "system", TargetID: a.ID, Data: map[string]string{"email": a.Email, "by": "gatehouse dev"}})
	return a, true, nil
}

// newToken returns a random 256-bit token and its SHA-256 hash.
func newToken() (string, []byte) {
	b := make([]byte, 32)
	rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	return tok, hash(tok)
}

func hash(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// IssueSignInLink returns a one-time link that signs the admin in (valid
// for SignInLinkTTL, single use). Only the token's hash is stored.
func (s *Service) IssueSignInLink(ctx context.Context, adminID string) (string, error) {
	tok, err := s.issue(ctx, adminID, PurposeSignIn, SignInLinkTTL)
	if err != nil {
		return "", err
	}
	return s.BaseURL + "/admin/login/" + tok, nil
}

// IssueSetupLink returns a one-time link where the admin chooses a (new)
// password (valid for SetupLinkTTL, single use).
func (s *Service) IssueSetupLink(ctx context.Context, adminID string) (string, error) {
	tok, err := s.issue(ctx, adminID, PurposeSetup, SetupLinkTTL)
	if err != nil {
		return "", err
	}
	return s.BaseURL + "/admin/setup/" + tok, nil
}

func (s *Service) issue(ctx context.Context, adminID, purpose string, ttl time.Duration) (string, error) {
	if _, err := s.Get(ctx, adminID); err != nil {
		return "", err
	}
	tok, h := newToken()
	now := s.now()
	t := &store.AdminToken{Hash: h, AdminID: adminID, Purpose: purpose, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.Store.CreateAdminToken(ctx, t); err != nil {
		return "", err
	}
	return tok, nil
}

// consume uses up a link token of the given purpose and returns its admin.
func (s *Service) consume(ctx context.Context, tok, purpose string) (*store.Admin, error) {
	if tok == "" || len(tok) > 100 {
		return nil, ErrLinkInvalid
	}
	now := s.now()
	t, err := s.Store.ConsumeAdminToken(ctx, hash(tok), now)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrAlreadyUsed):
		return nil, ErrLinkInvalid
	case err != nil:
		return nil, err
	}
	if t.Purpose != purpose || !now.Before(t.ExpiresAt) {
		return nil, ErrLinkInvalid
	}
	a, err := s.Store.GetAdmin(ctx, t.AdminID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrLinkInvalid
	}
	return a, err
}

// SignInWithLink uses up a sign-in link token and returns its admin, who is
// now signed in (start a session).
func (s *Service) SignInWithLink(ctx context.Context, tok string, c Client) (*store.Admin, error) {
	a, err := s.consume(ctx, tok, PurposeSignIn)
	if err != nil {
		return nil, err
	}
	return s.signedIn(ctx, a, "link", c)
}

// SetupWithLink checks the new password against the policy, then uses up a
// set-up link token and sets the admin's password. The admin is signed in.
// A password the policy refuses leaves the link usable.
func (s *Service) SetupWithLink(ctx context.Context, tok, newPassword string, c Client) (*store.Admin, error) {
	h, err := s.hashNew(ctx, newPassword)
	if err != nil {
		return nil, err
	}
	a, err := s.consume(ctx, tok, PurposeSetup)
	if err != nil {
		return nil, err
	}
	a, err = s.Store.UpdateAdmin(ctx, a.ID, func(a *store.Admin) error {
		a.PasswordHash = h
		a.UpdatedAt = s.now()
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.Record(ctx, Audit{Type: EventPasswordSet, ActorType: "admin", ActorID: a.ID, TargetID: a.ID, IP: c.IP})
	return s.signedIn(ctx, a, "setup_link", c)
}

// hashNew checks a new password against the policy and hashes it.
func (s *Service) hashNew(ctx context.Context, pw string) (string, error) {
	var pe *password.PolicyError
	if err := password.Check(pw); errors.As(err, &pe) {
		return "", errs.Validation(errs.FieldError{Field: "password", Code: pe.Code, Message: pe.Message})
	} else if err != nil {
		return "", err
	}
	return s.Hasher.Hash(ctx, pw)
}

// signedIn records a sign-in.
func (s *Service) signedIn(ctx context.Context, a *store.Admin, method string, c Client) (*store.Admin, error) {
	now := s.now()
	a, err := s.Store.UpdateAdmin(ctx, a.ID, func(a *store.Admin) error {
		a.LastSignInAt = &now
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.Record(ctx, Audit{Type: EventSignedIn, ActorType: "admin", ActorID: a.ID, TargetID: a.ID, IP: c.IP, Data: map[string]string{"method": method}})
	return a, nil
}
