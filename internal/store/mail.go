package store

import (
	"context"
	"time"
)

// Outbox is the durable queue of outgoing email. Every email is written
// here first and sent by a background worker, so a crash or an SMTP outage
// loses nothing; several nodes share the queue safely.
type Outbox interface {
	// EnqueueEmail inserts e (Status "pending", due at e.NextAttemptAt).
	EnqueueEmail(ctx context.Context, e *Email) error
	// ClaimEmails atomically claims up to n emails that are due: status
	// "pending" with NextAttemptAt <= now, or status "sending" whose lease
	// has run out (a worker died mid-send). Claimed emails become "sending"
	// with LeaseUntil = now+lease and ClaimedBy = worker. Concurrent callers
	// never claim the same email (PostgreSQL: FOR UPDATE SKIP LOCKED).
	ClaimEmails(ctx context.Context, now time.Time, n int, lease time.Duration, worker string) ([]Email, error)
	// MarkEmailSent records a successful send, if worker still holds the claim.
	MarkEmailSent(ctx context.Context, id, worker string, at time.Time) error
	// MarkEmailFailed records a failed attempt: the email returns to
	// "pending" due at next, or becomes "failed" when final is set.
	MarkEmailFailed(ctx context.Context, id, worker string, next time.Time, lastError string, final bool) error
	// ReleaseEmail returns a claimed email to "pending" unchanged (a worker
	// stopping before it began sending).
	ReleaseEmail(ctx context.Context, id, worker string) error
	// GetEmail returns an email by ID.
	GetEmail(ctx context.Context, id string) (*Email, error)
	// ListEmails returns a page of an environment's emails, newest first by
	// default ("" lists every environment's).
	ListEmails(ctx context.Context, envID string, p ListParams) (Page[Email], error)
}

// Email is one outgoing message.
type Email struct {
	ID            string // email_…; also the stable Message-ID's left part
	EnvironmentID string
	FromName      string
	FromAddress   string
	To            string
	Subject       string
	Text          string
	HTML          string
	Status        string // pending, sending, sent, failed
	Attempts      int
	NextAttemptAt time.Time
	LeaseUntil    *time.Time
	ClaimedBy     string
	LastError     string
	CreatedAt     time.Time
	SentAt        *time.Time
}

// Challenges stores one-time codes and tokens sent by email (email
// verification, magic auth, password reset) and the pending-authentication
// tokens of step-ups. Only hashes of codes and tokens are stored.
type Challenges interface {
	// CreateChallenge inserts c.
	CreateChallenge(ctx context.Context, c *Challenge) error
	// GetChallenge returns a challenge of an environment by ID.
	GetChallenge(ctx context.Context, envID, id string) (*Challenge, error)
	// GetChallengeByHash returns the challenge whose token hashes to hash
	// (password-reset links and pending-authentication tokens).
	GetChallengeByHash(ctx context.Context, kind string, hash []byte) (*Challenge, error)
	// LatestChallenge returns the newest challenge of a kind for an email in
	// an environment, used or not (the magic-auth grant names only the
	// email, and a used newest code must be reported as used).
	LatestChallenge(ctx context.Context, envID, kind, email string) (*Challenge, error)
	// UpdateChallenge reads a challenge, calls fn and writes the result,
	// atomically (attempt counting and single use). If fn returns an error
	// nothing is written, so a caller that must count a failed attempt
	// returns nil from fn and reports the failure itself.
	UpdateChallenge(ctx context.Context, envID, id string, fn func(*Challenge) error) (*Challenge, error)
	// UseEmailVerification is UpdateChallenge for an email-verification
	// challenge (ErrNotFound for any other kind). When fn marks the
	// challenge used, the same transaction sets email_verified (and
	// updated_at to the use time) on its user, provided the user still has
	// the address the code went to, and returns that user; otherwise the
	// user is nil. When it verifies the address and then is not nil, the
	// same transaction also records the sign-in then describes, as
	// StartSession does (its session must be the challenge's user's): the
	// last step of a verified sign-up in one commit. If then's request was
	// completed already, the verification stands, nothing of then is
	// written, and the error is ErrAlreadyUsed.
	UseEmailVerification(ctx context.Context, envID, id string, fn func(*Challenge) error, then *SignIn) (*Challenge, *User, error)
	// UsePasswordReset is UpdateChallenge for a password-reset challenge
	// (ErrNotFound for any other kind). When fn marks the challenge used,
	// the same transaction, provided the challenge's user still has the
	// address the link went to, sets the user's password hash to
	// passwordHash, email_verified, and updated_at (the use time), ends
	// every live session and browser session of the user at the use time,
	// writes event, and returns the user. Otherwise the user
	// is nil and only the challenge is written: a reset is all of these or
	// none, so a password is never changed with the old sessions left live.
	UsePasswordReset(ctx context.Context, envID, id string, fn func(*Challenge) error, passwordHash string, event *Event) (*Challenge, *User, error)
}

// Challenge kinds.
const (
	ChallengeEmailVerification = "email_verification"
	ChallengeMagicAuth         = "magic_auth"
	ChallengePasswordReset     = "password_reset"
	ChallengePendingAuth       = "pending_authentication"
)

// Challenge is one emailed code or token.
type Challenge struct {
	ID            string // email_verification_…, magic_auth_…, password_reset_…, pending_auth_…
	EnvironmentID string
	Kind          string
	UserID        string // "" for a magic code to an address with no account yet
	Email         string
	Hash          []byte // SHA-256 of the code or token
	Attempts      int
	CreatedAt     time.Time
	ExpiresAt     time.Time
	UsedAt        *time.Time
	Data          map[string]string // e.g. the auth request a step-up resumes
}
