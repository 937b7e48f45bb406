package adminauth

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/store"
)

// ErrWrongPassword is returned when an account change asks for the current
// password and gets another.
var ErrWrongPassword = errs.Validation(errs.FieldError{Field: "current_password", Code: "incorrect", Message: "Your current password is not correct."})

// checkPassword verifies an admin's current password, throttled like a
// sign-in so the account page cannot be used to guess it.
func (s *Service) checkPassword(ctx context.Context, a *store.Admin, pw string, c Client) error {
	if err := s.checkThrottles(ctx, a.Email, c); err != nil {
		return err
	}
	if a.PasswordHash == "" {
		s.Hasher.DummyVerify(ctx, pw)
		return nil // signed in by link and never set one: nothing to check
	}
	ok, _, err := s.Hasher.Verify(ctx, a.PasswordHash, pw)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	if !ok {
		if err := s.recordFailure(ctx, a.Email, c); err != nil {
			return err
		}
		return ErrWrongPassword
	}
	return nil
}

// ChangePassword sets a new password after checking the current one (not
// asked for when the admin has none yet).
func (s *Service) ChangePassword(ctx context.Context, adminID, current, next string, c Client) error {
	a, err := s.Get(ctx, adminID)
	if err != nil {
		return err
	}
	if err := s.checkPassword(ctx, a, current, c); err != nil {
		return err
	}
	h, err := s.hashNew(ctx, next)
	if err != nil {
		return err
	}
	if _, err := s.Store.UpdateAdmin(ctx, adminID, func(a *store.Admin) error {
		a.PasswordHash = h
		a.UpdatedAt = s.now()
		return nil
	}); err != nil {
		return err
	}
	s.Record(ctx, Audit{Type: EventPasswordChange, ActorID: adminID, TargetID: adminID, IP: c.IP})
	return nil
}

func totpAAD(adminID string) []byte { return []byte("gatehouse admin totp " + adminID) }

// openTOTP returns an admin's TOTP secret, or nil if TOTP is off.
func (s *Service) openTOTP(a *store.Admin) ([]byte, error) {
	if a.TOTPSecret == "" {
		return nil, nil
	}
	return s.Box.Open(a.TOTPSecret, totpAAD(a.ID))
}

// TOTPEnrollment is what the dashboard shows an admin turning TOTP on.
type TOTPEnrollment struct {
	Secret string // base32, for typing into an app
	URI    string // otpauth://, for importing
}

// NewTOTPEnrollment draws a fresh secret for an admin. Nothing is stored
// until EnableTOTP confirms a code from it.
func (s *Service) NewTOTPEnrollment(a *store.Admin) TOTPEnrollment {
	secret := NewTOTPSecret()
	return s.Enrollment(a, EncodeTOTPSecret(secret))
}

// Enrollment describes an existing base32 secret for an admin.
func (s *Service) Enrollment(a *store.Admin, secret string) TOTPEnrollment {
	b, err := DecodeTOTPSecret(secret)
	if err != nil {
		return TOTPEnrollment{}
	}
	return TOTPEnrollment{Secret: EncodeTOTPSecret(b), URI: TOTPURI("Gatehouse", a.Email, b)}
}

// EnableTOTP turns TOTP on with the given base32 secret, once code proves
// the admin's app has it. The secret is stored sealed with the master key.
func (s *Service) EnableTOTP(ctx context.Context, adminID, secret, code string, c Client) error {
	b, err := DecodeTOTPSecret(secret)
	if err != nil {
		return errs.New(errs.Invalid, "invalid_secret", "The set-up secret was damaged. Start again.")
	}
	if !ValidateTOTP(b, code, s.now()) {
		return errs.Validation(errs.FieldError{Field: "code", Code: "invalid_code", Message: "That code does not match. Check your app shows a code for this account and try the current one."})
	}
	sealed := s.Box.Seal(b, totpAAD(adminID))
	if _, err := s.Store.UpdateAdmin(ctx, adminID, func(a *store.Admin) error {
		a.TOTPSecret = sealed
		a.UpdatedAt = s.now()
		return nil
	}); err != nil {
		return err
	}
	s.Record(ctx, Audit{Type: EventTOTPEnabled, ActorID: adminID, TargetID: adminID, IP: c.IP})
	return nil
}

// DisableTOTP turns TOTP off after checking the admin's password.
func (s *Service) DisableTOTP(ctx context.Context, adminID, pw string, c Client) error {
	a, err := s.Get(ctx, adminID)
	if err != nil {
		return err
	}
	if err := s.checkPassword(ctx, a, pw, c); err != nil {
		if errors.Is(err, ErrWrongPassword) {
			return errs.Validation(errs.FieldError{Field: "password", Code: "incorrect", Message: "Your password is not correct."})
		}
		return err
	}
	if _, err := s.Store.UpdateAdmin(ctx, adminID, func(a *store.Admin) error {
		a.TOTPSecret = ""
		a.UpdatedAt = s.now()
		return nil
	}); err != nil {
		return err
	}
	s.Record(ctx, Audit{Type: EventTOTPDisabled, ActorID: adminID, TargetID: adminID, IP: c.IP})
	return nil
}
