package authflow

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/users"
)

// Lifetimes and limits of emailed codes and links.
const (
	VerificationTTL = 15 * time.Minute // email verification codes
	MagicCodeTTL    = 10 * time.Minute // magic sign-in codes
	ResetTTL        = 30 * time.Minute // password reset links
	PendingAuthTTL  = 15 * time.Minute // pending_authentication_token of a step-up
	MaxCodeAttempts = 5                // wrong guesses before a code is dead
	MailPerAddress  = 3                // emails per address per MailWindow
	MailPerIP       = 10               // emails per client IP per MailWindow
	MailWindow      = time.Minute
	mailKindVerify  = "email_verification"
	mailKindMagic   = "magic_auth"
	mailKindReset   = "password_reset"
	codeDigits      = 6
	pendingIDPrefix = "pending_auth"
	verifyIDPrefix  = "email_verification"
	magicIDPrefix   = "magic_auth"
	resetIDPrefix   = "password_reset"
)

// Mail is one email the flow asks to send.
type Mail struct {
	Kind      string // email_verification, magic_auth or password_reset
	To        string
	Code      string
	Link      string
	ExpiresIn time.Duration
}

// Mailer queues email. The server implements it over the durable outbox.
type Mailer interface {
	Send(ctx context.Context, env *store.Environment, m Mail) error
}

// Code errors, in the shape POST /user_management/authenticate uses for
// one-time codes (400 {code, message}).
var (
	ErrCodeInvalid     = errs.New(errs.Invalid, "invalid_one_time_code", "The code is incorrect.")
	ErrCodeExpired     = errs.New(errs.Invalid, "one_time_code_expired", "The code has expired. Ask for a new one.")
	ErrCodeUsed        = errs.New(errs.Invalid, "one_time_code_previously_used", "The code has already been used. Ask for a new one.")
	ErrCodeTooMany     = errs.New(errs.Invalid, "one_time_code_too_many_attempts", "Too many wrong codes. Ask for a new one.")
	ErrPendingInvalid  = errs.New(errs.Invalid, "invalid_pending_authentication_token", "The pending authentication token is invalid or has expired. Sign in again.")
	ErrResetInvalid    = errs.New(errs.Invalid, "password_reset_token_invalid", "This password reset link is invalid, expired or already used. Ask for a new one.")
	ErrMagicAuthOff    = errs.New(errs.Forbidden, "magic_auth_disabled", "Sign-in with an emailed code is not enabled for this app.")
	errChallengesUnset = errors.New("authflow: no challenge store configured")
)

// StepUpError asks the client to complete another step before it gets
// tokens (workos-compat.md §5.2: 403 with a pending_authentication_token).
type StepUpError struct {
	Code                string // email_verification_required
	Message             string
	PendingToken        string
	Email               string
	EmailVerificationID string
}

func (e *StepUpError) Error() string { return e.Code }

func newCode() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
	return fmt.Sprintf("%0*d", codeDigits, n.Int64())
}

func (s *Service) challenges() (store.Challenges, error) {
	if s.Challenges == nil {
		return nil, errChallengesUnset
	}
	return s.Challenges, nil
}

// codeMAC is how a one-time code is stored: keyed by the master key and
// bound to its challenge.
func (s *Service) codeMAC(challengeID, code string) []byte {
	return s.Box.MAC("code", challengeID, code)
}

// mailAllowed counts an email to address (and from the client's IP) and
// refuses it past the limits, with the time to wait.
func (s *Service) mailAllowed(ctx context.Context, env *store.Environment, address string, c Client) error {
	now := s.now()
	check := func(key string, limit int) error {
		t, err := s.Store.RecordFailure(ctx, key, now, MailWindow)
		if err != nil {
			return err
		}
		if t.Failures > limit {
			return &errs.Error{Kind: errs.RateLimited, Code: "rate_limit_exceeded", RetryAfter: t.FirstAt.Add(MailWindow).Sub(now),
				Message: "Too many emails requested. Wait a minute and try again."}
		}
		return nil
	}
	if err := check("mail:addr:"+env.ID+":"+address, MailPerAddress); err != nil {
		return err
	}
	if c.IP != "" {
		return check("mail:ip:"+c.IP, MailPerIP)
	}
	return nil
}

// NeedsVerification reports whether a user must verify their email before
// a password sign-in completes.
func NeedsVerification(env *store.Environment, u *store.User) bool {
	return env.Email.Verification && !u.EmailVerified
}

