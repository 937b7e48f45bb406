package password

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testCgroup creates a cgroup v1 cpu cgroup for the test, with cpu.idle
// set, and removes it afterwards; it skips the test where it cannot (not
// root, or no cgroup v1 cpu hierarchy mounted).
func testCgroup(t *testing.T) string {
	t.Helper()
	root := "/sys/fs/cgroup/cpu"
	if _, err := os.Stat(filepath.Join(root, "tasks")); err != nil {
		t.Skipf("no cgroup v1 cpu hierarchy here: %v", err)
	}
	dir := filepath.Join(root, fmt.Sprintf("gatehouse-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a cgroup: %v", err)
	}
	t.Cleanup(func() {
		hashCgroup.Store(nil)
		// The threads still in it go back to the root cgroup, so that it
		// can be removed.
		for _, tid := range cgroupTasks(t, dir) {
			os.WriteFile(filepath.Join(root, "tasks"), []byte(tid), 0)
		}
		if err := os.Remove(dir); err != nil {
			t.Errorf("removing the test's cgroup: %v", err)
		}
	})
	if err := os.WriteFile(filepath.Join(dir, "cpu.idle"), []byte("1"), 0); err != nil {
		t.Logf("cpu.idle not set (%v); the test does not need it", err)
	}
	return dir
}

func cgroupTasks(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "tasks"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func TestUseCgroupMovesHashingThreadsOnly(t *testing.T) {
	if startNice+hashNice > 19 {
		t.Skipf("the test runs at nice %d: hashing threads cannot be told apart by their nice value", startNice)
	}
	dir := testCgroup(t)
	// A hashing thread started before UseCgroup joins before its next job.
	if p := lowPriority(func() {}); p != nil {
		t.Fatal(p)
	}
	if err := UseCgroup(dir); err != nil {
		t.Fatal(err)
	}
	tids := make(chan int, 2)
	for range 2 {
		if p := lowPriority(func() { tids <- unix.Gettid() }); p != nil {
			t.Fatal(p)
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	mine := strconv.Itoa(unix.Gettid())
	// UseCgroup's own probe thread ends soon after it joined: wait until
	// only hashing threads (nice 10) are left in the cgroup.
	var tasks []string
	for deadline := time.Now().Add(5 * time.Second); ; {
		tasks = cgroupTasks(t, dir)
		others := slices.DeleteFunc(slices.Clone(tasks), func(tid string) bool {
			n, _ := strconv.Atoi(tid)
			nice, err := threadNice(n)
			return err != nil || nice == startNice+hashNice // ended, or a hashing thread
		})
		if len(others) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("threads other than hashing threads in the cgroup: %v (all: %v)", others, tasks)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for range 2 {
		if tid := strconv.Itoa(<-tids); !slices.Contains(tasks, tid) {
			t.Errorf("hashing thread %s is not in the cgroup (%v)", tid, tasks)
		}
	}
	if slices.Contains(tasks, mine) {
		t.Errorf("the caller's thread %s joined the cgroup", mine)
	}
}

func TestUseCgroupRefusesWhatIsNotACgroup(t *testing.T) {
	fake := t.TempDir()
	os.WriteFile(filepath.Join(fake, "tasks"), nil, 0o644) // looks like v1, but is not on cgroupfs
	for dir, want := range map[string]string{
		"sys/fs/cgroup/cpu/hash":              "absolute path",
		filepath.Join(t.TempDir(), "missing"): "create the cgroup first",
		fake:                                  "not on a cgroup file system",
	} {
		err := UseCgroup(dir)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("UseCgroup(%q) = %v, want an error saying %q", dir, err, want)
		}
	}
	if hashCgroup.Load() != nil {
		t.Error("a refused cgroup was kept")
	}
}
