//go:build unix

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// goExampleTokenTTL is short so the flow sees an access token expire and the
// SDK's middleware refresh it transparently.
const goExampleTokenTTL = 3 * time.Second

// TestGoExample runs the Go quickstart (examples/go, built with go build)
// against `gatehouse dev` and drives it in Chromium with goflow.mjs: sign-up
// on the hosted pages with email verification from the dev inbox, the
// dashboard behind the SDK's middleware, a transparent refresh (new cookie,
// no redirect), the CSRF and state checks, sign-out with an expired access
// token, and the dashboard asking for credentials again.
func TestGoExample(t *testing.T) {
	root := repoRoot(t)
	node := requireGoFlowPrerequisites(t, root)
	tmp := t.TempDir()

	bin := filepath.Join(tmp, "gatehouse")
	appBin := filepath.Join(tmp, "goexample")
	for _, b := range [][2]string{{bin, "./cmd/gatehouse"}, {appBin, "./examples/go"}} {
		build := exec.Command("go", "build", "-o", b[0], b[1])
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b[1], err, out)
		}
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
	t.Logf("gatehouse dev is up at %s (client %s)", vars["GATEHOUSE_URL"], vars["WORKOS_CLIENT_ID"])

	update := exec.Command(bin, "environments", "update",
		"--env", vars["WORKOS_CLIENT_ID"],
		"--access-token-ttl", goExampleTokenTTL.String(),
		"--database-url", "sqlite://"+filepath.Join(dataDir, "gatehouse.db"),
	)
	update.Dir = root
	update.Env = cleanEnv()
	out, err := update.CombinedOutput()
	logLines(t, "admin", out)
	if err != nil {
		t.Fatalf("gatehouse environments update --access-token-ttl %s: %v (output above)", goExampleTokenTTL, err)
	}

	// The app runs from a directory without .gatehouse/ above it, so it
	// reads only the env file DOTENV_PATH names.
	app := start(t, "app", tmp, cleanEnv("PORT="+strconv.Itoa(aport), "DOTENV_PATH="+envFile, "LISTEN_ADDR="), appBin)
	waitForHTTP(t, appURL+"/", app)

	outDir := filepath.Join(root, "testout", "e2e-go")
	if err := os.RemoveAll(outDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
	defer cancel()
	flow := exec.CommandContext(ctx, node, "goflow.mjs")
	flow.Dir = filepath.Join(root, "test", "e2e")
	flow.Env = cleanEnv(
		"APP_URL="+appURL,
		"GATEHOUSE_URL="+vars["GATEHOUSE_URL"],
		"WORKOS_CLIENT_ID="+vars["WORKOS_CLIENT_ID"],
		"ACCESS_TOKEN_TTL_SECONDS="+strconv.Itoa(int(goExampleTokenTTL/time.Second)),
		"E2E_OUT="+outDir,
		"CHROMIUM_PATH="+chromiumPath,
		"NO_COLOR=1",
	)
	w := newLineWriter(t, "goflow")
	flow.Stdout, flow.Stderr = w, w
	// Chromium runs in goflow.mjs's process group: a timeout kills it too.
	flow.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	flow.Cancel = func() error { return syscall.Kill(-flow.Process.Pid, syscall.SIGKILL) }
	flow.WaitDelay = 10 * time.Second
	err = flow.Run()
	w.Flush()
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("the browser flow did not finish within %v (log above; screenshots in %s)", flowTimeout, outDir)
		}
		t.Fatalf("the browser flow failed: %v (log above; screenshots of the failing step in %s)", err, outDir)
	}
}

// requireGoFlowPrerequisites fails (never skips) with the command that
// fixes a missing prerequisite, and returns the node binary. The Go app
// needs no npm packages; goflow.mjs needs playwright-core.
func requireGoFlowPrerequisites(t *testing.T, root string) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is not installed at %s (%v): run `apt-get update && apt-get install -y chromium` (as root)", chromiumPath, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH (%v): install Node.js 20 or later, then run `npm ci --prefix test/e2e` from the repository root", err)
	}
	if _, err := os.Stat(filepath.Join(root, "test", "e2e", "node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("playwright-core is not installed in test/e2e/node_modules: run `npm ci --prefix test/e2e` from the repository root")
	}
	return node
}