// StartEmailVerification emails a fresh 6-digit code to the user.
func (s *Service) StartEmailVerification(ctx context.Context, env *store.Environment, u *store.User, c Client) (*store.Challenge, error) {
	chs, err := s.challenges()
	if err != nil {
		return nil, err
	}
	if err := s.mailAllowed(ctx, env, u.Email, c); err != nil {
		return nil, err
	}
	now := s.now()
	ch := &store.Challenge{ID: ids.New(verifyIDPrefix), EnvironmentID: env.ID, Kind: store.ChallengeEmailVerification,
		UserID: u.ID, Email: u.Email, CreatedAt: now, ExpiresAt: now.Add(VerificationTTL)}
	code := newCode()
	ch.Hash = s.codeMAC(ch.ID, code)
	if err := chs.CreateChallenge(ctx, ch); err != nil {
		return nil, err
	}
	if err := s.Mailer.Send(ctx, env, Mail{Kind: mailKindVerify, To: u.Email, Code: code, ExpiresIn: VerificationTTL}); err != nil {
		return nil, err
	}
	return ch, nil
}

// useCode checks code against a challenge and consumes it, atomically,
// counting a wrong guess.
func (s *Service) useCode(ctx context.Context, env *store.Environment, id, code string) (*store.Challenge, error) {
	chs, err := s.challenges()
	if err != nil {
		return nil, err
	}
	check, verdict := s.codeCheck(code)
	ch, err := chs.UpdateChallenge(ctx, env.ID, id, check)
	if err := codeErr(err); err != nil {
		return nil, err
	}
	return ch, *verdict
}

// codeCheck returns the update function that checks code against a
// challenge, and where it leaves its verdict: nil when it used the
// challenge. A wrong guess is written (the attempt counts); a used,
// expired or exhausted challenge is left as it is.
func (s *Service) codeCheck(code string) (func(*store.Challenge) error, *error) {
	verdict := new(error)
	return func(ch *store.Challenge) error {
		now := s.now()
		switch {
		case ch.UsedAt != nil:
			*verdict = ErrCodeUsed
		case !now.Before(ch.ExpiresAt):
			*verdict = ErrCodeExpired
		case ch.Attempts >= MaxCodeAttempts:
			*verdict = ErrCodeTooMany
		default:
			ch.Attempts++
			if subtle.ConstantTimeCompare(ch.Hash, s.codeMAC(ch.ID, code)) == 1 {
				ch.UsedAt = &now
				*verdict = nil
			} else if ch.Attempts >= MaxCodeAttempts {
				*verdict = ErrCodeTooMany
			} else {
				*verdict = ErrCodeInvalid
			}
			return nil // write the attempt count either way
		}
		return *verdict
	}, verdict
}

// codeErr maps a store error of a code check: an unknown challenge is a
// wrong code, and the check's own verdicts pass through.
func codeErr(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return ErrCodeInvalid
	}
	return err
}

// VerifyEmail checks a verification code and marks the user's email
// verified, in one transaction. A code sent to an address the user no
// longer has is used up and verifies nothing.
func (s *Service) VerifyEmail(ctx context.Context, env *store.Environment, challengeID, code string) (*store.User, error) {
	return s.verifyEmail(ctx, env, challengeID, code, nil)
}

// verifyEmail is VerifyEmail, also recording then (when not nil) in the
// same transaction if the code verifies the address. store.ErrAlreadyUsed
// (then's request was completed already) comes back as it is.
func (s *Service) verifyEmail(ctx context.Context, env *store.Environment, challengeID, code string, then *store.SignIn) (*store.User, error) {
	chs, err := s.challenges()
	if err != nil {
		return nil, err
	}
	check, verdict := s.codeCheck(code)
	_, u, err := chs.UseEmailVerification(ctx, env.ID, challengeID, check, then)
	if errors.Is(err, store.ErrAlreadyUsed) {
		return nil, err
	}
	if err := codeErr(err); err != nil {
		return nil, err
	}
	if *verdict != nil {
		return nil, *verdict
	}
	if u == nil {
		return nil, ErrCodeInvalid // sent to an address the user no longer has
	}
	return u, nil
}

