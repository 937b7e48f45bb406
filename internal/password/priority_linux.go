package password

import "golang.org/x/sys/unix"

// lowerThreadPriority raises the nice value of the calling OS thread by
// hashNice (to at most 19), so that the kernel runs the process's other
// threads, and a database on the same host, ahead of it when they compete
// for a CPU. On Linux the nice value belongs to the thread, not the
// process. It is best effort: where the call is refused (a seccomp policy,
// say) the hash runs at the process's priority, as it would elsewhere.
func lowerThreadPriority() {
	tid := unix.Gettid()
	// getpriority(2) answers 20 - nice.
	raw, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return
	}
	unix.Setpriority(unix.PRIO_PROCESS, tid, min(19, 20-raw+hashNice))
}
