package mail

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/sqlite/sqlitetest"
)

// backends runs fn on a fresh SQLite store and a fresh PostgreSQL store.
// open returns another handle on the same database, as a second node would
// have.
func backends(t *testing.T, fn func(t *testing.T, st store.Store, open func() store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "g.db")
		open := func() store.Store { return sqlitetest.Open(t, path) }
		fn(t, open(), open)
	})
	t.Run("postgres", func(t *testing.T) {
		u := pgtest.NewURL(t)
		open := func() store.Store { return pgtest.Open(t, u) }
		fn(t, open(), open)
	})
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newTestEnv(t *testing.T, st store.Store) *store.Environment {
	t.Helper()
	now := store.Now()
	env := &store.Environment{
		ID: ids.New("environment"), Name: "Acme Dev", Type: store.Development, ClientID: ids.New("client"),
		Branding:  store.Branding{AppName: "Acme", PrimaryColor: "#228be6"},
		CreatedAt: now, UpdatedAt: now,
	}
	if err := st.CreateEnvironment(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	return env
}

// enqueueN queues n magic-auth emails and returns their IDs.
func enqueueN(t *testing.T, st store.Store, env *store.Environment, n int) []string {
	t.Helper()
	var out []string
	for i := range n {
		e, err := Enqueue(t.Context(), st, env, "noreply@acme.example", fmt.Sprintf("user%d@example.com", i),
			KindMagicAuth, TemplateData{Code: fmt.Sprintf("%06d", i), ExpiresIn: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.ID)
	}
	return out
}

// fakeClock is a settable clock, starting a second ahead of real time so
// emails queued now are due.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: store.Now().Add(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func getEmail(t *testing.T, st store.Store, id string) *store.Email {
	t.Helper()
	e, err := st.GetEmail(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func countStatus(t *testing.T, st store.Store, emailIDs []string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, id := range emailIDs {
		out[getEmail(t, st, id).Status]++
	}
	return out
}

func plainSender(t *testing.T, srv *testSMTP) *SMTPSender {
	return sender(t, srv.URL("smtp", "", "", "tls=none"), nil, 5*time.Second)
}

func TestEnqueue(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, _ func() store.Store) {
		env := newTestEnv(t, st)
		e, err := Enqueue(t.Context(), st, env, "noreply@acme.example", "ada@example.com", KindEmailVerification,
			TemplateData{Code: "424242", ExpiresIn: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		got := getEmail(t, st, e.ID)
		if !ids.Valid(got.ID, "email") || got.EnvironmentID != env.ID || got.Status != StatusPending ||
			got.FromName != "Acme" || got.FromAddress != "noreply@acme.example" || got.To != "ada@example.com" ||
			got.Subject != "Verify your email for Acme" || got.Attempts != 0 {
			t.Errorf("stored %+v", got)
		}
		if !strings.Contains(got.Text, "424242") || !strings.Contains(got.HTML, "424242") || !strings.Contains(got.HTML, "#228be6") {
			t.Error("body lacks the code or the brand colour")
		}
		// The environment's own sender wins over the defaults.
		withSender := *env
		withSender.Email.SenderName, withSender.Email.SenderAddress = "Acme Auth", "auth@acme.example"
		e, err = Enqueue(t.Context(), st, &withSender, "noreply@acme.example", "ada@example.com", KindMagicAuth, TemplateData{Code: "1"})
		if err != nil || e.FromName != "Acme Auth" || e.FromAddress != "auth@acme.example" {
			t.Errorf("sender = %q <%s>, %v", e.FromName, e.FromAddress, err)
		}
		// Without an app name the environment's name signs the mail.
		env.Branding = store.Branding{}
		e, err = Enqueue(t.Context(), st, env, "noreply@acme.example", "ada@example.com", KindMagicAuth, TemplateData{Code: "1"})
		if err != nil || e.FromName != "Acme Dev" || e.FromAddress != "noreply@acme.example" {
			t.Errorf("sender = %q <%s>, %v", e.FromName, e.FromAddress, err)
		}
		for _, to := range []string{"", "not an address", "a@b.example\r\nBcc: c@d.example"} {
			if _, err := Enqueue(t.Context(), st, env, "noreply@acme.example", to, KindMagicAuth, TemplateData{Code: "1"}); err == nil {
				t.Errorf("Enqueue to %q: no error", to)
			}
		}
		if _, err := Enqueue(t.Context(), st, env, "bad", "ada@example.com", KindMagicAuth, TemplateData{Code: "1"}); err == nil {
			t.Error("Enqueue from a bad address: no error")
		}
	})
}

func TestWorkerDelivers(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, _ func() store.Store) {
		srv, _ := newTestSMTP(t, modePlain, "", "")
		env := newTestEnv(t, st)
		w := NewWorker(WorkerConfig{Outbox: st, Sender: plainSender(t, srv), Logger: testLogger(t), PollInterval: time.Hour})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- w.Run(ctx) }()
		// Queued after the worker went to sleep: Notify wakes it.
		time.Sleep(50 * time.Millisecond)
		idList := enqueueN(t, st, env, 3)
		w.Notify()
		waitFor(t, "3 sent", 10*time.Second, func() bool { return countStatus(t, st, idList)[StatusSent] == 3 })
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		got := srv.messageIDs()
		for _, id := range idList {
			if got["<"+id+"@gatehouse>"] != 1 {
				t.Errorf("%s received %d times", id, got["<"+id+"@gatehouse>"])
			}
			e := getEmail(t, st, id)
			if e.Attempts != 1 || e.SentAt == nil || e.ClaimedBy != w.ID() || e.LeaseUntil != nil {
				t.Errorf("stored %+v", e)
			}
		}
		if s := w.Stats(); s != (Stats{Sent: 3}) {
			t.Errorf("Stats = %+v", s)
		}
	})
}

