package password

import (
	"container/list"
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"time"
)

// hashNice is how many nice levels below the rest of the process hashes
// are computed: at 10 the kernel gives a hashing thread about a tenth of a
// CPU that a request's thread also wants (CFS weights 110 against 1024).
const hashNice = 10

// idleHashThread is how long a hashing thread waits for more work before
// it ends.
var idleHashThread = 30 * time.Second

// pool runs hash computations on hashing threads: OS threads of their own
// whose scheduling priority is lowered by hashNice (Linux), so that a
// sign-in storm takes the CPU time that token requests (and other
// processes of its scheduling group, see the package documentation) leave
// over, instead of an equal share of it; when the host is short of CPU,
// sign-ins wait, not refreshes.
//
// At most size slots of computations run at once. A computation may take
// several slots (a dearer imported hash); the waiting ones start in
// arrival order, so a heavy one is not starved by a stream of light ones,
// and a waiting caller can give up when its context ends.
//
// A thread that finishes a computation starts the next waiting one itself
// and runs it at once: during a sign-in storm a hashing thread goes from
// hash to hash without sleeping, and a caller wakes once, when its hash is
// done. (Admitting the next caller and letting it hand its computation to
// the sleeping thread cost four thread switches per hash, about 0.2 % of
// the server's CPU, and left the thread idle meanwhile.)
//
// The threads are kept for the next computations (a new thread for each
// made a verification ~15 % slower, measured in docs/perf-hashing.md,
// round 6), as many as have computed at once, and each ends after
// idleHashThread without work: its goroutine exits while locked to it,
// which ends the thread (the main thread, which Go never ends, is parked
// for good instead), so the lowered priority never passes to other work.
type pool struct {
	mu      sync.Mutex
	size    int64
	used    int64
	waiting list.List // of *hashJob not yet started, in arrival order
	// idle holds the job channel of each thread waiting for work, the most
	// recently idle last.
	idle []chan *hashJob
}

type hashJob struct {
	weight  int64
	f       func()
	done    chan any      // f's panic, or nil; buffered
	started bool          // handed to a thread (under pool.mu)
	elem    *list.Element // in pool.waiting until started
}

func newPool(size int64) *pool {
	return &pool{size: size}
}

// errGoexit is what a caller gets as the panic of a computation that ended
// its goroutine with runtime.Goexit (a test's t.FailNow, say), so that the
// caller does not wait for it forever.
var errGoexit = errors.New("password: the hash computation called runtime.Goexit")

// run runs f on a hashing thread while holding weight slots, waiting for
// them until they are free or ctx ends; in the latter case it returns
// ctx.Err() and f does not run. Once started, f runs to its end whatever
// ctx does. run returns what f panicked with, or nil. weight must be in
// 1..size.
func (p *pool) run(ctx context.Context, weight int64, f func()) (panicked any, err error) {
	if weight < 1 || weight > p.size {
		panic("password: hash weight out of range")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	j := &hashJob{weight: weight, f: f, done: make(chan any, 1)}
	p.mu.Lock()
	if p.waiting.Len() == 0 && p.size-p.used >= weight {
		p.used += weight
		p.start(j)
	} else {
		j.elem = p.waiting.PushBack(j)
	}
	p.mu.Unlock()

	select {
	case panicked = <-j.done:
		return panicked, nil
	case <-ctx.Done():
	}
	p.mu.Lock()
	if !j.started {
		p.waiting.Remove(j.elem)
		// Whoever queued behind it may fit now.
		p.admit()
		p.mu.Unlock()
		return nil, ctx.Err()
	}
	p.mu.Unlock()
	return <-j.done, nil
}

// admit starts waiting computations in order, stopping at the first that
// does not fit. p.mu must be held.
func (p *pool) admit() {
	for e := p.waiting.Front(); e != nil; e = p.waiting.Front() {
		j := e.Value.(*hashJob)
		if p.size-p.used < j.weight {
			return
		}
		p.used += j.weight
		p.waiting.Remove(e)
		p.start(j)
	}
}

// start hands j to the most recently idle thread, or to a new one. p.mu
// must be held.
func (p *pool) start(j *hashJob) {
	j.started = true
	if n := len(p.idle); n > 0 {
		jobs := p.idle[n-1]
		p.idle = p.idle[:n-1]
		jobs <- j // buffered, and empty while the thread is listed: never blocks
		return
	}
	go p.thread(j)
}

func (p *pool) thread(j *hashJob) {
	runtime.LockOSThread()
	lowerThreadPriority()
	var cgroup *string // the cgroup joined (UseCgroup)
	jobs := make(chan *hashJob, 1)
	idle := time.NewTimer(idleHashThread)
	for {
		cgroup = joinHashCgroup(cgroup)
		p.runJob(j, jobs)
		select {
		case j = <-jobs: // the next one, started by runJob: no wait
			continue
		default:
		}
		idle.Reset(idleHashThread)
		select {
		case j = <-jobs:
		case <-idle.C:
			p.mu.Lock()
			i := slices.Index(p.idle, jobs)
			if i >= 0 {
				p.idle = slices.Delete(p.idle, i, i+1)
			}
			p.mu.Unlock()
			if i >= 0 {
				return // ends the thread
			}
			j = <-jobs // taken off the list just now: its job is coming
		}
	}
}

// runJob runs j.f and reports on j.done: nil, or what f panicked with.
// If f returns or panics, the thread lists itself as idle (with jobs, its
// job channel) and gives back j's slots, which starts the next waiting
// computation on this thread, before it reports, so that neither the next
// computation nor the caller's own next one waits for another thread. If f
// ends the goroutine, the thread ends with it, and the next computation
// goes to another thread.
func (p *pool) runJob(j *hashJob, jobs chan *hashJob) {
	returned := false
	defer func() {
		panicked := recover()
		goexit := panicked == nil && !returned
		if goexit {
			panicked = errGoexit
		}
		p.mu.Lock()
		if !goexit {
			p.idle = append(p.idle, jobs)
		}
		p.used -= j.weight
		p.admit()
		p.mu.Unlock()
		j.done <- panicked
	}()
	j.f()
	returned = true
}
