package environments

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/redirecturi"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Service changes environments and their settings.
type Service struct {
	Store store.Store
	Now   func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return store.Truncate(s.Now())
	}
	return store.Now()
}

// Create makes an environment with a fresh client ID.
func (s *Service) Create(ctx context.Context, name string, typ store.EnvironmentType) (*store.Environment, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 || !utf8.ValidString(name) {
		return nil, errs.New(errs.Invalid, "invalid_name", "An environment name must be 1 to 100 characters.")
	}
	if typ != store.Development && typ != store.Production {
		return nil, errs.Newf(errs.Invalid, "invalid_type", "Environment type must be %q or %q.", store.Development, store.Production)
	}
	now := s.now()
	env := &store.Environment{
		ID: ids.New("environment"), Name: name, Type: typ, ClientID: ids.New("client"),
		CORSOrigins: []string{}, CreatedAt: now, UpdatedAt: now,
	}
	*env = env.WithDefaults()
	env.Email = store.EmailSettings{Verification: true, MagicAuth: true, MagicSignUp: true}
	if err := s.Store.CreateEnvironment(ctx, env); err != nil {
		return nil, err
	}
	return env, nil
}

// Resolve finds an environment by ID or client ID.
func (s *Service) Resolve(ctx context.Context, ref string) (*store.Environment, error) {
	var env *store.Environment
	var err error
	if strings.HasPrefix(ref, "client_") {
		env, err = s.Store.GetEnvironmentByClientID(ctx, ref)
	} else {
		env, err = s.Store.GetEnvironment(ctx, ref)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.Newf(errs.NotFound, "environment_not_found", "No environment has the ID or client ID %q.", ref)
	}
	return env, err
}

// APIKeyPrefixLen is how many characters of a secret are kept to tell keys apart.
const APIKeyPrefixLen = 12

// CreateAPIKey mints a key for env and returns its secret, which is never
// stored and cannot be shown again.
func (s *Service) CreateAPIKey(ctx context.Context, env *store.Environment, name string) (string, *store.APIKey, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "default"
	}
	if utf8.RuneCountInString(name) > 100 {
		return "", nil, errs.New(errs.Invalid, "invalid_name", "An API key name must be at most 100 characters.")
	}
	b := make([]byte, 30)
	rand.Read(b)
	kind := "sk_test_"
	if env.Type == store.Production {
		kind = "sk_live_"
	}
	secret := kind + base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(secret))
	key := &store.APIKey{
		ID: ids.New("key"), EnvironmentID: env.ID, Name: name, Prefix: secret[:APIKeyPrefixLen],
		Hash: h[:], CreatedAt: s.now(),
	}
	if err := s.Store.CreateAPIKey(ctx, key); err != nil {
		return "", nil, err
	}
	return secret, key, nil
}

// ErrBadAPIKey is returned for a missing, unknown or revoked key.
var ErrBadAPIKey = errs.New(errs.Unauthenticated, "unauthorized", "Unauthorized")

// touchEvery bounds how often a key's last-used time is written.
const touchEvery = time.Minute

// AuthenticateAPIKey returns the key and environment for a secret. The
// lookup is by SHA-256 hash, so the comparison never sees the secret and
// its timing reveals nothing about stored keys.
func (s *Service) AuthenticateAPIKey(ctx context.Context, secret string) (*store.APIKey, *store.Environment, error) {
	key, err := s.lookupKey(ctx, secret)
	if err != nil {
		return nil, nil, err
	}
	env, err := s.Store.GetEnvironment(ctx, key.EnvironmentID)
	if err != nil {
		return nil, nil, err
	}
	return key, env, nil
}

// CheckAPIKey reports whether secret is a live API key of env, for callers
// that know the environment already (the token endpoint has its client ID)
// and so need not read it again.
func (s *Service) CheckAPIKey(ctx context.Context, env *store.Environment, secret string) error {
	key, err := s.lookupKey(ctx, secret)
	if err != nil {
		return err
	}
	if key.EnvironmentID != env.ID {
		return ErrBadAPIKey
	}
	return nil
}

// lookupKey finds a live key by its secret and records its use, at most
// once per touchEvery.
func (s *Service) lookupKey(ctx context.Context, secret string) (*store.APIKey, error) {
	if !strings.HasPrefix(secret, "sk_") || len(secret) > 200 {
		return nil, ErrBadAPIKey
	}
	h := sha256.Sum256([]byte(secret))
	key, err := s.Store.GetAPIKeyByHash(ctx, h[:])
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrBadAPIKey
	}
	if err != nil {
		return nil, err
	}
	if key.RevokedAt != nil {
		return nil, ErrBadAPIKey
	}
	now := s.now()
	if key.LastUsedAt == nil || now.Sub(*key.LastUsedAt) >= touchEvery {
		if err := s.Store.TouchAPIKey(ctx, key.ID, now); err != nil {
			return nil, fmt.Errorf("record key use: %w", err)
		}
	}
	return key, nil
}

