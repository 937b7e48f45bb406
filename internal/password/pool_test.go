package password

import (
	"context"
	"errors"
	"testing"
	"time"
)

// testJob is a computation that waits, once started, until the test
// finishes it.
type testJob struct {
	started, finish chan struct{}
	result          chan error // run's error
}

// runAsync starts p.run with a testJob of weight n.
func runAsync(ctx context.Context, p *pool, n int64) *testJob {
	j := &testJob{started: make(chan struct{}), finish: make(chan struct{}), result: make(chan error, 1)}
	go func() {
		panicked, err := p.run(ctx, n, func() {
			close(j.started)
			<-j.finish
		})
		if panicked != nil {
			err = errors.New("the job panicked")
		}
		j.result <- err
	}()
	return j
}

// waitStarted fails the test unless j starts.
func (j *testJob) waitStarted(t *testing.T) {
	t.Helper()
	select {
	case <-j.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the computation did not start")
	}
}

// waiting reports whether j has not started after a while.
func (j *testJob) waiting() bool {
	select {
	case <-j.started:
		return false
	case <-time.After(20 * time.Millisecond):
		return true
	}
}

// end finishes j and returns run's error.
func (j *testJob) end(t *testing.T) error {
	t.Helper()
	close(j.finish)
	return j.wait(t)
}

func (j *testJob) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-j.result:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return")
		return nil
	}
}

func checkEmpty(t *testing.T, p *pool) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used != 0 || p.waiting.Len() != 0 {
		t.Errorf("used = %d, waiting = %d; want 0, 0", p.used, p.waiting.Len())
	}
}

func TestPoolWeighted(t *testing.T) {
	p := newPool(3)
	ctx := t.Context()
	a := runAsync(ctx, p, 2)
	a.waitStarted(t)
	b := runAsync(ctx, p, 1)
	b.waitStarted(t)
	heavy := runAsync(ctx, p, 3)
	if !heavy.waiting() {
		t.Fatal("a computation of weight 3 started with the pool full")
	}
	// In arrival order: a light computation behind the heavy one waits
	// too, even once a slot is free.
	light := runAsync(ctx, p, 1)
	if err := b.end(t); err != nil {
		t.Fatal(err)
	}
	if !light.waiting() {
		t.Fatal("a computation of weight 1 overtook a waiting one of weight 3")
	}
	if err := a.end(t); err != nil {
		t.Fatal(err)
	}
	heavy.waitStarted(t)
	if !light.waiting() {
		t.Fatal("a computation of weight 1 started while one of weight 3 holds every slot")
	}
	if err := heavy.end(t); err != nil {
		t.Fatal(err)
	}
	light.waitStarted(t)
	if err := light.end(t); err != nil {
		t.Fatal(err)
	}
	checkEmpty(t, p)
}

func TestPoolCancel(t *testing.T) {
	p := newPool(2)
	a, b := runAsync(t.Context(), p, 1), runAsync(t.Context(), p, 1)
	a.waitStarted(t)
	b.waitStarted(t)
	ctx, cancel := context.WithCancel(t.Context())
	heavy := runAsync(ctx, p, 2)
	if !heavy.waiting() {
		t.Fatal("a computation started with the pool full")
	}
	light := runAsync(t.Context(), p, 1)
	if !light.waiting() {
		t.Fatal("a computation started with the pool full")
	}
	if err := a.end(t); err != nil {
		t.Fatal(err)
	}
	if !light.waiting() {
		t.Fatal("a computation of weight 1 overtook a waiting one of weight 2")
	}
	// Giving up at the head of the queue lets the light one start.
	cancel()
	if err := heavy.wait(t); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while waiting: err = %v, want context.Canceled", err)
	}
	select {
	case <-heavy.started:
		t.Error("a computation given up while waiting ran")
	default:
	}
	light.waitStarted(t)

	// A computation that has started runs to its end whatever its context
	// does, and its caller waits for it.
	ctx, cancel = context.WithCancel(t.Context())
	if err := light.end(t); err != nil {
		t.Fatal(err)
	}
	running := runAsync(ctx, p, 1)
	running.waitStarted(t)
	cancel()
	select {
	case err := <-running.result:
		t.Fatalf("run returned %v while its computation ran", err)
	case <-time.After(20 * time.Millisecond):
	}
	if err := running.end(t); err != nil {
		t.Errorf("cancelled after it started: err = %v, want nil", err)
	}
	if err := b.end(t); err != nil {
		t.Fatal(err)
	}
	checkEmpty(t, p)

	// An already-cancelled context fails even when slots are free.
	ran := false
	if _, err := p.run(ctx, 1, func() { ran = true }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("run with a cancelled context: err = %v, ran %v; want context.Canceled, false", err, ran)
	}
	checkEmpty(t, p)
}