// A 451 is retried with backoff (times from the injected clock) until the
// server accepts; Attempts counts every try.
func TestWorkerRetriesTemporaryFailure(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, _ func() store.Store) {
		srv, _ := newTestSMTP(t, modePlain, "", "")
		srv.refuse("data", 451, 2)
		env := newTestEnv(t, st)
		clock := newFakeClock()
		w := NewWorker(WorkerConfig{Outbox: st, Sender: plainSender(t, srv), Logger: testLogger(t), Now: clock.Now})
		id := enqueueN(t, st, env, 1)[0]

		for attempt := 1; attempt <= 2; attempt++ {
			now := clock.Now()
			if n, err := w.RunOnce(t.Context()); err != nil || n != 1 {
				t.Fatalf("attempt %d: RunOnce = %d, %v", attempt, n, err)
			}
			e := getEmail(t, st, id)
			lo, hi := now.Add(Backoff(attempt)), now.Add(Backoff(attempt)*6/5)
			if e.Status != StatusPending || e.Attempts != attempt || e.NextAttemptAt.Before(lo) || e.NextAttemptAt.After(hi) ||
				!strings.Contains(e.LastError, "451") || e.LeaseUntil != nil {
				t.Fatalf("attempt %d: stored status %s attempts %d next %v (want in [%v, %v]) last error %q",
					attempt, e.Status, e.Attempts, e.NextAttemptAt, lo, hi, e.LastError)
			}
			// Not due yet: nothing to claim.
			clock.Set(e.NextAttemptAt.Add(-time.Millisecond))
			if n, err := w.RunOnce(t.Context()); err != nil || n != 0 {
				t.Fatalf("before the retry time: RunOnce = %d, %v", n, err)
			}
			clock.Set(e.NextAttemptAt)
		}
		if n, err := w.RunOnce(t.Context()); err != nil || n != 1 {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		e := getEmail(t, st, id)
		if e.Status != StatusSent || e.Attempts != 3 || e.SentAt == nil || !e.SentAt.Equal(clock.Now()) {
			t.Fatalf("stored %+v", e)
		}
		if n := len(srv.messages()); n != 1 {
			t.Errorf("received %d", n)
		}
		if s := w.Stats(); s != (Stats{Sent: 1, Retried: 2}) {
			t.Errorf("Stats = %+v", s)
		}
	})
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
		16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
	for i, w := range want {
		if got := Backoff(i + 1); got != w {
			t.Errorf("Backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	if Backoff(1000) != time.Hour {
		t.Error("Backoff(1000) is not capped")
	}
	for range 1000 {
		if j := Jitter(time.Minute); j < time.Minute || j > time.Minute*6/5 {
			t.Fatalf("Jitter(1m) = %v", j)
		}
	}
}

// A 550 is permanent: the email fails at once and is never retried.
func TestWorkerPermanentFailure(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, _ func() store.Store) {
		srv, _ := newTestSMTP(t, modePlain, "", "")
		srv.refuse("rcpt", 550, 1)
		env := newTestEnv(t, st)
		clock := newFakeClock()
		w := NewWorker(WorkerConfig{Outbox: st, Sender: plainSender(t, srv), Logger: testLogger(t), Now: clock.Now})
		id := enqueueN(t, st, env, 1)[0]
		if n, err := w.RunOnce(t.Context()); err != nil || n != 1 {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		e := getEmail(t, st, id)
		if e.Status != StatusFailed || e.Attempts != 1 || !strings.Contains(e.LastError, "550") {
			t.Fatalf("stored %+v", e)
		}
		clock.Set(clock.Now().Add(48 * time.Hour))
		if n, err := w.RunOnce(t.Context()); err != nil || n != 0 {
			t.Fatalf("a failed email was claimed again: %d, %v", n, err)
		}
		if n := len(srv.messages()); n != 0 {
			t.Errorf("received %d", n)
		}
		if s := w.Stats(); s != (Stats{Failed: 1}) {
			t.Errorf("Stats = %+v", s)
		}
	})
}

