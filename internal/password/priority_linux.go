package password

import (
	"time"

	"golang.org/x/sys/unix"
)

// lowerThreadPriority raises the nice value of the calling OS thread by
// hashNice (to at most 19), so that the kernel runs the process's other
// threads (and other processes of its scheduling group) ahead of it when
// they compete for a CPU. On Linux the nice value belongs to the thread,
// not the process. It is best effort: where the call is refused (a
// seccomp policy, say) the hash runs at the process's priority, as it
// would elsewhere.
func lowerThreadPriority() {
	tid := unix.Gettid()
	// getpriority(2) answers 20 - nice.
	raw, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return
	}
	unix.Setpriority(unix.PRIO_PROCESS, tid, min(19, 20-raw+hashNice))
}

// threadCPU is the CPU time the calling OS thread has used, or 0 if the
// clock cannot be read.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
