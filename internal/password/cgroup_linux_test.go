package password

import (
	"errors"
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

// testGroup is a cgroup a test made: dir is what UseCgroup is given;
// threads, the file that lists its threads (tasks under v1,
// cgroup.threads under v2).
type testGroup struct{ dir, threads string }

// members lists the thread IDs in the cgroup.
func (g testGroup) members(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(g.threads)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// makeTestGroup creates a cgroup named for the test process under parent,
// whose threads are listed in the file named threads, and removes it when
// the test ends, after moving the threads still in it back to parent,
// since a cgroup with threads cannot be removed.
func makeTestGroup(t *testing.T, parent, threads string) testGroup {
	t.Helper()
	dir := filepath.Join(parent, fmt.Sprintf("gatehouse-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a cgroup: %v", err)
	}
	g := testGroup{dir: dir, threads: filepath.Join(dir, threads)}
	t.Cleanup(func() {
		hashCgroup.Store(nil)
		for _, tid := range g.members(t) {
			os.WriteFile(filepath.Join(parent, threads), []byte(tid), 0)
		}
		if err := os.Remove(dir); err != nil {
			t.Errorf("removing the test's cgroup: %v", err)
		}
	})
	return g
}

// testCgroupV1 creates a cgroup v1 cpu cgroup with cpu.idle set; it
// skips the test where it cannot (not root, or no v1 cpu hierarchy).
func testCgroupV1(t *testing.T) testGroup {
	t.Helper()
	root := "/sys/fs/cgroup/cpu"
	if _, err := os.Stat(filepath.Join(root, "tasks")); err != nil {
		t.Skipf("no cgroup v1 cpu hierarchy here: %v", err)
	}
	g := makeTestGroup(t, root, "tasks")
	if err := os.WriteFile(filepath.Join(g.dir, "cpu.idle"), []byte("1"), 0); err != nil {
		t.Logf("cpu.idle not set (%v); the test does not need it", err)
	}
	return g
}

// testCgroupV2 creates a cgroup v2 cgroup below the process's own, of
// type typ ("threaded", or "domain" as created); it skips the test where
// it cannot (not root, no cgroup2 mount, or a parent that takes no
// threaded child).
func testCgroupV2(t *testing.T, typ string) testGroup {
	t.Helper()
	own, err := ownCgroup2()
	if err != nil {
		t.Skipf("no cgroup v2 hierarchy here: %v", err)
	}
	g := makeTestGroup(t, own, "cgroup.threads")
	if typ != "domain" {
		if err := os.WriteFile(filepath.Join(g.dir, "cgroup.type"), []byte(typ), 0); err != nil {
			t.Skipf("cannot make the cgroup %s: %v", typ, err)
		}
	}
	return g
}

// ownCgroup2 is the directory of the process's cgroup v2 cgroup.
func ownCgroup2() (string, error) {
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	mount := ""
	for line := range strings.Lines(string(mounts)) {
		// ID parent major:minor root mount-point options ... - type source super-options
		fields, rest, _ := strings.Cut(line, " - ")
		if f := strings.Fields(fields); len(f) >= 5 && strings.HasPrefix(rest, "cgroup2 ") {
			mount = f[4]
			break
		}
	}
	if mount == "" {
		return "", errors.New("no cgroup2 file system mounted")
	}
	groups, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(groups)) {
		if path, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			return filepath.Join(mount, path), nil
		}
	}
	return "", errors.New("the process is in no cgroup v2 cgroup")
}

func TestUseCgroupMovesHashingThreadsOnly(t *testing.T) {
	if startNice+hashNice > 19 {
		t.Skipf("the test runs at nice %d: hashing threads cannot be told apart by their nice value", startNice)
	}
	for _, tc := range []struct {
		name string
		make func(*testing.T) testGroup
	}{
		{"v1", testCgroupV1},
		{"v2", func(t *testing.T) testGroup { return testCgroupV2(t, "threaded") }},
	} {
		t.Run(tc.name, func(t *testing.T) { testUseCgroupMoves(t, tc.make(t)) })
	}
}

func testUseCgroupMoves(t *testing.T, g testGroup) {
	// A hashing thread started before UseCgroup joins before its next job.
	if p := lowPriority(func() {}); p != nil {
		t.Fatal(p)
	}
	if err := UseCgroup(g.dir); err != nil {
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
		tasks = g.members(t)
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

// Under cgroup v2 a thread can only move on its own into a threaded
// cgroup: a domain cgroup is refused, and the error says what to do.
func TestUseCgroupRefusesAV2DomainCgroup(t *testing.T) {
	g := testCgroupV2(t, "domain")
	err := UseCgroup(g.dir)
	if err == nil || !strings.Contains(err.Error(), "must be threaded") {
		t.Fatalf("UseCgroup(%s) = %v, want an error saying the cgroup must be threaded", g.dir, err)
	}
	if hashCgroup.Load() != nil {
		t.Error("a refused cgroup was kept")
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

// IdleCgroup reads the cgroup's cpu.idle: true for 1, false for 0 and
// where there is no such file (a directory that is not a cgroup).
func TestIdleCgroup(t *testing.T) {
	if IdleCgroup(t.TempDir()) {
		t.Error("IdleCgroup is true for a directory without cpu.idle")
	}
	g := testCgroupV1(t)
	idle := filepath.Join(g.dir, "cpu.idle")
	if err := os.WriteFile(idle, []byte("1"), 0); err != nil {
		t.Skipf("this kernel's cgroup v1 cpu controller takes no cpu.idle: %v", err)
	}
	if !IdleCgroup(g.dir) {
		t.Error("IdleCgroup is false for a cgroup with cpu.idle=1")
	}
	if err := os.WriteFile(idle, []byte("0"), 0); err != nil {
		t.Fatal(err)
	}
	if IdleCgroup(g.dir) {
		t.Error("IdleCgroup is true for a cgroup with cpu.idle=0")
	}
}