// Temporary failures end in "failed" after MaxAttempts, or once the email
// is older than MaxAge.
func TestWorkerGivesUp(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, _ func() store.Store) {
		srv, _ := newTestSMTP(t, modePlain, "", "")
		srv.refuse("data", 451, 100)
		env := newTestEnv(t, st)
		clock := newFakeClock()
		w := NewWorker(WorkerConfig{Outbox: st, Sender: plainSender(t, srv), Logger: testLogger(t), Now: clock.Now, MaxAttempts: 3})
		id := enqueueN(t, st, env, 1)[0]
		for range 3 {
			if n, err := w.RunOnce(t.Context()); err != nil || n != 1 {
				t.Fatalf("RunOnce = %d, %v", n, err)
			}
			clock.Set(clock.Now().Add(2 * time.Hour))
		}
		if e := getEmail(t, st, id); e.Status != StatusFailed || e.Attempts != 3 {
			t.Fatalf("after 3 attempts: status %s attempts %d", e.Status, e.Attempts)
		}

		// A day after it was queued, one more failure is the last.
		w = NewWorker(WorkerConfig{Outbox: st, Sender: plainSender(t, srv), Logger: testLogger(t), Now: clock.Now})
		id = enqueueN(t, st, env, 1)[0]
		clock.Set(getEmail(t, st, id).CreatedAt.Add(DefaultMaxAge))
		if n, err := w.RunOnce(t.Context()); err != nil || n != 1 {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		if e := getEmail(t, st, id); e.Status != StatusFailed || e.Attempts != 1 {
			t.Fatalf("a day old: status %s attempts %d", e.Status, e.Attempts)
		}
		if s := w.Stats(); s != (Stats{Failed: 1}) {
			t.Errorf("Stats = %+v", s)
		}
	})
}

