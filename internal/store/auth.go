package store

import (
	"context"
	"errors"
	"time"
)

// ErrAlreadyUsed means a single-use credential (an authorization code or a
// refresh token) was presented a second time. The methods that return it
// also return the row, so the caller can act on the reuse.
var ErrAlreadyUsed = errors.New("store: already used")

// SigningKeys stores an environment's JWT signing keys. The private key is
// sealed with the master key before it reaches the store.
type SigningKeys interface {
	// CreateFirstSigningKey inserts k only if its environment has no signing
	// key yet, atomically, and reports whether it did. Nodes racing to make
	// an environment's first key end up with exactly one.
	CreateFirstSigningKey(ctx context.Context, k *SigningKey) (bool, error)
	// RotateSigningKey inserts next and, in the same transaction, sets
	// ExpiresAt = retireAt on every key of the environment that has none.
	RotateSigningKey(ctx context.Context, next *SigningKey, retireAt time.Time) error
	// ListSigningKeys returns an environment's keys whose ExpiresAt is unset
	// or after now, ordered by ActivatesAt then ID.
	ListSigningKeys(ctx context.Context, envID string, now time.Time) ([]SigningKey, error)
}

// SigningKey is one JWT signing key. Tokens are signed with the newest key
// whose ActivatesAt has passed; the JWKS publishes every listed key, so a
// new key is public before it signs and an old one stays public until the
// tokens it signed have expired.
type SigningKey struct {
	ID            string // the JWT "kid"
	EnvironmentID string
	Algorithm     string // RS256 or ES256
	PrivateKey    string // sealed with the master key
	PublicJWK     string // the public key as a JSON JWK
	CreatedAt     time.Time
	ActivatesAt   time.Time
	ExpiresAt     *time.Time
}

// AuthRequests stores pending authorization requests: what an app asked for
// at /user_management/authorize, kept server-side so any node can finish it.
type AuthRequests interface {
	// CreateAuthRequest inserts r.
	CreateAuthRequest(ctx context.Context, r *AuthRequest) error
	// GetAuthRequest returns a request by ID, expired or not.
	GetAuthRequest(ctx context.Context, envID, id string) (*AuthRequest, error)
}

// Sweeper deletes rows that no longer serve a purpose, so the token
// tables do not grow without bound.
type Sweeper interface {
	// Sweep deletes, in statements of at most batch rows each:
	//   - authorization requests that expired before c.Now;
	//   - authorization codes, challenges, sessions and browser sessions
	//     that expired before c.Before;
	//   - refresh tokens created before c.Before that were used before
	//     c.Before or whose session no longer exists (a used token is kept
	//     until then so that its reuse is still detected);
	//   - throttle counters whose last failure is before c.Before;
	//   - emails sent, or given up on, that were queued before c.Before
	//     (their bodies hold codes and links; pending ones are never
	//     deleted);
	//   - activity-log events recorded before c.Events, by their ID (a
	//     ULID: the time it was recorded), unless c.Events is zero;
	//   - idempotency records that expired before c.Now.
	// It returns how many rows of each it deleted; on error, what it
	// deleted so far. Sweeps may run on several nodes at once.
	Sweep(ctx context.Context, c SweepCutoffs, batch int) (Swept, error)
}

// SweepCutoffs are the times before which Sweep deletes rows.
type SweepCutoffs struct {
	Now    time.Time // expired pending authorization requests
	Before time.Time // dead rows: now minus the retention
	Events time.Time // activity-log events: now minus their retention; zero keeps them all
}

// Swept counts the rows a sweep deleted, per table.
type Swept struct {
	AuthRequests, AuthCodes, RefreshTokens, Sessions, BrowserSessions, Challenges, Throttles, Emails, Events, IdempotencyKeys int

	Statements int // delete statements run, those that found nothing included
}

// Total is the number of rows deleted.
func (s Swept) Total() int {
	return s.AuthRequests + s.AuthCodes + s.RefreshTokens + s.Sessions + s.BrowserSessions + s.Challenges + s.Throttles + s.Emails + s.Events +
		s.IdempotencyKeys
}

