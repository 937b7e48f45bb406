//go:build unix

package e2e

// The operator dashboard, end to end: `gatehouse dev`, examples/express and
// headless Chromium (dashboard.mjs). A user signs up through the app; an
// admin signs in with the one-time link gatehouse dev prints, finds the
// user, revokes their session (the app then asks them to sign in), edits
// redirects, creates and revokes an API key (the API accepts, then refuses
// it) and changes the branding (the hosted sign-in page shows it).
// Screenshots of the main pages go to testout/e2e/dashboard.
//
// This file's helpers are its own (prefixed dash) so it does not depend on
// the other e2e files' internals.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	dashChromium = "/usr/bin/chromium"
	// dashTokenTTL is short so that, after the admin revokes the session,
	// the app's next request needs a refresh, which Gatehouse refuses.
	dashTokenTTL     = 3 * time.Second
	dashStartTimeout = 60 * time.Second
	dashFlowTimeout  = 5 * time.Minute
)

// dashAdminLinkRE finds the one-time dashboard link in gatehouse dev's box.
var dashAdminLinkRE = regexp.MustCompile(`Admin sign-in\s+(http://\S+/admin/login/[A-Za-z0-9_-]+)`)

func TestDashboard(t *testing.T) {
	root := dashRepoRoot(t)
	node := dashPrerequisites(t, root)
	tmp := t.TempDir()

	bin := filepath.Join(tmp, "gatehouse")
	build := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/gatehouse: %v\n%s", err, out)
	}

	gport, aport := dashFreePort(t), dashFreePort(t)
	for aport == gport {
		aport = dashFreePort(t)
	}
	dataDir := filepath.Join(tmp, "data")
	envFile := filepath.Join(tmp, "dev.env")
	appURL := fmt.Sprintf("http://localhost:%d", aport)

	gatehouse := dashStart(t, "gatehouse", root, dashEnv(), bin, "dev",
		"--addr", fmt.Sprintf("127.0.0.1:%d", gport),
		"--data", dataDir,
		"--app-url", appURL,
		"--env-file", envFile,
	)
	vars := dashWaitForEnvFile(t, envFile, gatehouse)
	adminLink := dashWaitForOutput(t, gatehouse, dashAdminLinkRE)[1]
	t.Logf("gatehouse dev is up at %s (client %s)", vars["GATEHOUSE_URL"], vars["WORKOS_CLIENT_ID"])
	if !strings.HasPrefix(adminLink, vars["GATEHOUSE_URL"]+"/admin/login/") {
		t.Fatalf("the admin sign-in link %q is not under %s/admin/login/", adminLink, vars["GATEHOUSE_URL"])
	}

	update := exec.Command(bin, "environments", "update",
		"--env", vars["WORKOS_CLIENT_ID"],
		"--access-token-ttl", dashTokenTTL.String(),
		"--database-url", "sqlite://"+filepath.Join(dataDir, "gatehouse.db"),
	)
	update.Dir = root
	update.Env = dashEnv()
	out, err := update.CombinedOutput()
	dashLog(t, "admin", out)
	if err != nil {
		t.Fatalf("gatehouse environments update --access-token-ttl %s: %v (output above)", dashTokenTTL, err)
	}

	app := dashStart(t, "app", filepath.Join(root, "examples", "express"),
		dashEnv("PORT="+strconv.Itoa(aport), "DOTENV_PATH="+envFile),
		node, "server.js")
	dashWaitForHTTP(t, appURL+"/", app)

	// Only this test's directory: the other e2e tests own testout/e2e.
	outDir := filepath.Join(root, "testout", "e2e", "dashboard")
	if err := os.RemoveAll(outDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), dashFlowTimeout)
	defer cancel()
	flow := exec.CommandContext(ctx, node, "dashboard.mjs")
	flow.Dir = filepath.Join(root, "test", "e2e")
	flow.Env = dashEnv(
		"APP_URL="+appURL,
		"GATEHOUSE_URL="+vars["GATEHOUSE_URL"],
		"WORKOS_CLIENT_ID="+vars["WORKOS_CLIENT_ID"],
		"ADMIN_LINK="+adminLink,
		"ACCESS_TOKEN_TTL_SECONDS="+strconv.Itoa(int(dashTokenTTL/time.Second)),
		"E2E_OUT="+outDir,
		"CHROMIUM_PATH="+dashChromium,
		"NO_COLOR=1",
	)
	w := dashNewLineWriter(t, "dashboard")
	flow.Stdout, flow.Stderr = w, w
	// Chromium runs in dashboard.mjs's process group: a timeout kills it too.
	flow.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	flow.Cancel = func() error { return syscall.Kill(-flow.Process.Pid, syscall.SIGKILL) }
	flow.WaitDelay = 10 * time.Second
	err = flow.Run()
	w.Flush()
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("the dashboard flow did not finish within %v (log above; screenshots in %s)", dashFlowTimeout, outDir)
		}
		t.Fatalf("the dashboard flow failed: %v (the FAIL lines above name each broken expectation; screenshots in %s)", err, outDir)
	}
	t.Logf("screenshots of the dashboard's pages are in %s", outDir)
}

