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
// It shares the process helpers of e2e_test.go.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	dashChromium = "/usr/bin/chromium"
	// dashTokenTTL is short so that, after the admin revokes the session,
	// the app's next request needs a refresh, which Gatehouse refuses.
	dashTokenTTL    = 3 * time.Second
	dashFlowTimeout = 5 * time.Minute
)

// dashAdminLinkRE finds the one-time dashboard link in gatehouse dev's box.
var dashAdminLinkRE = regexp.MustCompile(`Admin sign-in\s+(http://\S+/admin/login/[A-Za-z0-9_-]+)`)

func TestDashboard(t *testing.T) {
	root := repoRoot(t)
	node := dashPrerequisites(t, root)
	tmp := t.TempDir()

	bin := filepath.Join(tmp, "gatehouse")
	build := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/gatehouse: %v\n%s", err, out)
	}

	gport, aport := freePort(t), freePort(t)
	for aport == gport {
		aport = freePort(t)
	}
	dataDir := filepath.Join(tmp, "data")
	envFile := filepath.Join(tmp, "dev.env")
	appURL := fmt.Sprintf("http://localhost:%d", aport)

	gatehouse := start(t, "gatehouse", root, cleanEnv(), bin, "dev",
		"--addr", fmt.Sprintf("127.0.0.1:%d", gport),
		"--data", dataDir,
		"--app-url", appURL,
		"--env-file", envFile,
	)
	vars := waitForEnvFile(t, envFile, gatehouse)
	adminLink := waitForOutput(t, gatehouse, dashAdminLinkRE)[1]
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
	update.Env = cleanEnv()
	out, err := update.CombinedOutput()
	logLines(t, "admin", out)
	if err != nil {
		t.Fatalf("gatehouse environments update --access-token-ttl %s: %v (output above)", dashTokenTTL, err)
	}

	app := start(t, "app", filepath.Join(root, "examples", "express"),
		cleanEnv("PORT="+strconv.Itoa(aport), "DOTENV_PATH="+envFile),
		node, "server.js")
	waitForHTTP(t, appURL+"/", app)

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
	flow.Env = cleanEnv(
		"APP_URL="+appURL,
		"GATEHOUSE_URL="+vars["GATEHOUSE_URL"],
		"WORKOS_CLIENT_ID="+vars["WORKOS_CLIENT_ID"],
		"ADMIN_LINK="+adminLink,
		"ACCESS_TOKEN_TTL_SECONDS="+strconv.Itoa(int(dashTokenTTL/time.Second)),
		"E2E_OUT="+outDir,
		"CHROMIUM_PATH="+dashChromium,
		"NO_COLOR=1",
	)
	w := newLineWriter(t, "dashboard")
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