// SweepStep is one delete statement of a backend's Sweep: it deletes at
// most a batch of rows older than Cut (a time or an ID, as the backend
// stores it), and its count goes to Count.
type SweepStep struct {
	Count *int
	SQL   string
	Cut   any
}

// SweepBudget is how long one sweep statement should hold the database's
// writer (all of SQLite's): RunSweep halves the rows per statement while
// statements take longer, and grows them back, up to the batch, while
// they take less than a quarter of it. On a small table 1,000 rows take
// ~7 ms; on SQLite with 100,000 live refresh tokens they took 35 ms
// (docs/benchmarks.md).
const SweepBudget = 10 * time.Millisecond

// minSweepLimit is the fewest rows a statement is sized down to.
const minSweepLimit = 50

// RunSweep runs each step in order, again and again until a statement
// deletes fewer rows than it was allowed; exec runs one statement with its
// cutoff and row limit (at most batch, sized by nextSweepLimit) and
// returns the rows it deleted. RunSweep returns the number of statements
// run.
func RunSweep(batch int, steps []SweepStep, exec func(sql string, cut any, limit int) (int64, error)) (statements int, err error) {
	limit := batch
	for _, st := range steps {
		for {
			start := time.Now()
			n, err := exec(st.SQL, st.Cut, limit)
			statements++
			if err != nil {
				return statements, err
			}
			*st.Count += int(n)
			if n < int64(limit) {
				break
			}
			limit = nextSweepLimit(limit, batch, time.Since(start))
		}
	}
	return statements, nil
}

// nextSweepLimit is the row limit of the statement after one that deleted
// limit rows in took: half (but not under minSweepLimit, unless limit
// already is) if took exceeded SweepBudget, double (at most batch) if it took under a
// quarter of it, else the same.
func nextSweepLimit(limit, batch int, took time.Duration) int {
	switch {
	case took > SweepBudget:
		return max(limit/2, min(limit, minSweepLimit))
	case took < SweepBudget/4:
		return min(limit*2, batch)
	}
	return limit
}