// dashRepoRoot is the module root (the test runs in test/e2e).
func dashRepoRoot(t *testing.T) string {
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

// dashPrerequisites fails (never skips) with the command that fixes a
// missing prerequisite, and returns the node binary.
func dashPrerequisites(t *testing.T, root string) string {
	t.Helper()
	if _, err := os.Stat(dashChromium); err != nil {
		t.Fatalf("Chromium is not installed at %s (%v): run `apt-get update && apt-get install -y chromium` (as root)", dashChromium, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH (%v): install Node.js 20 or later, then run `npm ci --prefix examples/express && npm ci --prefix test/e2e` from the repository root", err)
	}
	for _, p := range []struct{ dir, pkg string }{
		{"examples/express", "@workos-inc/node"},
		{"examples/express", "express"},
		{"examples/express", "cookie-parser"},
		{"examples/express", "csrf-csrf"},
		{"test/e2e", "playwright-core"},
	} {
		if _, err := os.Stat(filepath.Join(root, p.dir, "node_modules", p.pkg, "package.json")); err != nil {
			t.Fatalf("%s is not installed in %s/node_modules: run `npm ci --prefix %s` from the repository root", p.pkg, p.dir, p.dir)
		}
	}
	return node
}

// dashEnv is this process's environment without anything that would
// override the dev env file or the flow's settings, plus extra.
func dashEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "WORKOS_"), strings.HasPrefix(name, "GATEHOUSE_"),
			name == "PORT", name == "APP_URL", name == "DOTENV_PATH", name == "E2E_OUT", name == "ADMIN_LINK",
			name == "ACCESS_TOKEN_TTL_SECONDS", name == "NODE_OPTIONS":
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

func dashFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// dashProc is a background subprocess whose output goes to the test log
// and is kept, so the test can read what it printed.
type dashProc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error

	mu  sync.Mutex
	out bytes.Buffer
}

func (p *dashProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *dashProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *dashProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// dashStart runs a long-lived subprocess in its own process group and
// stops it (the whole group) when the test ends.
func dashStart(t *testing.T, name, dir string, env []string, bin string, args ...string) *dashProc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	p := &dashProc{name: name, cmd: cmd, done: make(chan struct{})}
	w := dashNewLineWriter(t, name)
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

// dashWaitForOutput waits until the process has printed a match of re.
func dashWaitForOutput(t *testing.T, p *dashProc, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(dashStartTimeout)
	for {
		if m := re.FindStringSubmatch(p.output()); m != nil {
			return m
		}
		if p.exited() {
			t.Fatalf("%s exited before printing %s: %v (its output is above)", p.name, re, p.err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %s within %v (its output is above)", p.name, re, dashStartTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dashWaitForEnvFile waits until gatehouse dev has written the env file.
func dashWaitForEnvFile(t *testing.T, path string, p *dashProc) map[string]string {
	t.Helper()
	deadline := time.Now().Add(dashStartTimeout)
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
			t.Fatalf("gatehouse dev did not write %s within %v", path, dashStartTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dashWaitForHTTP waits until url answers 200.
func dashWaitForHTTP(t *testing.T, url string, p *dashProc) {
	t.Helper()
	client := &http.Client{
		Timeout:       2 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	deadline := time.Now().Add(dashStartTimeout)
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
			t.Fatalf("%s did not answer %s with 200 within %v; last: %s", p.name, url, dashStartTimeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dashLineWriter writes each complete line to the test log, prefixed with
// its source.
type dashLineWriter struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func dashNewLineWriter(t *testing.T, name string) *dashLineWriter {
	return &dashLineWriter{t: t, prefix: "[" + name + "] "}
}

func (w *dashLineWriter) Write(b []byte) (int, error) {
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
func (w *dashLineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		fmt.Fprintf(w.t.Output(), "%s%s\n", w.prefix, w.buf)
		w.buf = nil
	}
}

func dashLog(t *testing.T, name string, out []byte) {
	w := dashNewLineWriter(t, name)
	w.Write(out)
	w.Flush()
}