// markVerified sets email_verified, if the user still has the address the
// code went to.
func (s *Service) markVerified(ctx context.Context, env *store.Environment, userID, email string) (*store.User, error) {
	u, err := s.Store.UpdateUser(ctx, env.ID, userID, func(u *store.User) error {
		if u.Email != email {
			return ErrCodeInvalid
		}
		u.EmailVerified = true
		u.UpdatedAt = s.now()
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrCodeInvalid
	}
	return u, err
}

// LatestVerification returns the user's newest email-verification challenge.
func (s *Service) LatestVerification(ctx context.Context, env *store.Environment, u *store.User) (*store.Challenge, error) {
	chs, err := s.challenges()
	if err != nil {
		return nil, err
	}
	return chs.LatestChallenge(ctx, env.ID, store.ChallengeEmailVerification, u.Email)
}

// stepUpVerification starts email verification for an API sign-in and
// returns the 403 step-up error carrying a pending token.
func (s *Service) stepUpVerification(ctx context.Context, env *store.Environment, u *store.User, c Client) error {
	ch, err := s.StartEmailVerification(ctx, env, u, c)
	if err != nil {
		return err
	}
	tok, hash := newSecret()
	now := s.now()
	chs, _ := s.challenges()
	if err := chs.CreateChallenge(ctx, &store.Challenge{ID: ids.New(pendingIDPrefix), EnvironmentID: env.ID, Kind: store.ChallengePendingAuth,
		UserID: u.ID, Email: u.Email, Hash: hash, CreatedAt: now, ExpiresAt: now.Add(PendingAuthTTL),
		Data: map[string]string{"email_verification_id": ch.ID}}); err != nil {
		return err
	}
	return &StepUpError{Code: "email_verification_required", Message: "Email ownership must be verified before authentication.",
		PendingToken: tok, Email: u.Email, EmailVerificationID: ch.ID}
}

// completePendingVerification runs the email-verification grant.
func (s *Service) completePendingVerification(ctx context.Context, env *store.Environment, token, code string, c Client) (*TokenResponse, error) {
	chs, err := s.challenges()
	if err != nil {
		return nil, err
	}
	if token == "" || code == "" {
		return nil, invalidRequest("code and pending_authentication_token are required.")
	}
	pending, err := chs.GetChallengeByHash(ctx, store.ChallengePendingAuth, Hash(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrPendingInvalid
	} else if err != nil {
		return nil, err
	}
	if pending.EnvironmentID != env.ID || pending.UsedAt != nil || !s.now().Before(pending.ExpiresAt) {
		return nil, ErrPendingInvalid
	}
	// One transaction verifies the address, uses up the pending token and
	// starts the session; if the token was used meanwhile (the same
	// request twice), the address is verified all the same.
	in, rt := s.apiSignIn(env, pending.UserID, "password", c)
	in.Pending = pending.ID
	user, err := s.verifyEmail(ctx, env, pending.Data["email_verification_id"], code, &in)
	if errors.Is(err, store.ErrAlreadyUsed) {
		return nil, ErrPendingInvalid
	} else if err != nil {
		return nil, err
	}
	at := in.Session.CreatedAt
	user.LastSignInAt = &at
	return s.issue(ctx, env, in.Session, user, rt)
}

// StartMagicAuth emails a sign-in code to an address. For an address with
// no account and sign-up by code turned off, nothing is sent but the
// caller cannot tell (the hosted page must not reveal accounts).
func (s *Service) StartMagicAuth(ctx context.Context, env *store.Environment, email string, c Client) (*store.Challenge, string, error) {
	if !env.Email.MagicAuth {
		return nil, "", ErrMagicAuthOff
	}
	chs, err := s.challenges()
	if err != nil {
		return nil, "", err
	}
	norm, err := users.NormalizeEmail(email)
	if err != nil {
		return nil, "", err
	}
	if err := s.mailAllowed(ctx, env, norm, c); err != nil {
		return nil, "", err
	}
	u, err := s.Store.GetUserByEmail(ctx, env.ID, norm)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, "", err
	}
	now := s.now()
	ch := &store.Challenge{ID: ids.New(magicIDPrefix), EnvironmentID: env.ID, Kind: store.ChallengeMagicAuth,
		Email: norm, CreatedAt: now, ExpiresAt: now.Add(MagicCodeTTL)}
	if u != nil {
		ch.UserID = u.ID
	}
	code := newCode()
	ch.Hash = s.codeMAC(ch.ID, code)
	if err := chs.CreateChallenge(ctx, ch); err != nil {
		return nil, "", err
	}
	if u == nil && !env.Email.MagicSignUp {
		return ch, code, nil
	}
	if err := s.Mailer.Send(ctx, env, Mail{Kind: mailKindMagic, To: norm, Code: code, ExpiresIn: MagicCodeTTL}); err != nil {
		return nil, "", err
	}
	return ch, code, nil
}

// CompleteMagicAuth checks a magic code for an address and returns the
// user, creating the account on first use when the environment allows it.
func (s *Service) CompleteMagicAuth(ctx context.Context, env *store.Environment, email, code string, c Client) (*store.User, error) {
	if !env.Email.MagicAuth {
		return nil, ErrMagicAuthOff
	}
	chs, err := s.challenges()
	if err != nil {
		return nil, err
	}
	norm, err := users.NormalizeEmail(email)
	if err != nil {
		return nil, ErrCodeInvalid
	}
	latest, err := chs.LatestChallenge(ctx, env.ID, store.ChallengeMagicAuth, norm)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrCodeInvalid
	} else if err != nil {
		return nil, err
	}
	if _, err := s.useCode(ctx, env, latest.ID, code); err != nil {
		return nil, err
	}
	u, err := s.Store.GetUserByEmail(ctx, env.ID, norm)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if !env.Email.MagicSignUp {
			return nil, ErrCodeInvalid
		}
		u, err = s.Users.Create(ctx, env.ID, users.CreateInput{Email: norm, EmailVerified: true,
			Logged: s.signedUp(env.ID, "magic_code", c)})
		if err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	}
	if !u.EmailVerified {
		if u, err = s.markVerified(ctx, env, u.ID, norm); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// ResetURL is the hosted page a password-reset email links to.
func (s *Service) ResetURL(env *store.Environment, token string) string {
	return s.BaseURL + "/hosted/" + url.PathEscape(env.ClientID) + "/reset-password?token=" + url.QueryEscape(token)
}

// StartPasswordReset creates a reset token for the account with email and,
// if send is set, emails the link. For an unknown address it returns
// (nil, "", nil): the hosted page answers the same either way.
func (s *Service) StartPasswordReset(ctx context.Context, env *store.Environment, email string, send bool, c Client) (*store.Challenge, string, error) {
	chs, err := s.challenges()
	if err != nil {
		return nil, "", err
	}
	norm, err := users.NormalizeEmail(email)
	if err != nil {
		return nil, "", err
	}
	if err := s.mailAllowed(ctx, env, norm, c); err != nil {
		return nil, "", err
	}
	u, err := s.Store.GetUserByEmail(ctx, env.ID, norm)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", nil
	} else if err != nil {
		return nil, "", err
	}
	tok, hash := newSecret()
	now := s.now()
	ch := &store.Challenge{ID: ids.New(resetIDPrefix), EnvironmentID: env.ID, Kind: store.ChallengePasswordReset,
		UserID: u.ID, Email: u.Email, Hash: hash, CreatedAt: now, ExpiresAt: now.Add(ResetTTL)}
	if err := chs.CreateChallenge(ctx, ch); err != nil {
		return nil, "", err
	}
	if send {
		if err := s.Mailer.Send(ctx, env, Mail{Kind: mailKindReset, To: u.Email, Link: s.ResetURL(env, tok), ExpiresIn: ResetTTL}); err != nil {
			return nil, "", err
		}
	}
	return ch, tok, nil
}