// AuthRequest is one pending authorization request.
type AuthRequest struct {
	ID            string
	EnvironmentID string
	ClientID      string
	RedirectURI   string
	State         string // echoed back byte for byte; may be empty
	CodeChallenge string // PKCE S256 challenge, or ""
	ScreenHint    string // "sign-in" or "sign-up"
	LoginHint     string
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

// AuthCodes stores authorization codes by the SHA-256 of the code.
type AuthCodes interface {
	// CreateAuthCode inserts c.
	CreateAuthCode(ctx context.Context, c *AuthCode) error
	// ConsumeAuthCode marks the code used at now and returns it as it was,
	// atomically, with its session and user read in the same transaction.
	// If it was already used it returns the same and ErrAlreadyUsed; if it
	// does not exist, ErrNotFound. Expiry is the caller's check.
	//
	// When first is not nil and this call consumes the code, first is
	// inserted in the same transaction as the session's first refresh
	// token, in the code's environment and session (whatever first says;
	// first itself is not changed), so an exchange is one trip to the
	// database. A caller that then refuses the exchange deletes it.
	ConsumeAuthCode(ctx context.Context, hash []byte, now time.Time, first *RefreshToken) (*Redemption, error)
}

// Redemption is what ConsumeAuthCode found.
type Redemption struct {
	Code    *AuthCode
	Session *Session // nil if the session no longer exists
	User    *User    // nil if the user no longer exists
}

// AuthCode is a single-use authorization code bound to its environment,
// client, redirect URI and PKCE challenge.
type AuthCode struct {
	Hash          []byte
	EnvironmentID string
	ClientID      string
	RedirectURI   string
	CodeChallenge string
	UserID        string
	SessionID     string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	UsedAt        *time.Time
}

// Sessions stores users' sessions with apps (the WorkOS Session object).
type Sessions interface {
	// CreateSession inserts s.
	CreateSession(ctx context.Context, s *Session) error
	// StartSession records a sign-in in one transaction (see SignIn).
	// Nothing is written if the request is gone (ErrAlreadyUsed) or the
	// user is (ErrNotFound).
	StartSession(ctx context.Context, in SignIn) error
	// GetSession returns a session of an environment.
	GetSession(ctx context.Context, envID, id string) (*Session, error)
	// GetSessionByID returns a session whatever its environment. Only the
	// public logout endpoint uses it: its URL names nothing but the session.
	GetSessionByID(ctx context.Context, id string) (*Session, error)
	// ListUserSessions returns a page of a user's sessions, keyset by ID.
	ListUserSessions(ctx context.Context, envID, userID string, p ListParams) (Page[Session], error)
	// TouchSession records activity (a refresh) at the given time.
	TouchSession(ctx context.Context, envID, id string, at time.Time) error
	// EndSession marks a session ended at the given time, keeping the first
	// end time if it had ended already. ErrNotFound if absent.
	EndSession(ctx context.Context, envID, id string, at time.Time) error
	// EndSessionAndBrowser is a sign-out: in one transaction it ends a
	// session as EndSession does and the browser session browserSessionID
	// (unless "", keeping its first end time), so that the browser is not
	// signed straight back in, and, if this call is the one that ended the
	// session, writes event. It reports whether it ended the
	// session. ErrNotFound if the session is absent; then nothing is
	// written.
	EndSessionAndBrowser(ctx context.Context, envID, id, browserSessionID string, at time.Time, event *Event) (ended bool, err error)
}

// SignIn is what StartSession writes: Session, with its user's
// LastSignInAt set to Session.CreatedAt, and whichever of the rest are
// set. Code and First are bound to the session's environment, user and
// session whatever they say; none of the values is changed.
type SignIn struct {
	Session *Session
	// Browser is Gatehouse's new session with the browser that signed in
	// on the hosted pages, or nil.
	Browser *BrowserSession
	// Request is the ID of the stored authorization request, of the
	// session's environment, that the sign-in completes: it is deleted, so
	// it is completed once. "" for none.
	Request string
	// Pending is the ID of the pending-authentication challenge, of the
	// session's environment, that the sign-in completes (the API's
	// email-verification grant): it is marked used, so it is completed
	// once. "" for none. A sign-in completes a request or a pending
	// challenge, never both (ErrRequestAndPending): with both, one could be
	// used up while the other refuses the sign-in.
	Pending string
	// Code is the authorization code handing the session to the app, or nil.
	Code *AuthCode
	// First is the session's first refresh token, or nil.
	First *RefreshToken
	// Event is the sign-in's activity-log entry, or nil: it is recorded
	// with the session or not at all, so the log shows each sign-in that
	// happened and no other.
	Event *Event
}

// ErrRequestAndPending is a caller's mistake: a sign-in sets both Request
// and Pending. StartSession and UseEmailVerification refuse it before
// writing anything.
var ErrRequestAndPending = errors.New("store: a sign-in completes a request or a pending challenge, not both")

// Check returns ErrRequestAndPending if in sets both Request and Pending.
func (in *SignIn) Check() error {
	if in.Request != "" && in.Pending != "" {
		return ErrRequestAndPending
	}
	return nil
}

// ErrNotTheChallengesUser is a caller's mistake: a sign-in passed to
// UseEmailVerification must be the challenge's user's.
var ErrNotTheChallengesUser = errors.New("store: the sign-in is not for the challenge's user")

// CheckFor returns ErrNotTheChallengesUser unless in starts a session of
// user userID in environment envID, and otherwise what Check returns.
func (in *SignIn) CheckFor(envID, userID string) error {
	if in.Session.EnvironmentID != envID || in.Session.UserID != userID {
		return ErrNotTheChallengesUser
	}
	return in.Check()
}

// Session is a user's session with an app, created at sign-in and kept
// alive by refreshes. It is active until it ends (logout, revocation,
// refresh-token reuse), passes ExpiresAt, or sees no activity for the
// environment's idle timeout.
type Session struct {
	ID               string
	EnvironmentID    string
	UserID           string
	BrowserSessionID string // Gatehouse's browser session it came from, or ""
	ClientID         string
	AuthMethod       string // password, magic_code, …
	IPAddress        string
	UserAgent        string
	OrganizationID   string
	CreatedAt        time.Time
	UpdatedAt        time.Time
	LastActiveAt     time.Time
	ExpiresAt        time.Time
	EndedAt          *time.Time
}

// RefreshTokens stores refresh tokens by the SHA-256 of the token. Tokens
// rotate: each is used once and names its successor.
type RefreshTokens interface {
	// CreateRefreshToken inserts t.
	CreateRefreshToken(ctx context.Context, t *RefreshToken) error
	// DeleteRefreshToken deletes the token with hash. ErrNotFound if absent.
	DeleteRefreshToken(ctx context.Context, hash []byte) error
	// RotateRefreshToken atomically marks the token with hash used at now
	// and inserts next as its successor (next's EnvironmentID and SessionID
	// are taken from the rotated token, whatever the caller set), recording next's hash and
	// nextSealed (the successor token sealed with the master key, so a
	// concurrent request within the grace window can be given the same
	// one). It returns the token as it was before the call, with the session
	// and user it belongs to read in the same transaction, so a refresh is
	// one trip to the database. If the token was used already it returns the
	// same with ErrAlreadyUsed and inserts nothing; unknown tokens give
	// ErrNotFound.
	RotateRefreshToken(ctx context.Context, hash []byte, now time.Time, next *RefreshToken, nextSealed string) (*Rotation, error)
}

// Rotation is what RotateRefreshToken found.
type Rotation struct {
	Token   *RefreshToken // the presented token as it was before the call
	Session *Session      // its session; nil if the session no longer exists
	User    *User         // the session's user; nil if the session or user no longer exists
}

// RefreshToken is one link of a session's refresh-token chain.
type RefreshToken struct {
	Hash            []byte
	EnvironmentID   string
	SessionID       string
	CreatedAt       time.Time
	UsedAt          *time.Time
	SuccessorHash   []byte
	SuccessorSealed string
}

// BrowserSessions stores Gatehouse's own sessions with browsers, which let
// a second authorization skip the sign-in form.
type BrowserSessions interface {
	// CreateBrowserSession inserts b.
	CreateBrowserSession(ctx context.Context, b *BrowserSession) error
	// GetBrowserSessionByHash returns the session whose cookie token hashes
	// to hash.
	GetBrowserSessionByHash(ctx context.Context, hash []byte) (*BrowserSession, error)
	// GetBrowserSessionUser returns the session whose cookie token hashes
	// to hash and its user. ErrNotFound if either is missing.
	GetBrowserSessionUser(ctx context.Context, hash []byte) (*BrowserSession, *User, error)
	// TouchBrowserSession records activity at the given time.
	TouchBrowserSession(ctx context.Context, id string, at time.Time) error
	// EndBrowserSession marks a browser session ended, keeping the first
	// end time. ErrNotFound if absent.
	EndBrowserSession(ctx context.Context, envID, id string, at time.Time) error
}

// BrowserSession is Gatehouse's session with one browser in one environment.
type BrowserSession struct {
	ID            string
	Hash          []byte // SHA-256 of the cookie's token
	EnvironmentID string
	UserID        string
	CreatedAt     time.Time
	LastSeenAt    time.Time
	ExpiresAt     time.Time
	EndedAt       *time.Time
}

// Throttles stores failure counters for brute-force protection, keyed by
// strings such as "signin:email:<env>:<email>". They live in the database so
// limits hold across nodes.
type Throttles interface {
	// RecordFailure adds one failure to key at now and returns the count
	// within the window. A counter whose first failure is older than window
	// restarts at 1.
	RecordFailure(ctx context.Context, key string, now time.Time, window time.Duration) (Throttle, error)
	// GetThrottle returns a key's counter; a key never seen gives a zero
	// Throttle and no error.
	GetThrottle(ctx context.Context, key string) (Throttle, error)
	// ClearThrottle forgets a key's failures.
	ClearThrottle(ctx context.Context, key string) error
	// GetSignInState returns what a password sign-in reads before it
	// hashes, together (one round trip on PostgreSQL): the counters of
	// keys, in order (as GetThrottle), and the user of envID with the
	// (normalised) email, or nil if there is none or email is empty.
	GetSignInState(ctx context.Context, envID, email string, keys ...string) ([]Throttle, *User, error)
}

// Throttle is a failure counter.
type Throttle struct {
	Failures int
	FirstAt  time.Time
	LastAt   time.Time
}
