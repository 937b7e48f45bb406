package adminauth

import (
	"context"
	"errors"
	"github.com/gatehouse/gatehouse/internal/throttle"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/errs"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Free failures per key of the dashboard's sign-in, as for end users
// (package throttle has the window and the doubling delays).
const (
	FreeEmailFailures = 5
	FreeIPFailures    = 50
	// TicketTTL is how long the second sign-in step (the TOTP code) waits
	// after a correct password.
	TicketTTL = 5 * time.Minute
)

// ErrInvalidCredentials is the one error for a wrong email, password or
// code, an unknown admin and an admin without a password.
var ErrInvalidCredentials = errs.New(errs.Unauthenticated, "invalid_credentials", "Incorrect email or password.")

// ErrInvalidCode is returned for a wrong TOTP code.
var ErrInvalidCode = errs.New(errs.Unauthenticated, "invalid_code", "That code is not valid. Enter the current 6-digit code from your authenticator app.")

// ErrTicketExpired means the second sign-in step came too late (or was
// forged); the admin starts again.
var ErrTicketExpired = errs.New(errs.Unauthenticated, "sign_in_expired", "This sign-in took too long. Enter your email and password again.")

func emailKey(email string) string { return "admin:email:" + email }
func ipKey(ip string) string       { return "admin:ip:" + ip }

func (s *Service) checkThrottle(ctx context.Context, key string, free int) error {
	_, err := throttle.Check(ctx, s.Store, key, free, s.now())
	return err
}

func (s *Service) checkThrottles(ctx context.Context, email string, c Client) error {
	if err := s.checkThrottle(ctx, emailKey(email), FreeEmailFailures); err != nil {
		return err
	}
	if c.IP != "" {
		return s.checkThrottle(ctx, ipKey(c.IP), FreeIPFailures)
	}
	return nil
}

func (s *Service) recordFailure(ctx context.Context, email string, c Client) error {
	now := s.now()
	if _, err := s.Store.RecordFailure(ctx, emailKey(email), now, throttle.Window); err != nil {
		return err
	}
	if c.IP != "" {
		if _, err := s.Store.RecordFailure(ctx, ipKey(c.IP), now, throttle.Window); err != nil {
			return err
		}
	}
	return nil
}

// SignInResult is the outcome of a correct password. With TOTP on, Admin
// is nil and Ticket carries the admin to the second step; otherwise Admin
// is signed in.
type SignInResult struct {
	Admin  *store.Admin
	Ticket string
}

// Authenticate checks an admin's email and password, with throttling per
// email and per IP. Every failure takes the same time and gives
// ErrInvalidCredentials. If the admin has TOTP on, the result holds a
// ticket for VerifyTOTP instead of the admin.
func (s *Service) Authenticate(ctx context.Context, email, pw string, c Client) (*SignInResult, error) {
	norm, nerr := NormalizeEmail(email)
	if nerr != nil {
		norm = strings.ToLower(strings.TrimSpace(email))
		if len(norm) > 254 {
			norm = norm[:254]
		}
	}
	if err := s.checkThrottles(ctx, norm, c); err != nil {
		return nil, err
	}
	var a *store.Admin
	if nerr == nil {
		got, err := s.Store.GetAdminByEmail(ctx, norm)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			a = got
		}
	}
	ok := false
	if a != nil && a.PasswordHash != "" {
		var err error
		ok, _, err = s.Hasher.Verify(ctx, a.PasswordHash, pw)
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			if s.Logger != nil {
				s.Logger.WarnContext(ctx, "stored admin password hash unusable", "admin_id", a.ID, "err", err)
			}
			ok = false
		}
	} else {
		s.Hasher.DummyVerify(ctx, pw)
	}
	if !ok {
		target := ""
		if a != nil {
			target = a.ID
		}
		s.Record(ctx, Audit{Type: EventSignInFailed, ActorType: "admin", TargetID: target, IP: c.IP, Data: map[string]string{"email": norm, "step": "password"}})
		if err := s.recordFailure(ctx, norm, c); err != nil {
			return nil, err
		}
		return nil, ErrInvalidCredentials
	}
	if a.TOTPSecret != "" {
		exp := s.now().Add(TicketTTL)
		ticket := s.Box.Seal([]byte(a.ID+"|"+strconv.FormatInt(exp.UnixMilli(), 10)), ticketAAD)
		return &SignInResult{Ticket: ticket}, nil
	}
	if err := s.Store.ClearThrottle(ctx, emailKey(norm)); err != nil {
		return nil, err
	}
	a, err := s.signedIn(ctx, a, "password", c)
	if err != nil {
		return nil, err
	}
	return &SignInResult{Admin: a}, nil
}

var ticketAAD = []byte("gatehouse admin sign-in ticket")

// VerifyTOTP finishes a sign-in: it checks the TOTP code for the admin a
// ticket from Authenticate names. Wrong codes count against the admin's
// email throttle.
func (s *Service) VerifyTOTP(ctx context.Context, ticket, code string, c Client) (*store.Admin, error) {
	if len(ticket) > 500 {
		return nil, ErrTicketExpired
	}
	raw, err := s.Box.Open(ticket, ticketAAD)
	if err != nil {
		return nil, ErrTicketExpired
	}
	id, expText, ok := strings.Cut(string(raw), "|")
	exp, perr := strconv.ParseInt(expText, 10, 64)
	if !ok || perr != nil || !s.now().Before(time.UnixMilli(exp)) {
		return nil, ErrTicketExpired
	}
	a, err := s.Store.GetAdmin(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrTicketExpired
	}
	if err != nil {
		return nil, err
	}
	if err := s.checkThrottles(ctx, a.Email, c); err != nil {
		return nil, err
	}
	secret, err := s.openTOTP(a)
	if err != nil {
		return nil, err
	}
	if secret == nil || !ValidateTOTP(secret, code, s.now()) {
		s.Record(ctx, Audit{Type: EventSignInFailed, ActorType: "admin", TargetID: a.ID, IP: c.IP, Data: map[string]string{"email": a.Email, "step": "totp"}})
		if err := s.recordFailure(ctx, a.Email, c); err != nil {
			return nil, err
		}
		return nil, ErrInvalidCode
	}
	if err := s.Store.ClearThrottle(ctx, emailKey(a.Email)); err != nil {
		return nil, err
	}
	return s.signedIn(ctx, a, "password+totp", c)
}
