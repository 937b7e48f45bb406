//go:build unix

package e2e

// The helpers of the end-to-end tests: their prerequisites, `gatehouse dev`
// and the app under test as subprocesses (their output in the test log), and
// a browser flow (one of this directory's .mjs scripts) run with node.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	chromiumPath = "/usr/bin/chromium"
	// accessTokenTTL is short so each flow sees an access token expire: the
	// app refreshes it transparently or, once the admin has revoked the
	// session, Gatehouse refuses the refresh.
	accessTokenTTL = 3 * time.Second
	startTimeout   = 60 * time.Second
	flowTimeout    = 5 * time.Minute
)

// repoRoot is the module root (the test runs in test/e2e).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("cannot find the repository root from the test directory: %v", err)
	}
	return root
}

// npmPackage is an npm package a test needs installed in dir/node_modules.
type npmPackage struct{ dir, pkg string }

// expressPackages are the packages examples/express needs.
var expressPackages = []npmPackage{
	{"examples/express", "@workos-inc/node"},
	{"examples/express", "express"},
	{"examples/express", "cookie-parser"},
	{"examples/express", "csrf-csrf"},
}

// requirePrerequisites fails (never skips) with the command that fixes a
// missing prerequisite, and returns the node binary. Every flow needs
// Chromium, node and playwright-core; app lists the npm packages the app
// under test needs, if any.
func requirePrerequisites(t *testing.T, root string, app ...npmPackage) string {
	t.Helper()
	pkgs := append(slices.Clone(app), npmPackage{"test/e2e", "playwright-core"})
	var installs []string
	for _, p := range pkgs {
		if c := "npm ci --prefix " + p.dir; !slices.Contains(installs, c) {
			installs = append(installs, c)
		}
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is not installed at %s (%v): run `apt-get update && apt-get install -y chromium` (as root)", chromiumPath, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH (%v): install Node.js 20 or later, then run `%s` from the repository root", err, strings.Join(installs, " && "))
	}
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join(root, p.dir, "node_modules", p.pkg, "package.json")); err != nil {
			t.Fatalf("%s is not installed in %s/node_modules: run `npm ci --prefix %s` from the repository root", p.pkg, p.dir, p.dir)
		}
	}
	return node
}

// goBuild builds the package pkg of the repository (./cmd/gatehouse,
// ./examples/go) into bin.
func goBuild(t *testing.T, root, bin, pkg string) {
	t.Helper()
	build := exec.Command("go", "build", "-o", bin, pkg)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
}

// devServer is `gatehouse dev` running for one test, with the port of the
// app that uses it picked.
type devServer struct {
	root    string // the repository
	bin     string // the gatehouse binary
	envFile string // the env file gatehouse dev writes for the app
	appPort int
	appURL  string
	vars    map[string]string // the settings in envFile
	proc    *proc
}

// startDev builds gatehouse into tmp, starts `gatehouse dev` with its data
// in tmp, waits for the env file it writes, and sets the environment's
// access-token lifetime to accessTokenTTL (the settings are read per
// request: no restart needed).
func startDev(t *testing.T, root, tmp string) *devServer {
	t.Helper()
	d := &devServer{
		root:    root,
		bin:     filepath.Join(tmp, "gatehouse"),
		envFile: filepath.Join(tmp, "dev.env"),
	}
	goBuild(t, root, d.bin, "./cmd/gatehouse")

	gport, aport := freePort(t), freePort(t)
	for aport == gport {
		aport = freePort(t)
	}
	d.appPort = aport
	d.appURL = fmt.Sprintf("http://localhost:%d", aport)
	dataDir := filepath.Join(tmp, "data")

	d.proc = start(t, "gatehouse", root, cleanEnv(), d.bin, "dev",
		"--addr", fmt.Sprintf("127.0.0.1:%d", gport),
		"--data", dataDir,
		"--app-url", d.appURL,
		"--env-file", d.envFile,
	)
	d.vars = waitForEnvFile(t, d.envFile, d.proc)
	t.Logf("gatehouse dev is up at %s (client %s)", d.vars["GATEHOUSE_URL"], d.vars["WORKOS_CLIENT_ID"])

	update := exec.Command(d.bin, "environments", "update",
		"--env", d.vars["WORKOS_CLIENT_ID"],
		"--access-token-ttl", accessTokenTTL.String(),
		"--database-url", "sqlite://"+filepath.Join(dataDir, "gatehouse.db"),
	)
	update.Dir = root
	update.Env = cleanEnv()
	out, err := update.CombinedOutput()
	logLines(t, "admin", out)
	if err != nil {
		t.Fatalf("gatehouse environments update --access-token-ttl %s: %v (output above)", accessTokenTTL, err)
	}
	return d
}

// startApp starts the app under test (bin args... in dir) on its port,
// reading the dev env file, with env added to its environment, and waits
// until its home page answers.
func (d *devServer) startApp(t *testing.T, dir string, env []string, bin string, args ...string) {
	t.Helper()
	env = append([]string{"PORT=" + strconv.Itoa(d.appPort), "DOTENV_PATH=" + d.envFile}, env...)
	app := start(t, "app", dir, cleanEnv(env...), bin, args...)
	waitForHTTP(t, d.appURL+"/", app)
}

// browserFlow is one of this directory's scripts, run by node against a
// devServer and its app.
type browserFlow struct {
	script string   // the .mjs file; its name less .mjs prefixes its log lines
	name   string   // how a failure names the flow
	outDir string   // where its screenshots go ($E2E_OUT), emptied first
	hint   string   // what a failure message says before outDir
	env    []string // settings beyond the ones every flow reads
}

