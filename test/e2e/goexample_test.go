//go:build unix

package e2e

import (
	"path/filepath"
	"testing"
)

// TestGoExample runs the Go quickstart (examples/go, built with go build)
// against `gatehouse dev` and drives it in Chromium with goflow.mjs: sign-up
// on the hosted pages with email verification from the dev inbox, the
// dashboard behind the SDK's middleware, a transparent refresh (new cookie,
// no redirect), the CSRF and state checks, sign-out with an expired access
// token, and the dashboard asking for credentials again.
func TestGoExample(t *testing.T) {
	root := repoRoot(t)
	// The Go app needs no npm packages.
	node := requirePrerequisites(t, root)
	tmp := t.TempDir()
	appBin := filepath.Join(tmp, "goexample")
	goBuild(t, root, appBin, "./examples/go")
	dev := startDev(t, root, tmp)

	// The app runs from a directory without .gatehouse/ above it, so it
	// reads only the env file DOTENV_PATH names.
	dev.startApp(t, tmp, []string{"LISTEN_ADDR="}, appBin)
	dev.runFlow(t, node, browserFlow{
		script: "goflow.mjs",
		name:   "the browser flow",
		outDir: filepath.Join(root, "testout", "e2e-go"),
		hint:   "log above; screenshots of the failing step in",
	})
}