// Stopping a worker mid-send loses nothing and sends nothing twice: the
// message in flight is finished and recorded, the rest of its batch goes
// back to the queue, and a new worker sends the remainder.
func TestWorkerStopMidSend(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, open func() store.Store) {
		srv, _ := newTestSMTP(t, modePlain, "", "")
		srv.setDelay(100 * time.Millisecond)
		inData := make(chan string, 100)
		srv.inData = inData
		env := newTestEnv(t, st)
		idList := enqueueN(t, st, env, 50)

		w1 := NewWorker(WorkerConfig{Outbox: st, Sender: plainSender(t, srv), Logger: testLogger(t), ID: "w1"})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- w1.Run(ctx) }()
		for range 4 { // the fourth message is in DATA, held by the delay
			select {
			case <-inData:
			case <-time.After(10 * time.Second):
				t.Fatal("no message reached DATA")
			}
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
		status := countStatus(t, st, idList)
		received := len(srv.messages())
		if received != 4 || status[StatusSent] != 4 || status[StatusPending] != 46 || status[StatusSending] != 0 {
			t.Fatalf("after stop: received %d, statuses %v; want 4 sent (the one in flight finished) and 46 pending", received, status)
		}
		if s := w1.Stats(); s.Sent != 4 {
			t.Errorf("w1 Stats = %+v", s)
		}

		// A new node picks up the rest.
		srv.setDelay(0)
		st2 := open()
		w2 := NewWorker(WorkerConfig{Outbox: st2, Sender: plainSender(t, srv), Logger: testLogger(t), ID: "w2"})
		ctx, cancel = context.WithCancel(t.Context())
		defer cancel()
		go func() { done <- w2.Run(ctx) }()
		waitFor(t, "50 sent", 20*time.Second, func() bool { return countStatus(t, st, idList)[StatusSent] == 50 })
		cancel()
		<-done
		got := srv.messageIDs()
		if len(got) != 50 {
			t.Errorf("received %d distinct messages, want 50", len(got))
		}
		for _, id := range idList {
			if n := got["<"+id+"@gatehouse>"]; n != 1 {
				t.Errorf("%s received %d times", id, n)
			}
		}
	})
}

// Two workers on two connections to one database deliver each email exactly
// once between them.
func TestTwoWorkers(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, open func() store.Store) {
		srv, _ := newTestSMTP(t, modePlain, "", "")
		srv.setDelay(2 * time.Millisecond)
		env := newTestEnv(t, st)
		idList := enqueueN(t, st, env, 100)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var workers []*Worker
		var wg sync.WaitGroup
		for i, s := range []store.Store{st, open()} {
			w := NewWorker(WorkerConfig{Outbox: s, Sender: plainSender(t, srv), Logger: testLogger(t),
				ID: fmt.Sprintf("w%d", i+1), Batch: 5, PollInterval: 20 * time.Millisecond})
			workers = append(workers, w)
			wg.Go(func() { w.Run(ctx) })
		}
		waitFor(t, "100 sent", 60*time.Second, func() bool { return countStatus(t, st, idList)[StatusSent] == 100 })
		cancel()
		wg.Wait()
		got := srv.messageIDs()
		for _, id := range idList {
			if n := got["<"+id+"@gatehouse>"]; n != 1 {
				t.Errorf("%s received %d times", id, n)
			}
		}
		if len(got) != 100 {
			t.Errorf("received %d distinct messages", len(got))
		}
		s1, s2 := workers[0].Stats(), workers[1].Stats()
		t.Logf("w1 sent %d, w2 sent %d", s1.Sent, s2.Sent)
		if s1.Sent+s2.Sent != 100 || s1.Sent == 0 || s2.Sent == 0 {
			t.Errorf("w1 sent %d, w2 sent %d; want 100 shared between both", s1.Sent, s2.Sent)
		}
	})
}

func TestCaptureSender(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, _ func() store.Store) {
		var logs bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&logs, nil))
		env := newTestEnv(t, st)
		code, err := Enqueue(t.Context(), st, env, "noreply@acme.example", "ada@example.com", KindMagicAuth,
			TemplateData{Code: "314159"})
		if err != nil {
			t.Fatal(err)
		}
		link, err := Enqueue(t.Context(), st, env, "noreply@acme.example", "bob@example.com", KindPasswordReset,
			TemplateData{Link: "http://localhost:8080/reset?token=abc"})
		if err != nil {
			t.Fatal(err)
		}
		w := NewWorker(WorkerConfig{Outbox: st, Sender: CaptureSender{Logger: logger}, Logger: logger})
		if n, err := w.RunOnce(t.Context()); err != nil || n != 2 {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		for _, id := range []string{code.ID, link.ID} {
			if e := getEmail(t, st, id); e.Status != StatusSent {
				t.Errorf("%s: status %s", id, e.Status)
			}
		}
		out := logs.String()
		for _, want := range []string{"to=ada@example.com", "code=314159", "to=bob@example.com", `link="http://localhost:8080/reset?token=abc"`, "email captured"} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %q:\n%s", want, out)
			}
		}
	})
}