// runFlow runs f and fails the test if it fails or does not finish within
// flowTimeout.
func (d *devServer) runFlow(t *testing.T, node string, f browserFlow) {
	t.Helper()
	if err := os.RemoveAll(f.outDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(f.outDir, 0o755); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
	defer cancel()
	flow := exec.CommandContext(ctx, node, f.script)
	flow.Dir = filepath.Join(d.root, "test", "e2e")
	flow.Env = cleanEnv(append([]string{
		"APP_URL=" + d.appURL,
		"GATEHOUSE_URL=" + d.vars["GATEHOUSE_URL"],
		"WORKOS_CLIENT_ID=" + d.vars["WORKOS_CLIENT_ID"],
		"ACCESS_TOKEN_TTL_SECONDS=" + strconv.Itoa(int(accessTokenTTL/time.Second)),
		"E2E_OUT=" + f.outDir,
		"CHROMIUM_PATH=" + chromiumPath,
		"NO_COLOR=1",
	}, f.env...)...)
	w := newLineWriter(t, strings.TrimSuffix(f.script, ".mjs"))
	flow.Stdout, flow.Stderr = w, w
	// Chromium runs in the script's process group: a timeout kills it too.
	flow.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	flow.Cancel = func() error { return syscall.Kill(-flow.Process.Pid, syscall.SIGKILL) }
	flow.WaitDelay = 10 * time.Second
	err := flow.Run()
	w.Flush()
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("%s did not finish within %v (log above; screenshots in %s)", f.name, flowTimeout, f.outDir)
		}
		t.Fatalf("%s failed: %v (%s %s)", f.name, err, f.hint, f.outDir)
	}
}

// cleanEnv is this process's environment without anything that would
// override the dev env file or the flow's settings, plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "WORKOS_"), strings.HasPrefix(name, "GATEHOUSE_"),
			name == "PORT", name == "APP_URL", name == "DOTENV_PATH", name == "E2E_OUT",
			name == "ACCESS_TOKEN_TTL_SECONDS", name == "NODE_OPTIONS":
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// freePort returns a TCP port free on every interface now, taken below
// Linux's default ephemeral range (32768–60999). The port is used seconds
// later, by a process that binds all interfaces: a port from the
// ephemeral range (what listening on port 0 gives) could be handed
// meanwhile to an outgoing connection or another test's server, which
// once made the Express app's listen fail with EADDRINUSE.
func freePort(t *testing.T) int {
	t.Helper()
	for range 100 {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
		if err != nil {
			continue // taken
		}
		l.Close()
		return port
	}
	t.Fatal("no free port in 20000–31999 after 100 tries")
	return 0
}

// proc is a background subprocess whose output goes to the test log and
// is kept, so a test can read what it printed.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error

	mu  sync.Mutex
	out bytes.Buffer
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// start runs a long-lived subprocess in its own process group and stops it
// (the whole group) when the test ends.
func start(t *testing.T, name, dir string, env []string, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	w := newLineWriter(t, name)
	cmd.Stdout, cmd.Stderr = io.MultiWriter(w, p), io.MultiWriter(w, p)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-p.done
			}
		}
		w.Flush()
	})
	return p
}

// waitForEnvFile waits until gatehouse dev has written the env file.
func waitForEnvFile(t *testing.T, path string, p *proc) map[string]string {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		vars := map[string]string{}
		if b, err := os.ReadFile(path); err == nil {
			for line := range strings.SplitSeq(string(b), "\n") {
				if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
					vars[k] = v
				}
			}
		}
		if vars["WORKOS_COOKIE_PASSWORD"] != "" && vars["GATEHOUSE_URL"] != "" && vars["WORKOS_CLIENT_ID"] != "" {
			return vars
		}
		if p.exited() {
			t.Fatalf("gatehouse dev exited before writing %s: %v (its output is above)", path, p.err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("gatehouse dev did not write %s within %v", path, startTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitForHTTP waits until url answers 200.
func waitForHTTP(t *testing.T, url string, p *proc) {
	t.Helper()
	client := &http.Client{
		Timeout:       2 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	deadline := time.Now().Add(startTimeout)
	var last string
	for {
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if p.exited() {
			t.Fatalf("%s exited before answering %s: %v (its output is above)", p.name, url, p.err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer %s with 200 within %v; last: %s", p.name, url, startTimeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitForOutput waits until the process has printed a match of re.
func waitForOutput(t *testing.T, p *proc, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		if m := re.FindStringSubmatch(p.output()); m != nil {
			return m
		}
		if p.exited() {
			t.Fatalf("%s exited before printing %s: %v (its output is above)", p.name, re, p.err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %s within %v (its output is above)", p.name, re, startTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lineWriter writes each complete line to the test log, prefixed with its
// source.
type lineWriter struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func newLineWriter(t *testing.T, name string) *lineWriter {
	return &lineWriter{t: t, prefix: "[" + name + "] "}
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(w.t.Output(), "%s%s\n", w.prefix, bytes.TrimRight(w.buf[:i], "\r"))
		w.buf = w.buf[i+1:]
	}
	return len(b), nil
}

// Flush writes a final unterminated line.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		fmt.Fprintf(w.t.Output(), "%s%s\n", w.prefix, w.buf)
		w.buf = nil
	}
}

func logLines(t *testing.T, name string, out []byte) {
	w := newLineWriter(t, name)
	w.Write(out)
	w.Flush()
}