// RevokeAPIKey revokes a key of env, by ID.
func (s *Service) RevokeAPIKey(ctx context.Context, env *store.Environment, id string) error {
	err := s.Store.RevokeAPIKey(ctx, env.ID, id, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return errs.Newf(errs.NotFound, "api_key_not_found", "No API key %q in environment %s.", id, env.Name)
	}
	return err
}

// AddRedirect registers a redirect URI or sign-out redirect. The first of a
// kind becomes the default unless it has a wildcard.
func (s *Service) AddRedirect(ctx context.Context, env *store.Environment, kind store.RedirectKind, raw string, makeDefault bool) (*store.Redirect, error) {
	existing, err := s.Store.ListRedirects(ctx, env.ID, kind)
	if err != nil {
		return nil, err
	}
	canon, err := redirecturi.Validate(raw, redirecturi.Options{Development: env.Type == store.Development}, makeDefault)
	if err != nil {
		return nil, ruleError(err)
	}
	if len(existing) == 0 && !redirecturi.HasWildcard(canon) {
		makeDefault = true
	}
	r := &store.Redirect{ID: ids.New("redirect"), EnvironmentID: env.ID, Kind: kind, URI: canon, Default: makeDefault, CreatedAt: s.now()}
	if err := s.Store.AddRedirect(ctx, r); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, errs.Newf(errs.Conflict, "redirect_exists", "%s is already registered.", canon)
		}
		return nil, err
	}
	return r, nil
}

// SetDefaultRedirect makes a registered URI the default. A wildcard URI
// cannot be the default.
func (s *Service) SetDefaultRedirect(ctx context.Context, env *store.Environment, kind store.RedirectKind, uri string) error {
	if redirecturi.HasWildcard(uri) {
		_, err := redirecturi.Validate(uri, redirecturi.Options{Development: env.Type == store.Development}, true)
		return ruleError(err)
	}
	err := s.Store.SetDefaultRedirect(ctx, env.ID, kind, uri)
	if errors.Is(err, store.ErrNotFound) {
		return errs.Newf(errs.NotFound, "redirect_not_found", "%s is not registered; add it first.", uri)
	}
	return err
}

// RemoveRedirect unregisters a URI.
func (s *Service) RemoveRedirect(ctx context.Context, env *store.Environment, kind store.RedirectKind, uri string) error {
	err := s.Store.RemoveRedirect(ctx, env.ID, kind, uri)
	if errors.Is(err, store.ErrNotFound) {
		return errs.Newf(errs.NotFound, "redirect_not_found", "%s is not registered.", uri)
	}
	return err
}

func ruleError(err error) error {
	var re *redirecturi.RuleError
	if errors.As(err, &re) {
		return &errs.Error{Kind: errs.Invalid, Code: re.Rule, Message: re.Message, Err: err}
	}
	return err
}

// SetSignInEndpoint sets (or, with "", clears) where Gatehouse sends a
// browser whose sign-in did not start at the app.
func (s *Service) SetSignInEndpoint(ctx context.Context, env *store.Environment, raw string) (*store.Environment, error) {
	if raw != "" {
		canon, err := redirecturi.Validate(raw, redirecturi.Options{Development: env.Type == store.Development}, true)
		if err != nil {
			return nil, ruleError(err)
		}
		raw = canon
	}
	return s.Store.UpdateEnvironment(ctx, env.ID, func(e *store.Environment) error {
		e.SignInEndpoint = raw
		e.UpdatedAt = s.now()
		return nil
	})
}

// SetCORSOrigins replaces the origins allowed to call the API from a browser.
func (s *Service) SetCORSOrigins(ctx context.Context, env *store.Environment, origins []string) (*store.Environment, error) {
	clean := []string{}
	seen := map[string]bool{}
	for _, o := range origins {
		c, err := ValidateOrigin(o, env.Type == store.Development)
		if err != nil {
			return nil, err
		}
		if !seen[c] {
			seen[c] = true
			clean = append(clean, c)
		}
	}
	return s.Store.UpdateEnvironment(ctx, env.ID, func(e *store.Environment) error {
		e.CORSOrigins = clean
		e.UpdatedAt = s.now()
		return nil
	})
}

// ValidateOrigin checks a browser origin (scheme://host[:port], nothing
// else) and returns it lowercased.
func ValidateOrigin(raw string, development bool) (string, error) {
	bad := func(msg string) error {
		return errs.Newf(errs.Invalid, "invalid_cors_origin", "%q is not a valid CORS origin: %s", raw, msg)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", bad("write it as scheme://host[:port], for example https://app.example.com.")
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", bad("an origin has no path, query, fragment or credentials.")
	}
	if strings.Contains(u.Host, "*") {
		return "", bad("wildcards are not allowed in CORS origins; list each origin.")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && !(scheme == "http" && development) {
		return "", bad("use https (http is allowed only in development environments).")
	}
	return scheme + "://" + strings.ToLower(u.Host), nil
}
