package environments

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/store"
)

// SettingsInput changes an environment's settings; nil fields are left alone.
type SettingsInput struct {
	Name               *string
	AccessTokenTTL     *time.Duration
	SessionLifetime    *time.Duration
	SessionIdleTimeout *time.Duration
	SigningAlgorithm   *string
}

// Bounds on the token and session settings.
const (
	MinAccessTokenTTL  = time.Second // short lifetimes are for tests; production wants minutes
	MaxAccessTokenTTL  = 24 * time.Hour
	MinSessionLifetime = time.Minute
	MaxSessionLifetime = 400 * 24 * time.Hour
)

// UpdateSettings validates in and applies it atomically. A new signing
// algorithm takes effect at the next key rotation (gatehouse keys rotate),
// so tokens in flight stay verifiable.
func (s *Service) UpdateSettings(ctx context.Context, env *store.Environment, in SettingsInput) (*store.Environment, error) {
	var problems []string
	if in.Name != nil {
		n := strings.TrimSpace(*in.Name)
		if n == "" || utf8.RuneCountInString(n) > 100 {
			problems = append(problems, "an environment name must be 1 to 100 characters")
		}
		in.Name = &n
	}
	check := func(name string, d *time.Duration, lo, hi time.Duration) {
		if d != nil && (*d < lo || *d > hi) {
			problems = append(problems, fmt.Sprintf("%s must be between %s and %s", name, lo, hi))
		}
	}
	check("the access-token lifetime", in.AccessTokenTTL, MinAccessTokenTTL, MaxAccessTokenTTL)
	check("the session lifetime", in.SessionLifetime, MinSessionLifetime, MaxSessionLifetime)
	check("the session idle timeout", in.SessionIdleTimeout, MinSessionLifetime, MaxSessionLifetime)
	if in.SigningAlgorithm != nil && *in.SigningAlgorithm != "RS256" && *in.SigningAlgorithm != "ES256" {
		problems = append(problems, "the signing algorithm must be RS256 or ES256")
	}
	if len(problems) > 0 {
		return nil, errs.New(errs.Invalid, "invalid_settings", capitalize(strings.Join(problems, "; "))+".")
	}
	return s.Store.UpdateEnvironment(ctx, env.ID, func(e *store.Environment) error {
		*e = e.WithDefaults()
		if in.Name != nil {
			e.Name = *in.Name
		}
		if in.AccessTokenTTL != nil {
			e.AccessTokenTTL = *in.AccessTokenTTL
		}
		if in.SessionLifetime != nil {
			e.SessionLifetime = *in.SessionLifetime
		}
		if in.SessionIdleTimeout != nil {
			e.SessionIdleTimeout = *in.SessionIdleTimeout
		}
		if in.SigningAlgorithm != nil {
			e.SigningAlgorithm = *in.SigningAlgorithm
		}
		if e.SessionIdleTimeout > e.SessionLifetime {
			return errs.New(errs.Invalid, "invalid_settings", "The session idle timeout cannot be longer than the session lifetime.")
		}
		e.UpdatedAt = s.now()
		return nil
	})
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
