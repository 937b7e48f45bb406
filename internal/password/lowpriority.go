package password

import (
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
// storm takes the CPU time that token requests and a database on the same
// host leave over, instead of an equal share of it; when the host is short
// of CPU, sign-ins wait, not refreshes. It returns what f panicked with,
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
	jobs := make(chan hashJob, 1)
	idle := time.NewTimer(idleHashThread)
	for {
		p := job.run()
		// Idle before reporting, so that the caller's next computation
		// finds this thread.
		idleThreads.Lock()
		idleThreads.jobs = append(idleThreads.jobs, jobs)
		idleThreads.Unlock()
		job.done <- p
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

func (j hashJob) run() (p any) {
	defer func() { p = recover() }()
	j.f()
	return nil
}
