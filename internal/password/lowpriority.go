package password

import (
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

// idleThreads holds the job channel of each hashing thread waiting for
// work, the most recently idle last.
var idleThreads struct {
	sync.Mutex
	jobs []chan hashJob
}

type hashJob struct {
	f    func()
	done chan any // f's panic, or nil
}

// lowPriority runs f on a hashing thread: an OS thread of its own whose
// scheduling priority is lowered by hashNice (Linux), so that a sign-in
// storm takes the CPU time that token requests (and other processes of its
// scheduling group, see the package documentation) leave over, instead of
// an equal share of it; when the host is short of CPU, sign-ins wait, not
// refreshes. It returns what f panicked with,
// or nil.
//
// The threads are kept for the next computations (a new thread for each
// made a verification ~15 % slower, measured in docs/perf-hashing.md,
// round 6), as many as have computed at once, and each ends after
// idleHashThread without work: its goroutine exits while locked to it,
// which ends the thread (the main thread, which Go never ends, is parked
// for good instead), so the lowered priority never passes to other work.
func lowPriority(f func()) any {
	job := hashJob{f: f, done: make(chan any, 1)}
	idleThreads.Lock()
	if n := len(idleThreads.jobs); n > 0 {
		jobs := idleThreads.jobs[n-1]
		idleThreads.jobs = idleThreads.jobs[:n-1]
		idleThreads.Unlock()
		jobs <- job // buffered: never blocks
	} else {
		idleThreads.Unlock()
		go hashThread(job)
	}
	return <-job.done
}

func hashThread(job hashJob) {
	runtime.LockOSThread()
	lowerThreadPriority()
	var cgroup *string // the cgroup joined (UseCgroup)
	jobs := make(chan hashJob, 1)
	idle := time.NewTimer(idleHashThread)
	for {
		cgroup = joinHashCgroup(cgroup)
		job.run(jobs)
		idle.Reset(idleHashThread)
		select {
		case job = <-jobs:
		case <-idle.C:
			idleThreads.Lock()
			i := slices.Index(idleThreads.jobs, jobs)
			if i >= 0 {
				idleThreads.jobs = slices.Delete(idleThreads.jobs, i, i+1)
			}
			idleThreads.Unlock()
			if i >= 0 {
				return // ends the thread
			}
			job = <-jobs // taken off the list just now: its job is coming
		}
	}
}

// errGoexit is what a caller gets as the panic of a computation that ended
// its goroutine with runtime.Goexit (a test's t.FailNow, say), so that the
// caller does not wait for it forever.
var errGoexit = errors.New("password: the hash computation called runtime.Goexit")

// run calls j.f and reports on j.done: nil, or what f panicked with. If
// f returns or panics, the thread lists itself as idle (with jobs, its job
// channel) before it reports, so that the caller's next computation finds
// it; if f ends the goroutine, the thread ends with it.
func (j hashJob) run(jobs chan hashJob) {
	returned := false
	defer func() {
		p := recover()
		if p == nil && !returned {
			p = errGoexit
		} else {
			idleThreads.Lock()
			idleThreads.jobs = append(idleThreads.jobs, jobs)
			idleThreads.Unlock()
		}
		j.done <- p
	}()
	j.f()
	returned = true
}