// CheckResetToken returns the live reset challenge a token names.
func (s *Service) CheckResetToken(ctx context.Context, env *store.Environment, token string) (*store.Challenge, error) {
	chs, err := s.challenges()
	if err != nil {
		return nil, err
	}
	if token == "" || len(token) > 100 {
		return nil, ErrResetInvalid
	}
	ch, err := chs.GetChallengeByHash(ctx, store.ChallengePasswordReset, Hash(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrResetInvalid
	} else if err != nil {
		return nil, err
	}
	if ch.EnvironmentID != env.ID || ch.UsedAt != nil || !s.now().Before(ch.ExpiresAt) {
		return nil, ErrResetInvalid
	}
	return ch, nil
}

// ResetPassword sets a new password with a reset token. In one store
// transaction the token is used up, the password set, the email counted
// as verified (the link proved it), every session of the user ended and
// the reset logged. A link sent to an address the account no longer has
// is used up and resets nothing.
func (s *Service) ResetPassword(ctx context.Context, env *store.Environment, token, newPassword string) (*store.User, error) {
	ch, err := s.CheckResetToken(ctx, env, token)
	if err != nil {
		return nil, err
	}
	// Check the password before using up the token, so a weak one can be fixed.
	if err := users.CheckPassword(newPassword); err != nil {
		return nil, err
	}
	hash, err := s.Hasher.Hash(ctx, newPassword)
	if err != nil {
		return nil, err
	}
	chs, _ := s.challenges()
	event := s.event(env.ID, EventPasswordReset, "user", ch.UserID, ch.UserID, Client{}, nil)
	_, u, err := chs.UsePasswordReset(ctx, env.ID, ch.ID, func(c *store.Challenge) error {
		now := s.now()
		if c.UsedAt != nil || !now.Before(c.ExpiresAt) {
			return ErrResetInvalid
		}
		c.UsedAt = &now
		return nil
	}, hash, event)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrResetInvalid
	} else if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, ErrResetInvalid // the account no longer has the address the link went to
	}
	return u, nil
}
