package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
)

func newEmail(envID string, due time.Time) *store.Email {
	now := store.Now()
	return &store.Email{
		ID: ids.New("email"), EnvironmentID: envID, FromName: "Acme", FromAddress: "noreply@acme.example",
		To: "ada@example.com", Subject: "Your code", Text: "code 123456\n", HTML: "<p>code 123456</p>",
		Status: "pending", NextAttemptAt: store.Truncate(due), CreatedAt: now,
	}
}

func emailIDs(es []store.Email) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func testOutbox(t *testing.T, s store.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "Dev")
	now := store.Now()
	const lease = time.Minute

	first := newEmail(env.ID, now.Add(-2*time.Second))
	first.NextAttemptAt = rawTime(-2 * time.Second)
	first.Text = "ünïcødé ✓ \"quoted\"\n"
	second := newEmail(env.ID, now.Add(-time.Second))
	later := newEmail(env.ID, now.Add(time.Hour))
	for _, e := range []*store.Email{first, second, later} {
		if err := s.EnqueueEmail(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	first.NextAttemptAt = store.Truncate(first.NextAttemptAt)
	wantErr(t, s.EnqueueEmail(ctx, first), store.ErrConflict, "duplicate email ID")
	got, err := s.GetEmail(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, got); diff != "" {
		t.Errorf("GetEmail (-want +got):\n%s", diff)
	}
	if got.NextAttemptAt.Location() != time.UTC || got.CreatedAt.Location() != time.UTC {
		t.Errorf("times not in UTC: %v, %v", got.NextAttemptAt.Location(), got.CreatedAt.Location())
	}
	_, err = s.GetEmail(ctx, "email_missing")
	wantErr(t, err, store.ErrNotFound, "GetEmail unknown")

	// Claim: the due ones, in due order, leased to the worker.
	claimed, err := s.ClaimEmails(ctx, now, 10, lease, "w1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{first.ID, second.ID}, emailIDs(claimed)); diff != "" {
		t.Fatalf("claimed (-want +got):\n%s", diff)
	}
	for _, e := range claimed {
		if e.Status != "sending" || e.ClaimedBy != "w1" || e.LeaseUntil == nil || !e.LeaseUntil.Equal(now.Add(lease)) || e.Attempts != 0 {
			t.Errorf("claimed email %+v", e)
		}
	}
	if stored, _ := s.GetEmail(ctx, first.ID); stored.Status != "sending" || stored.ClaimedBy != "w1" {
		t.Errorf("stored after claim = %+v", stored)
	}
	// Nothing else is due; a claim by another worker gets nothing.
	if again, err := s.ClaimEmails(ctx, now, 10, lease, "w2"); err != nil || len(again) != 0 {
		t.Fatalf("second claim = %v, %v", emailIDs(again), err)
	}

	// Sent: recorded once, by the claim holder only.
	sentAt := now.Add(time.Second)
	wantErr(t, s.MarkEmailSent(ctx, first.ID, "w2", sentAt), store.ErrNotFound, "MarkEmailSent by another worker")
	if err := s.MarkEmailSent(ctx, first.ID, "w1", rawTime(time.Second)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetEmail(ctx, first.ID)
	if got.Status != "sent" || got.Attempts != 1 || got.SentAt == nil || got.SentAt.Location() != time.UTC ||
		got.SentAt.Sub(sentAt).Abs() > time.Second || got.LeaseUntil != nil || got.ClaimedBy != "w1" {
		t.Errorf("after MarkEmailSent = %+v", got)
	}
	wantErr(t, s.MarkEmailSent(ctx, first.ID, "w1", sentAt), store.ErrNotFound, "MarkEmailSent twice")
	wantErr(t, s.MarkEmailFailed(ctx, first.ID, "w1", now, "x", false), store.ErrNotFound, "MarkEmailFailed after sent")
	wantErr(t, s.ReleaseEmail(ctx, first.ID, "w1"), store.ErrNotFound, "ReleaseEmail after sent")
	wantErr(t, s.MarkEmailSent(ctx, "email_missing", "w1", sentAt), store.ErrNotFound, "MarkEmailSent unknown")

	// Failed, not final: pending again, due later, attempt counted.
	next := now.Add(30 * time.Second)
	wantErr(t, s.MarkEmailFailed(ctx, second.ID, "w2", next, "x", false), store.ErrNotFound, "MarkEmailFailed by another worker")
	if err := s.MarkEmailFailed(ctx, second.ID, "w1", next, "451 4.3.0 try later", false); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetEmail(ctx, second.ID)
	if got.Status != "pending" || got.Attempts != 1 || !got.NextAttemptAt.Equal(next) || got.LastError != "451 4.3.0 try later" ||
		got.LeaseUntil != nil || got.SentAt != nil {
		t.Errorf("after MarkEmailFailed = %+v", got)
	}
	if c, _ := s.ClaimEmails(ctx, next.Add(-time.Millisecond), 10, lease, "w1"); len(c) != 0 {
		t.Errorf("claimed before its retry time: %v", emailIDs(c))
	}
	claimed, err = s.ClaimEmails(ctx, next, 10, lease, "w2")
	if err != nil || len(claimed) != 1 || claimed[0].ID != second.ID || claimed[0].Attempts != 1 {
		t.Fatalf("claim at the retry time = %+v, %v", claimed, err)
	}

	// Released: pending again and due at once, attempts unchanged.
	wantErr(t, s.ReleaseEmail(ctx, second.ID, "w1"), store.ErrNotFound, "ReleaseEmail by another worker")
	if err := s.ReleaseEmail(ctx, second.ID, "w2"); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetEmail(ctx, second.ID)
	if got.Status != "pending" || got.Attempts != 1 || got.LeaseUntil != nil || !got.NextAttemptAt.Equal(next) {
		t.Errorf("after ReleaseEmail = %+v", got)
	}
	wantErr(t, s.ReleaseEmail(ctx, second.ID, "w2"), store.ErrNotFound, "ReleaseEmail twice")

	// Failed, final: never claimed again.
	claimed, _ = s.ClaimEmails(ctx, next, 10, lease, "w1")
	if len(claimed) != 1 || claimed[0].ID != second.ID {
		t.Fatalf("claim after release = %v", emailIDs(claimed))
	}
	if err := s.MarkEmailFailed(ctx, second.ID, "w1", next.Add(time.Minute), "550 5.1.1 no such user", true); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetEmail(ctx, second.ID)
	if got.Status != "failed" || got.Attempts != 2 || got.LastError != "550 5.1.1 no such user" {
		t.Errorf("after final MarkEmailFailed = %+v", got)
	}
	claimed, _ = s.ClaimEmails(ctx, now.Add(48*time.Hour), 10, lease, "w1")
	if diff := cmp.Diff([]string{later.ID}, emailIDs(claimed)); diff != "" {
		t.Errorf("claim two days on (-want +got):\n%s", diff)
	}

	// n bounds a claim.
	for range 5 {
		if err := s.EnqueueEmail(ctx, newEmail(env.ID, now)); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := s.ClaimEmails(ctx, now, 3, lease, "w3"); err != nil || len(c) != 3 {
		t.Errorf("claim of 3 = %d emails, %v", len(c), err)
	}
	if c, err := s.ClaimEmails(ctx, now, 0, lease, "w3"); err != nil || len(c) != 0 {
		t.Errorf("claim of 0 = %d emails, %v", len(c), err)
	}

	// Server-wide mail has no environment; mail to a missing one is refused.
	server := newEmail("", now)
	if err := s.EnqueueEmail(ctx, server); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetEmail(ctx, server.ID); err != nil || got.EnvironmentID != "" {
		t.Errorf("server-wide email = %+v, %v", got, err)
	}
	if err := s.EnqueueEmail(ctx, newEmail("environment_missing", now)); err == nil {
		t.Error("queued an email in a missing environment")
	}
}

// A claim whose lease ran out can be taken over; the first worker's claim
// is then void.
func testOutboxLeaseExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "Dev")
	now := store.Now()
	e := newEmail(env.ID, now)
	if err := s.EnqueueEmail(ctx, e); err != nil {
		t.Fatal(err)
	}
	if c, err := s.ClaimEmails(ctx, now, 10, time.Minute, "w1"); err != nil || len(c) != 1 {
		t.Fatalf("claim = %v, %v", c, err)
	}
	if c, _ := s.ClaimEmails(ctx, now.Add(time.Minute-time.Millisecond), 10, time.Minute, "w2"); len(c) != 0 {
		t.Fatalf("claimed during the lease: %v", emailIDs(c))
	}
	takeover := now.Add(time.Minute)
	c, err := s.ClaimEmails(ctx, takeover, 10, time.Minute, "w2")
	if err != nil || len(c) != 1 || c[0].ID != e.ID || c[0].ClaimedBy != "w2" || !c[0].LeaseUntil.Equal(takeover.Add(time.Minute)) {
		t.Fatalf("takeover claim = %+v, %v", c, err)
	}
	wantErr(t, s.MarkEmailSent(ctx, e.ID, "w1", takeover), store.ErrNotFound, "MarkEmailSent by the worker that lost its claim")
	wantErr(t, s.MarkEmailFailed(ctx, e.ID, "w1", takeover, "x", false), store.ErrNotFound, "MarkEmailFailed by the worker that lost its claim")
	wantErr(t, s.ReleaseEmail(ctx, e.ID, "w1"), store.ErrNotFound, "ReleaseEmail by the worker that lost its claim")
	if err := s.MarkEmailSent(ctx, e.ID, "w2", takeover); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetEmail(ctx, e.ID); got.Status != "sent" || got.ClaimedBy != "w2" || got.Attempts != 1 {
		t.Errorf("stored = %+v", got)
	}
}

// Concurrent claimers never get the same email.
func testOutboxConcurrentClaims(t *testing.T, s store.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "Dev")
	now := store.Now()
	const emails, workers = 60, 8
	for range emails {
		if err := s.EnqueueEmail(ctx, newEmail(env.ID, now)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for i := range workers {
		worker := fmt.Sprintf("w%d", i)
		wg.Go(func() {
			for {
				c, err := s.ClaimEmails(ctx, now, 3, time.Minute, worker)
				if err != nil {
					errs[i] = err
					return
				}
				if len(c) == 0 {
					return
				}
				mu.Lock()
				for _, e := range c {
					if prev, ok := seen[e.ID]; ok {
						errs[i] = fmt.Errorf("%s claimed by %s and %s", e.ID, prev, worker)
					}
					seen[e.ID] = worker
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if len(seen) != emails {
		t.Errorf("claimed %d distinct emails, want %d", len(seen), emails)
	}
}

func testOutboxList(t *testing.T, s store.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "Dev")
	other := newEnv(t, s, "Other")
	now := store.Now()
	var all []string
	for range 25 {
		e := newEmail(env.ID, now)
		if err := s.EnqueueEmail(ctx, e); err != nil {
			t.Fatal(err)
		}
		all = append(all, e.ID)
	}
	elsewhere := newEmail(other.ID, now)
	server := newEmail("", now)
	for _, e := range []*store.Email{elsewhere, server} {
		if err := s.EnqueueEmail(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	desc := slices.Clone(all)
	slices.Reverse(desc)

	// Newest first by default, 10 a page, with cursors both ways.
	p1, err := s.ListEmails(ctx, env.ID, store.ListParams{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(desc[:10], emailIDs(p1.Data)); diff != "" {
		t.Errorf("page 1 (-want +got):\n%s", diff)
	}
	if p1.Before != "" || p1.After != desc[9] {
		t.Errorf("page 1 cursors = %q, %q", p1.Before, p1.After)
	}
	p2, _ := s.ListEmails(ctx, env.ID, store.ListParams{After: p1.After})
	if diff := cmp.Diff(desc[10:20], emailIDs(p2.Data)); diff != "" {
		t.Errorf("page 2 (-want +got):\n%s", diff)
	}
	p3, _ := s.ListEmails(ctx, env.ID, store.ListParams{After: p2.After})
	if diff := cmp.Diff(desc[20:], emailIDs(p3.Data)); diff != "" || p3.After != "" {
		t.Errorf("page 3 (-want +got):\n%s (after %q)", diff, p3.After)
	}
	back, _ := s.ListEmails(ctx, env.ID, store.ListParams{Before: p3.Before})
	if diff := cmp.Diff(desc[10:20], emailIDs(back.Data)); diff != "" {
		t.Errorf("back from page 3 (-want +got):\n%s", diff)
	}
	asc, _ := s.ListEmails(ctx, env.ID, store.ListParams{Order: store.Asc, Limit: 5})
	if diff := cmp.Diff(all[:5], emailIDs(asc.Data)); diff != "" {
		t.Errorf("ascending (-want +got):\n%s", diff)
	}
	// Every field comes back.
	if got := p1.Data[0]; got.To != "ada@example.com" || got.HTML == "" || got.Status != "pending" {
		t.Errorf("listed email = %+v", got)
	}
	// Other environments stay apart; "" lists everything.
	o, _ := s.ListEmails(ctx, other.ID, store.ListParams{})
	if diff := cmp.Diff([]string{elsewhere.ID}, emailIDs(o.Data)); diff != "" {
		t.Errorf("other environment (-want +got):\n%s", diff)
	}
	everything, _ := s.ListEmails(ctx, "", store.ListParams{Limit: 100})
	if len(everything.Data) != 27 || everything.Data[0].ID != server.ID {
		t.Errorf("all environments: %d emails, first %q", len(everything.Data), everything.Data[0].ID)
	}
	none, err := s.ListEmails(ctx, "environment_missing", store.ListParams{})
	if err != nil || none.Data == nil || len(none.Data) != 0 {
		t.Errorf("unknown environment = %+v, %v", none, err)
	}
}

func newChallenge(envID, kind, email string) *store.Challenge {
	now := store.Now()
	return &store.Challenge{
		ID: ids.New(kind), EnvironmentID: envID, Kind: kind, UserID: ids.New("user"), Email: email,
		Hash: randomHash(), CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute), Data: map[string]string{},
	}
}

// usersChallenge stores a new challenge of kind for u, sent to email.
func usersChallenge(t *testing.T, s store.Store, u *store.User, kind, email string) *store.Challenge {
	t.Helper()
	c := newChallenge(u.EnvironmentID, kind, email)
	c.UserID = u.ID
	if err := s.CreateChallenge(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

func testChallenges(t *testing.T, s store.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "Dev")
	other := newEnv(t, s, "Other")

	c := newChallenge(env.ID, store.ChallengePasswordReset, "ada@example.com")
	c.CreatedAt, c.ExpiresAt = rawTime(0), rawTime(time.Hour)
	c.Data = map[string]string{"auth_request": "authreq_1", "unicode": "ünï ✓"}
	if err := s.CreateChallenge(ctx, c); err != nil {
		t.Fatal(err)
	}
	c.CreatedAt, c.ExpiresAt = store.Truncate(c.CreatedAt), store.Truncate(c.ExpiresAt)
	got, err := s.GetChallenge(ctx, env.ID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("GetChallenge (-want +got):\n%s", diff)
	}
	if got.CreatedAt.Location() != time.UTC || got.ExpiresAt.Location() != time.UTC {
		t.Error("times not in UTC")
	}
	_, err = s.GetChallenge(ctx, other.ID, c.ID)
	wantErr(t, err, store.ErrNotFound, "GetChallenge in another environment")
	_, err = s.GetChallenge(ctx, env.ID, "password_reset_missing")
	wantErr(t, err, store.ErrNotFound, "GetChallenge unknown")

	got, err = s.GetChallengeByHash(ctx, store.ChallengePasswordReset, c.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("GetChallengeByHash (-want +got):\n%s", diff)
	}
	_, err = s.GetChallengeByHash(ctx, store.ChallengePendingAuth, c.Hash)
	wantErr(t, err, store.ErrNotFound, "GetChallengeByHash of another kind")
	_, err = s.GetChallengeByHash(ctx, store.ChallengePasswordReset, randomHash())
	wantErr(t, err, store.ErrNotFound, "GetChallengeByHash unknown")

	// A hash is unique within its kind only; IDs are unique.
	dup := newChallenge(env.ID, store.ChallengePasswordReset, "bob@example.com")
	dup.Hash = c.Hash
	wantErr(t, s.CreateChallenge(ctx, dup), store.ErrConflict, "duplicate hash in a kind")
	sameHash := newChallenge(env.ID, store.ChallengePendingAuth, "ada@example.com")
	sameHash.Hash = c.Hash
	if err := s.CreateChallenge(ctx, sameHash); err != nil {
		t.Errorf("same hash in another kind: %v", err)
	}
	again := newChallenge(env.ID, store.ChallengeMagicAuth, "ada@example.com")
	again.ID = c.ID
	wantErr(t, s.CreateChallenge(ctx, again), store.ErrConflict, "duplicate challenge ID")
	if err := s.CreateChallenge(ctx, newChallenge("environment_missing", store.ChallengeMagicAuth, "a@example.com")); err == nil {
		t.Error("created a challenge in a missing environment")
	}
	// No user (a magic code for an address with no account) and nil Data are fine.
	bare := newChallenge(env.ID, store.ChallengeMagicAuth, "new@example.com")
	bare.UserID, bare.Data = "", nil
	if err := s.CreateChallenge(ctx, bare); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetChallenge(ctx, env.ID, bare.ID); err != nil || got.UserID != "" || got.Data == nil || len(got.Data) != 0 {
		t.Errorf("bare challenge = %+v, %v", got, err)
	}
}

func testLatestChallenge(t *testing.T, s store.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "Dev")
	other := newEnv(t, s, "Other")
	kind := store.ChallengeMagicAuth
	var made []*store.Challenge
	for range 3 {
		c := newChallenge(env.ID, kind, "ada@example.com")
		if err := s.CreateChallenge(ctx, c); err != nil {
			t.Fatal(err)
		}
		made = append(made, c)
	}
	for _, c := range []*store.Challenge{
		newChallenge(env.ID, kind, "bob@example.com"),
		newChallenge(env.ID, store.ChallengeEmailVerification, "ada@example.com"),
		newChallenge(other.ID, kind, "ada@example.com"),
	} {
		if err := s.CreateChallenge(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	latest := func() string {
		t.Helper()
		c, err := s.LatestChallenge(ctx, env.ID, kind, "ada@example.com")
		if errors.Is(err, store.ErrNotFound) {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	if got := latest(); got != made[2].ID {
		t.Errorf("latest = %s, want the newest %s", got, made[2].ID)
	}
	// Used or not, the newest stays the latest: a used newest code must be
	// reported as used, not fall back to an older one.
	use := func(c *store.Challenge) {
		t.Helper()
		if _, err := s.UpdateChallenge(ctx, env.ID, c.ID, func(c *store.Challenge) error {
			at := store.Now()
			c.UsedAt = &at
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	use(made[2])
	c, err := s.LatestChallenge(ctx, env.ID, kind, "ada@example.com")
	if err != nil || c.ID != made[2].ID || c.UsedAt == nil {
		t.Errorf("latest after using the newest = %v, %v; want %s, used", c, err, made[2].ID)
	}
	_, err = s.LatestChallenge(ctx, env.ID, kind, "nobody@example.com")
	wantErr(t, err, store.ErrNotFound, "LatestChallenge for an unknown email")
}

func testChallengeUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "Dev")
	other := newEnv(t, s, "Other")
	c := newChallenge(env.ID, store.ChallengeEmailVerification, "ada@example.com")
	if err := s.CreateChallenge(ctx, c); err != nil {
		t.Fatal(err)
	}
	// fn's error writes nothing and comes back as is.
	boom := errors.New("boom")
	_, err := s.UpdateChallenge(ctx, env.ID, c.ID, func(c *store.Challenge) error {
		c.Attempts = 99
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("UpdateChallenge error = %v, want fn's", err)
	}
	if got, _ := s.GetChallenge(ctx, env.ID, c.ID); got.Attempts != 0 {
		t.Errorf("a failed update wrote attempts = %d", got.Attempts)
	}
	_, err = s.UpdateChallenge(ctx, other.ID, c.ID, func(*store.Challenge) error { return nil })
	wantErr(t, err, store.ErrNotFound, "UpdateChallenge in another environment")

	// Mutable fields change; identity fields stay whatever fn does.
	used := rawTime(time.Minute)
	updated, err := s.UpdateChallenge(ctx, env.ID, c.ID, func(x *store.Challenge) error {
		x.Attempts = 2
		x.UsedAt = &used
		x.UserID = "user_other"
		x.ExpiresAt = rawTime(2 * time.Hour)
		x.Data = map[string]string{"k": "v"}
		x.ID, x.Kind, x.EnvironmentID, x.Hash, x.CreatedAt = "x", "x", other.ID, randomHash(), time.Time{}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetChallenge(ctx, env.ID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(updated, got); diff != "" {
		t.Errorf("returned vs stored (-returned +stored):\n%s", diff)
	}
	if got.Attempts != 2 || got.UsedAt == nil || !got.UsedAt.Equal(store.Truncate(used)) || got.UserID != "user_other" ||
		got.Data["k"] != "v" || got.Kind != c.Kind || !slices.Equal(got.Hash, c.Hash) || !got.CreatedAt.Equal(c.CreatedAt) ||
		got.UsedAt.Location() != time.UTC {
		t.Errorf("after update = %+v", got)
	}
}

// Concurrent attempt increments are all counted.
func testChallengeUpdateAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "Dev")
	c := newChallenge(env.ID, store.ChallengeMagicAuth, "ada@example.com")
	if err := s.CreateChallenge(ctx, c); err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make([]error, n)
	seen := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var got *store.Challenge
			got, errs[i] = s.UpdateChallenge(ctx, env.ID, c.ID, func(c *store.Challenge) error {
				c.Attempts++
				return nil
			})
			if got != nil {
				seen[i] = got.Attempts
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	slices.Sort(seen)
	for i, v := range seen {
		if v != i+1 {
			t.Fatalf("attempt counts returned = %v, want 1..%d once each", seen, n)
		}
	}
	if got, _ := s.GetChallenge(ctx, env.ID, c.ID); got.Attempts != n {
		t.Errorf("attempts = %d, want %d", got.Attempts, n)
	}
}

// UseEmailVerification writes the challenge as UpdateChallenge does and,
// only when fn used it, verifies the user's email in the same transaction.
func testUseEmailVerification(t *testing.T, s store.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "Dev")
	other := newEnv(t, s, "Other")
	u := newUser(env.ID, "ada@example.com")
	u.FirstName = ptr("Ada")
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	challenge := func(kind, email string) *store.Challenge { return usersChallenge(t, s, u, kind, email) }
	verified := func() bool {
		t.Helper()
		got, err := s.GetUser(ctx, env.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.EmailVerified
	}
	use := func(c *store.Challenge) error { now := store.Now(); c.Attempts++; c.UsedAt = &now; return nil }

	c := challenge(store.ChallengeEmailVerification, u.Email)
	boom := errors.New("boom")
	if _, _, err := s.UseEmailVerification(ctx, env.ID, c.ID, func(c *store.Challenge) error { c.Attempts = 9; return boom }, nil); !errors.Is(err, boom) {
		t.Errorf("fn's error = %v, want it back", err)
	}
	// A wrong guess: the attempt is written, nothing is verified.
	got, user, err := s.UseEmailVerification(ctx, env.ID, c.ID, func(c *store.Challenge) error { c.Attempts++; return nil }, nil)
	if err != nil || user != nil || got.Attempts != 1 || got.UsedAt != nil {
		t.Errorf("wrong guess: %+v, user %v, %v", got, user, err)
	}
	if stored, _ := s.GetChallenge(ctx, env.ID, c.ID); stored.Attempts != 1 || verified() {
		t.Errorf("after a wrong guess: attempts %d (want 1), verified %v", stored.Attempts, verified())
	}
	_, _, err = s.UseEmailVerification(ctx, other.ID, c.ID, use, nil)
	wantErr(t, err, store.ErrNotFound, "UseEmailVerification in another environment")
	magic := challenge(store.ChallengeMagicAuth, u.Email)
	_, _, err = s.UseEmailVerification(ctx, env.ID, magic.ID, use, nil)
	wantErr(t, err, store.ErrNotFound, "UseEmailVerification of a magic-auth code")
	if stored, _ := s.GetChallenge(ctx, env.ID, magic.ID); stored.UsedAt != nil || stored.Attempts != 0 || verified() {
		t.Errorf("a magic-auth code was changed or verified the email: %+v", stored)
	}

	// The right code: used and verified together.
	got, user, err = s.UseEmailVerification(ctx, env.ID, c.ID, use, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user == nil || !user.EmailVerified || got.UsedAt == nil || !user.UpdatedAt.Equal(*got.UsedAt) {
		t.Fatalf("right code: challenge %+v, user %+v", got, user)
	}
	stored, err := s.GetUser(ctx, env.ID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(stored, user); diff != "" {
		t.Errorf("returned user vs stored (-stored +returned):\n%s", diff)
	}
	if *stored.FirstName != "Ada" || !stored.CreatedAt.Equal(u.CreatedAt) {
		t.Errorf("other fields changed: %+v", stored)
	}
	// Used already: fn sees it used and changes nothing; no user.
	_, user, err = s.UseEmailVerification(ctx, env.ID, c.ID, func(*store.Challenge) error { return nil }, nil)
	if err != nil || user != nil {
		t.Errorf("used code again: user %v, %v", user, err)
	}

	// A code sent to an address the user no longer has is used, verifies nothing.
	if _, err := s.UpdateUser(ctx, env.ID, u.ID, func(x *store.User) error { x.Email, x.EmailVerified = "grace@example.com", false; return nil }); err != nil {
		t.Fatal(err)
	}
	old := challenge(store.ChallengeEmailVerification, "ada@example.com")
	got, user, err = s.UseEmailVerification(ctx, env.ID, old.ID, use, nil)
	if err != nil || user != nil || got.UsedAt == nil {
		t.Errorf("code for an old address: %+v, user %v, %v", got, user, err)
	}
	if verified() {
		t.Error("a code for an old address verified the new one")
	}
}

// UseEmailVerification with a sign-in: the right code verifies the address
// and starts the session in one transaction; a wrong code, a code for an
// old address or a request completed already starts nothing; a sign-in
// that fails to write leaves the code unused.
func testEmailVerificationSignIn(t *testing.T, s store.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "Dev")
	u := newUser(env.ID, "ada@example.com")
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	challenge := func(email string) *store.Challenge {
		c := newChallenge(env.ID, store.ChallengeEmailVerification, email)
		c.UserID = u.ID
		if err := s.CreateChallenge(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	request := func() *store.AuthRequest {
		req := &store.AuthRequest{ID: ids.New("authreq"), EnvironmentID: env.ID, ClientID: "client_01", RedirectURI: "http://localhost:3000/callback",
			ScreenHint: "sign-up", CreatedAt: store.Now(), ExpiresAt: store.Now().Add(time.Hour)}
		if err := s.CreateAuthRequest(ctx, req); err != nil {
			t.Fatal(err)
		}
		return req
	}
	signIn := func(req *store.AuthRequest) *store.SignIn {
		return &store.SignIn{Session: newSession(env.ID, u.ID), Browser: newBrowserSession(env.ID, u.ID), Request: req.ID, Code: newAuthCode(env.ID),
			Event: newEvent(env.ID, "user.signed_in")}
	}
	started := func(in *store.SignIn) bool {
		t.Helper()
		_, errS := s.GetSession(ctx, env.ID, in.Session.ID)
		_, errB := s.GetBrowserSessionByHash(ctx, in.Browser.Hash)
		red, errC := s.ConsumeAuthCode(ctx, in.Code.Hash, store.Now(), nil)
		event := logged(t, s, in.Event)
		switch {
		case errS == nil && errB == nil && errC == nil && red.Code.SessionID == in.Session.ID && event:
			return true
		case errors.Is(errS, store.ErrNotFound) && errors.Is(errB, store.ErrNotFound) && errors.Is(errC, store.ErrNotFound) && !event:
			return false
		}
		t.Fatalf("sign-in half written: session %v, browser session %v, code %v, event %v", errS, errB, errC, event)
		return false
	}
	requestLeft := func(req *store.AuthRequest) bool {
		_, err := s.GetAuthRequest(ctx, env.ID, req.ID)
		return err == nil
	}
	state := func(c *store.Challenge) (attempts int, used, verified bool) {
		t.Helper()
		stored, err := s.GetChallenge(ctx, env.ID, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		user, err := s.GetUser(ctx, env.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return stored.Attempts, stored.UsedAt != nil, user.EmailVerified
	}
	use := func(c *store.Challenge) error { now := store.Now(); c.Attempts++; c.UsedAt = &now; return nil }
	wrong := func(c *store.Challenge) error { c.Attempts++; return nil }

	// A wrong code: the attempt counts, nothing starts.
	c := challenge(u.Email)
	req := request()
	in := signIn(req)
	if _, user, err := s.UseEmailVerification(ctx, env.ID, c.ID, wrong, in); err != nil || user != nil {
		t.Errorf("wrong code: user %v, %v", user, err)
	}
	if n, used, verified := state(c); n != 1 || used || verified || started(in) || !requestLeft(req) {
		t.Errorf("after a wrong code: attempts %d, used %v, verified %v, request left %v", n, used, verified, requestLeft(req))
	}

	// A sign-in for another user is refused, and nothing is written.
	other := signIn(req)
	other.Session.UserID = ids.New("user")
	if _, _, err := s.UseEmailVerification(ctx, env.ID, c.ID, use, other); !errors.Is(err, store.ErrNotTheChallengesUser) {
		t.Errorf("a sign-in for another user: %v, want ErrNotTheChallengesUser", err)
	}
	if n, used, verified := state(c); n != 1 || used || verified || started(other) || !requestLeft(req) {
		t.Errorf("after another user's sign-in: attempts %d, used %v, verified %v, request left %v", n, used, verified, requestLeft(req))
	}

	// A sign-in that cannot be written (its session ID is taken) leaves
	// the code unused and the address unverified.
	taken := newSession(env.ID, u.ID)
	if err := s.StartSession(ctx, store.SignIn{Session: taken}); err != nil {
		t.Fatal(err)
	}
	dup := signIn(req)
	dup.Session.ID = taken.ID
	_, _, err := s.UseEmailVerification(ctx, env.ID, c.ID, use, dup)
	wantErr(t, err, store.ErrConflict, "UseEmailVerification with a taken session ID")
	dup.Session.ID = ids.New("session")
	if n, used, verified := state(c); n != 1 || used || verified || started(dup) || !requestLeft(req) {
		t.Errorf("after a failed sign-in: attempts %d, used %v, verified %v, request left %v", n, used, verified, requestLeft(req))
	}

	// The right code: verified, signed in and the request completed, together.
	got, user, err := s.UseEmailVerification(ctx, env.ID, c.ID, use, in)
	if err != nil || user == nil || !user.EmailVerified || got.UsedAt == nil {
		t.Fatalf("right code: challenge %+v, user %+v, %v", got, user, err)
	}
	if n, used, verified := state(c); n != 2 || !used || !verified || !started(in) || requestLeft(req) {
		t.Errorf("after the right code: attempts %d, used %v, verified %v, request left %v", n, used, verified, requestLeft(req))
	}
	if stored, _ := s.GetUser(ctx, env.ID, u.ID); stored.LastSignInAt == nil || !stored.LastSignInAt.Equal(store.Truncate(in.Session.CreatedAt)) {
		t.Errorf("last sign-in %v, want the session's start %v", stored.LastSignInAt, in.Session.CreatedAt)
	}

	// The request completed already (another tab): the verification stands,
	// the sign-in writes nothing.
	if _, err := s.UpdateUser(ctx, env.ID, u.ID, func(x *store.User) error { x.EmailVerified = false; return nil }); err != nil {
		t.Fatal(err)
	}
	c2 := challenge(u.Email)
	late := signIn(req)
	_, user, err = s.UseEmailVerification(ctx, env.ID, c2.ID, use, late)
	wantErr(t, err, store.ErrAlreadyUsed, "UseEmailVerification for a completed request")
	if n, used, verified := state(c2); n != 1 || !used || !verified || started(late) || user == nil {
		t.Errorf("completed request: attempts %d, used %v, verified %v, user %v", n, used, verified, user)
	}

	// A code for an address the user no longer has: used, nothing verified,
	// nothing started.
	if _, err := s.UpdateUser(ctx, env.ID, u.ID, func(x *store.User) error { x.Email, x.EmailVerified = "grace@example.com", false; return nil }); err != nil {
		t.Fatal(err)
	}
	old := challenge("ada@example.com")
	req3 := request()
	gone := signIn(req3)
	if _, user, err := s.UseEmailVerification(ctx, env.ID, old.ID, use, gone); err != nil || user != nil {
		t.Errorf("code for an old address: user %v, %v", user, err)
	}
	if _, used, verified := state(old); !used || verified || started(gone) || !requestLeft(req3) {
		t.Errorf("old address: used %v, verified %v, request left %v", used, verified, requestLeft(req3))
	}
}

// A sign-in naming a pending-authentication challenge (the API's
// email-verification grant) marks it used with the session, once: a
// second sign-in with it, or one naming a challenge of another kind or
// environment, writes nothing and is ErrAlreadyUsed. Through
// UseEmailVerification the verification stands even then. One that names
// an authorization request too is ErrRequestAndPending and writes nothing.
func testPendingSignIn(t *testing.T, s store.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "Dev")
	otherEnv := newEnv(t, s, "Prod")
	u := newUser(env.ID, "ada@example.com")
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	otherEnvsUser := *u // the same user ID, for a challenge of the other environment
	otherEnvsUser.EnvironmentID = otherEnv.ID
	challenge := func(u *store.User, kind string) *store.Challenge { return usersChallenge(t, s, u, kind, u.Email) }
	signIn := func(pending string) *store.SignIn {
		sess := newSession(env.ID, u.ID)
		first := newRefreshToken(env.ID, sess.ID)
		return &store.SignIn{Session: sess, Pending: pending, First: first, Event: newEvent(env.ID, "user.signed_in")}
	}
	started := func(in *store.SignIn) bool {
		t.Helper()
		_, errS := s.GetSession(ctx, env.ID, in.Session.ID)
		event := logged(t, s, in.Event)
		switch {
		case errS == nil && event:
			return true
		case errors.Is(errS, store.ErrNotFound) && !event:
			return false
		}
		t.Fatalf("sign-in half written: session %v, event %v", errS, event)
		return false
	}
	usedAt := func(c *store.Challenge) *time.Time {
		t.Helper()
		stored, err := s.GetChallenge(ctx, c.EnvironmentID, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return stored.UsedAt
	}

	pending := challenge(u, store.ChallengePendingAuth)
	first := signIn(pending.ID)
	if err := s.StartSession(ctx, *first); err != nil {
		t.Fatalf("sign-in with a pending challenge: %v", err)
	}
	if at := usedAt(pending); at == nil || !at.Equal(store.Truncate(first.Session.CreatedAt)) || !started(first) {
		t.Fatalf("after the sign-in: challenge used at %v, want %v; started %v", at, first.Session.CreatedAt, started(first))
	}
	again := signIn(pending.ID)
	wantErr(t, s.StartSession(ctx, *again), store.ErrAlreadyUsed, "a second sign-in with the same pending challenge")
	if started(again) {
		t.Error("the second sign-in with a used pending challenge was written")
	}
	for _, c := range []*store.Challenge{challenge(u, store.ChallengeEmailVerification), challenge(&otherEnvsUser, store.ChallengePendingAuth)} {
		in := signIn(c.ID)
		wantErr(t, s.StartSession(ctx, *in), store.ErrAlreadyUsed, "a sign-in naming "+c.Kind+" challenge of environment "+c.EnvironmentID)
		if started(in) || usedAt(c) != nil {
			t.Errorf("a sign-in naming a %s challenge of environment %s: written %v, challenge used at %v", c.Kind, c.EnvironmentID, started(in), usedAt(c))
		}
	}

	// A sign-in that would complete an authorization request as well is
	// refused before anything is written, directly or through
	// UseEmailVerification.
	use := func(c *store.Challenge) error { now := store.Now(); c.UsedAt = &now; return nil }
	req := newAuthRequest(env.ID, store.Now().Add(time.Hour))
	if err := s.CreateAuthRequest(ctx, req); err != nil {
		t.Fatal(err)
	}
	unused := challenge(u, store.ChallengePendingAuth)
	both := signIn(unused.ID)
	both.Request = req.ID
	wantErr(t, s.StartSession(ctx, *both), store.ErrRequestAndPending, "a sign-in with a request and a pending challenge")
	verification := challenge(u, store.ChallengeEmailVerification)
	if _, user, err := s.UseEmailVerification(ctx, env.ID, verification.ID, use, both); !errors.Is(err, store.ErrRequestAndPending) || user != nil {
		t.Errorf("UseEmailVerification with a request and a pending challenge: user %v, %v, want ErrRequestAndPending", user, err)
	}
	if stored, err := s.GetUser(ctx, env.ID, u.ID); err != nil || stored.EmailVerified {
		t.Errorf("a sign-in with a request and a pending challenge verified the address: %v, %v", stored, err)
	}
	if _, err := s.GetAuthRequest(ctx, env.ID, req.ID); err != nil || usedAt(unused) != nil || usedAt(verification) != nil || started(both) {
		t.Errorf("a sign-in with a request and a pending challenge wrote: request %v, challenge used at %v, verification used at %v, started %v",
			err, usedAt(unused), usedAt(verification), started(both))
	}

	// Through UseEmailVerification: the address is verified with the
	// sign-in, or alone if the pending challenge went meanwhile.
	verification = challenge(u, store.ChallengeEmailVerification)
	late := signIn(pending.ID)
	_, user, err := s.UseEmailVerification(ctx, env.ID, verification.ID, use, late)
	wantErr(t, err, store.ErrAlreadyUsed, "UseEmailVerification with a used pending challenge")
	if user == nil || !user.EmailVerified || usedAt(verification) == nil || started(late) {
		t.Errorf("used pending challenge: user %+v, verification used at %v, sign-in written %v", user, usedAt(verification), started(late))
	}
	fresh := challenge(u, store.ChallengePendingAuth)
	verification = challenge(u, store.ChallengeEmailVerification)
	in := signIn(fresh.ID)
	if _, user, err := s.UseEmailVerification(ctx, env.ID, verification.ID, use, in); err != nil || user == nil || !user.EmailVerified {
		t.Fatalf("UseEmailVerification with a fresh pending challenge: user %+v, %v", user, err)
	}
	if usedAt(fresh) == nil || !started(in) {
		t.Errorf("fresh pending challenge: used at %v, sign-in written %v", usedAt(fresh), started(in))
	}
}
