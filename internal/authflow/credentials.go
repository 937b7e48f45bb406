package authflow

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/throttle"
	"github.com/gatehouse/gatehouse/internal/users"
)

// ErrInvalidCredentials is the one answer to a wrong email or password:
// it never says which was wrong, so it reveals no accounts.
var ErrInvalidCredentials = errs.New(errs.Unauthenticated, "invalid_credentials", "The email or password is incorrect.")

// Free failures per key of end-user sign-ins (package throttle has the
// window and the doubling delays).
const (
	FreeEmailFailures = 5
	FreeIPFailures    = 50
)

func emailKey(envID, email string) string { return "signin:email:" + envID + ":" + email }
func ipKey(ip string) string              { return "signin:ip:" + ip }

// Authenticate checks an email and password, with throttling per email and
// per IP address. A wrong password, an unknown email and an account
// without a password all take the same time and give ErrInvalidCredentials,
// and are logged; a success is logged as user.signed_in with the session
// it leads to.
func (s *Service) Authenticate(ctx context.Context, env *store.Environment, email, pw string, c Client) (*store.User, error) {
	norm, nerr := users.NormalizeEmail(email)
	if nerr != nil {
		norm = email // still throttled and still hashed, so it costs the same
	}
	ek := emailKey(env.ID, norm)
	keys := []string{ek}
	if c.IP != "" {
		keys = append(keys, ipKey(c.IP))
	}
	lookup := norm
	if nerr != nil {
		lookup = "" // no such user can exist
	}
	// The counters and the user in one read (one round trip on
	// PostgreSQL); the user is read even when a counter refuses, and not
	// used.
	ths, user, err := s.Store.GetSignInState(ctx, env.ID, lookup, keys...)
	if err != nil {
		return nil, err
	}
	now := s.now()
	emailFailed, err := throttle.Judge(ths[0], FreeEmailFailures, now)
	if err != nil {
		return nil, err
	}
	if c.IP != "" {
		if _, err := throttle.Judge(ths[1], FreeIPFailures, now); err != nil {
			return nil, err
		}
	}
	ok := false
	if user != nil && user.PasswordHash != "" {
		var rehash bool
		var err error
		ok, rehash, err = s.Hasher.Verify(ctx, user.PasswordHash, pw)
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			s.Logger.WarnContext(ctx, "stored password hash unusable", "user_id", user.ID, "err", err)
			ok = false
		}
		if ok && rehash {
			s.rehash(ctx, env, user, pw)
		}
	} else {
		s.Hasher.DummyVerify(ctx, pw)
	}
	if !ok {
		s.record(ctx, env.ID, EventSignInFailed, "user", "", targetOf(user), c, map[string]string{"email": truncate(norm, 254)})
		now = s.now() // after the hash
		if _, err := s.Store.RecordFailure(ctx, ek, now, throttle.Window); err != nil {
			return nil, err
		}
		if c.IP != "" {
			if _, err := s.Store.RecordFailure(ctx, ipKey(c.IP), now, throttle.Window); err != nil {
				return nil, err
			}
		}
		return nil, ErrInvalidCredentials
	}
	// A success clears the email's failures (not the IP's: one address may
	// be guessing at many accounts), when there are any.
	if emailFailed {
		if err := s.Store.ClearThrottle(ctx, ek); err != nil {
			return nil, err
		}
	}
	return user, nil
}

func targetOf(u *store.User) string {
	if u == nil {
		return ""
	}
	return u.ID
}

// rehash upgrades an imported or outdated hash after a successful sign-in.
// Failure is logged, not fatal: the old hash still works.
func (s *Service) rehash(ctx context.Context, env *store.Environment, user *store.User, pw string) {
	h, err := s.Hasher.Hash(ctx, pw)
	if err == nil {
		_, err = s.Store.UpdateUser(ctx, env.ID, user.ID, func(u *store.User) error {
			if u.PasswordHash == user.PasswordHash {
				u.PasswordHash = h
			}
			return nil
		})
	}
	if err != nil {
		s.Logger.WarnContext(ctx, "password rehash failed", "user_id", user.ID, "err", err)
	}
}

// SignUpInput is what the hosted sign-up form collects.
type SignUpInput struct {
	Email     string
	Password  string
	FirstName string
	LastName  string
}

// SignUp creates a user with a password. Field errors come back as an
// errs.Validation error naming each field.
func (s *Service) SignUp(ctx context.Context, env *store.Environment, in SignUpInput, c Client) (*store.User, error) {
	pw := in.Password
	ci := users.CreateInput{Email: in.Email, Password: &pw, Logged: s.signedUp(env.ID, "password", c)}
	if in.FirstName != "" {
		ci.FirstName = &in.FirstName
	}
	if in.LastName != "" {
		ci.LastName = &in.LastName
	}
	u, err := s.Users.Create(ctx, env.ID, ci)
	if e, ok := errs.As(err); ok && e.Kind == errs.Conflict {
		return nil, errs.Validation(errs.FieldError{Field: "email", Code: "email_unavailable",
			Message: "An account with this email may already exist. Sign in instead, or use another email."})
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// BrowserSession returns the live browser session a cookie token names, and
// its user, or nil if there is none (unknown, ended, expired, idle too long,
// another environment, or the user is gone). It records the activity.
func (s *Service) BrowserSession(ctx context.Context, env *store.Environment, token string) (*store.BrowserSession, *store.User, error) {
	if token == "" || len(token) > 100 {
		return nil, nil, nil
	}
	b, u, err := s.Store.GetBrowserSessionUser(ctx, Hash(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	e := env.WithDefaults()
	if b.EnvironmentID != env.ID || b.EndedAt != nil || !now.Before(b.ExpiresAt) || now.Sub(b.LastSeenAt) >= e.SessionIdleTimeout {
		return nil, nil, nil
	}
	if activityDue(b.LastSeenAt, now, e.SessionIdleTimeout) {
		if err := s.Store.TouchBrowserSession(ctx, b.ID, now); err != nil {
			return nil, nil, err
		}
	}
	return b, u, nil
}
