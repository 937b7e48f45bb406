//go:build unix

package e2e

import (
	"path/filepath"
	"testing"
)

// TestExpressQuickstart runs examples/express against `gatehouse dev` and
// drives the whole sign-up (with email verification), refresh, sign-out,
// sign-in, password reset and emailed-code flow in Chromium.
func TestExpressQuickstart(t *testing.T) {
	root := repoRoot(t)
	node := requirePrerequisites(t, root, expressPackages...)
	dev := startDev(t, root, t.TempDir())
	dev.startApp(t, filepath.Join(root, "examples", "express"), nil, node, "server.js")
	dev.runFlow(t, node, browserFlow{
		script: "flow.mjs",
		name:   "the browser flow",
		outDir: filepath.Join(root, "testout", "e2e", "express"),
		hint:   "log above; screenshots of the failing step in",
	})
}
