package mail

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Worker defaults.
const (
	DefaultBatch        = 10
	DefaultLease        = 5 * time.Minute
	DefaultPollInterval = 5 * time.Second
	DefaultSendTimeout  = time.Minute
	DefaultMaxAttempts  = 30
	DefaultMaxAge       = 24 * time.Hour
)

// WorkerConfig configures a Worker. Outbox, Sender and Logger are
// required; zero values elsewhere mean the defaults above.
type WorkerConfig struct {
	Outbox store.Outbox
	Sender Sender
	Logger *slog.Logger
	// ID names this worker in claims; "" for hostname-pid-random.
	ID string
	// Now is the clock; nil for time.Now.
	Now func() time.Time
	// Batch is how many emails one claim takes.
	Batch int
	// Lease is how long a claim lasts before another worker may take the
	// email over. An email is only sent while at least SendTimeout of its
	// lease remains, so no other worker can start it meanwhile.
	Lease time.Duration
	// PollInterval is how often the outbox is checked when nothing has
	// called Notify.
	PollInterval time.Duration
	// SendTimeout bounds one send.
	SendTimeout time.Duration
	// MaxAttempts and MaxAge end retrying: an email that has failed
	// MaxAttempts times, or was queued more than MaxAge ago, is "failed".
	MaxAttempts int
	MaxAge      time.Duration
}

// Worker sends the outbox: it claims due emails, sends them and records the
// outcome, retrying temporary failures with exponential backoff. Several
// workers (on one node or many) may share an outbox; claims keep them from
// sending the same email twice.
type Worker struct {
	cfg    WorkerConfig
	notify chan struct{}

	sent, retried, failed atomic.Int64
}

// Stats counts what a worker has done since it started.
type Stats struct {
	Sent    int64 // emails delivered
	Retried int64 // failed attempts scheduled for a retry
	Failed  int64 // emails given up on (permanent error, or out of attempts)
}

// NewWorker returns a worker for cfg.
func NewWorker(cfg WorkerConfig) *Worker {
	if cfg.ID == "" {
		host, _ := os.Hostname()
		var b [4]byte
		crand.Read(b[:])
		cfg.ID = host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = DefaultSendTimeout
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Lease < 2*cfg.SendTimeout {
		cfg.Lease = 2 * cfg.SendTimeout
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	return &Worker{cfg: cfg, notify: make(chan struct{}, 1)}
}

// ID returns the name the worker claims emails under.
func (w *Worker) ID() string { return w.cfg.ID }

// Stats returns the worker's counters (for metrics).
func (w *Worker) Stats() Stats {
	return Stats{Sent: w.sent.Load(), Retried: w.retried.Load(), Failed: w.failed.Load()}
}

// Notify wakes the worker to look at the outbox now, such as after an email
// was queued. It never blocks.
func (w *Worker) Notify() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// Run sends email until ctx ends. On cancel it stops claiming, finishes the
// send in progress (bounded by SendTimeout), returns the emails it claimed
// but did not start to the queue, and returns nil.
func (w *Worker) Run(ctx context.Context) error {
	log := w.cfg.Logger
	errDelay := w.cfg.PollInterval
	for {
		if ctx.Err() != nil {
			return nil
		}
		n, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, "email outbox claim failed", "worker", w.cfg.ID, "err", err)
			if !w.wait(ctx, errDelay) {
				return nil
			}
			errDelay = min(2*errDelay, time.Minute)
			continue
		}
		errDelay = w.cfg.PollInterval
		if n == w.cfg.Batch {
			continue // probably more waiting
		}
		if !w.wait(ctx, w.cfg.PollInterval) {
			return nil
		}
	}
}

// wait sleeps for d or until Notify; false if ctx ended.
func (w *Worker) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-w.notify:
		return true
	case <-t.C:
		return true
	}
}

// RunOnce claims one batch of due emails and sends them, and returns how
// many it claimed. If ctx ends, the rest of the batch is released unsent.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	emails, err := w.cfg.Outbox.ClaimEmails(ctx, w.now(), w.cfg.Batch, w.cfg.Lease, w.cfg.ID)
	if err != nil {
		return 0, err
	}
	for i := range emails {
		e := &emails[i]
		if ctx.Err() != nil || !w.leaseLeft(e) {
			w.release(ctx, e)
			continue
		}
		w.deliver(ctx, e)
	}
	return len(emails), nil
}

// leaseLeft reports whether e's claim lasts long enough for a full send.
func (w *Worker) leaseLeft(e *store.Email) bool {
	return e.LeaseUntil == nil || !w.now().Add(w.cfg.SendTimeout).After(*e.LeaseUntil)
}

// bookkeeping gives the store calls that record an outcome their own
// context: they must happen even when the worker is being stopped.
func (w *Worker) bookkeeping(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}

func (w *Worker) release(ctx context.Context, e *store.Email) {
	bctx, cancel := w.bookkeeping(ctx)
	defer cancel()
	if err := w.cfg.Outbox.ReleaseEmail(bctx, e.ID, w.cfg.ID); err != nil {
		w.cfg.Logger.WarnContext(ctx, "email release failed; it is retried when its lease ends",
			"email_id", e.ID, "worker", w.cfg.ID, "err", err)
	}
}

// deliver sends one claimed email and records the outcome. The send itself
// is not cancelled by ctx: a stopping worker finishes the message it began.
func (w *Worker) deliver(ctx context.Context, e *store.Email) {
	log := w.cfg.Logger
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.SendTimeout)
	err := w.cfg.Sender.Send(sctx, e)
	cancel()
	bctx, cancel := w.bookkeeping(ctx)
	defer cancel()
	now := w.now()
	attempt := e.Attempts + 1
	if err == nil {
		if err := w.cfg.Outbox.MarkEmailSent(bctx, e.ID, w.cfg.ID, now); err != nil {
			log.WarnContext(ctx, "email sent but not recorded; it may be sent again",
				"email_id", e.ID, "environment_id", e.EnvironmentID, "worker", w.cfg.ID, "err", err)
			return
		}
		w.sent.Add(1)
		return
	}
	permanent := errors.Is(err, ErrPermanent)
	final := permanent || attempt >= w.cfg.MaxAttempts || now.Sub(e.CreatedAt) >= w.cfg.MaxAge
	next := now.Add(Jitter(Backoff(attempt)))
	lastError := truncate(err.Error(), 1000)
	if merr := w.cfg.Outbox.MarkEmailFailed(bctx, e.ID, w.cfg.ID, next, lastError, final); merr != nil {
		log.WarnContext(ctx, "email failure not recorded; it is retried when its lease ends",
			"email_id", e.ID, "worker", w.cfg.ID, "err", merr)
		return
	}
	if final {
		w.failed.Add(1)
		log.ErrorContext(ctx, "email not delivered; giving up",
			"email_id", e.ID, "environment_id", e.EnvironmentID, "attempt", attempt, "permanent", permanent, "err", err)
		return
	}
	w.retried.Add(1)
	log.WarnContext(ctx, "email send failed; will retry",
		"email_id", e.ID, "environment_id", e.EnvironmentID, "attempt", attempt, "next_attempt_at", next, "err", err)
}

func (w *Worker) now() time.Time { return nowOr(w.cfg.Now) }

// Backoff is the delay before retrying after the given failed attempt
// (1-based): 30 s, 1 min, 2 min, … doubling, capped at one hour.
func Backoff(attempt int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempt && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// Jitter adds up to 20% to d, so a burst of failures does not retry in
// lockstep.
func Jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d + rand.N(d/5+1)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 { // do not split a UTF-8 sequence
		n--
	}
	return s[:n]
}
