package password

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// hashCgroup is the file a hashing thread writes its thread ID to before a
// computation (see UseCgroup), or nil.
var hashCgroup atomic.Pointer[string]

// UseCgroup makes every hashing thread join the cgroup at dir before its
// next computation: a cgroup v2 directory (the thread is written to
// cgroup.threads, so dir must be a threaded cgroup in the process's
// threaded subtree) or a cgroup v1 cpu directory (tasks). The point is a
// CPU weight for the hashes of their own, outside the group of the
// process's request threads: with cpu.idle set to 1 the kernel runs them
// only on CPU time no other group wants (docs/performance.md). It checks
// that a thread can join by moving a short-lived thread there first, and
// returns what the kernel answered if not; a hashing thread that later
// cannot join hashes where it is, as it would without UseCgroup.
func UseCgroup(dir string) error {
	file, err := cgroupThreadsFile(dir)
	if err != nil {
		return err
	}
	joined := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with this goroutine, so the
		// cgroup it joined never passes to other work.
		runtime.LockOSThread()
		joined <- joinCgroup(file)
	}()
	if err := <-joined; err != nil {
		return err
	}
	hashCgroup.Store(&file)
	return nil
}

// IdleCgroup reports whether the cgroup at dir has cpu.idle set to 1. A
// hashing thread there gets a CPU only when nothing else wants one, and
// the Go runtime's stop-the-world pauses wait for every thread that holds
// a processor, that one included: while other processes keep every CPU
// busy, a garbage collection can stop the whole node for as long as the
// thread waits (median 0.43–0.48 s, up to 1.57 s, in the twenty-fifth
// session's test; docs/performance.md).
func IdleCgroup(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "cpu.idle"))
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// cgroupThreadsFile is the file of dir that takes a thread ID.
func cgroupThreadsFile(dir string) (string, error) {
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("%q: give the cgroup's absolute path, e.g. /sys/fs/cgroup/gatehouse.service/hash", dir)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return "", fmt.Errorf("%s: %w; create the cgroup first", dir, err)
	}
	name := "cgroup.threads" // v2
	switch fs.Type {
	case unix.CGROUP2_SUPER_MAGIC:
	case unix.CGROUP_SUPER_MAGIC:
		name = "tasks"
	default:
		return "", fmt.Errorf("%s is not a cgroup: it is not on a cgroup file system (/sys/fs/cgroup)", dir)
	}
	return filepath.Join(dir, name), nil
}

// joinCgroup moves the calling OS thread into the cgroup of file.
func joinCgroup(file string) error {
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(strconv.Itoa(unix.Gettid()))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		hint := ""
		if filepath.Base(file) == "cgroup.threads" {
			hint = " (under cgroup v2 the cgroup must be threaded, in this process's threaded subtree: echo threaded > cgroup.type)"
		}
		return fmt.Errorf("moving a thread into %s: %w%s", filepath.Dir(file), err, hint)
	}
	return nil
}

// joinHashCgroup moves the calling hashing thread into the cgroup last
// given to UseCgroup, unless joined (the one it joined before) is that
// one already; best effort, like its nice value. It returns the cgroup
// now joined.
func joinHashCgroup(joined *string) *string {
	file := hashCgroup.Load()
	if file == nil || file == joined {
		return joined
	}
	_ = joinCgroup(*file)
	return file
}
