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
// It uses the helpers of helpers_test.go.

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dashAdminLinkRE finds the one-time dashboard link in gatehouse dev's box.
var dashAdminLinkRE = regexp.MustCompile(`Admin sign-in\s+(http://\S+/admin/login/[A-Za-z0-9_-]+)`)

func TestDashboard(t *testing.T) {
	root := repoRoot(t)
	node := requirePrerequisites(t, root, expressPackages...)
	dev := startDev(t, root, t.TempDir())
	adminLink := waitForOutput(t, dev.proc, dashAdminLinkRE)[1]
	if !strings.HasPrefix(adminLink, dev.vars["GATEHOUSE_URL"]+"/admin/login/") {
		t.Fatalf("the admin sign-in link %q is not under %s/admin/login/", adminLink, dev.vars["GATEHOUSE_URL"])
	}
	dev.startApp(t, filepath.Join(root, "examples", "express"), nil, node, "server.js")
	// Only this test's directory: the other e2e tests own testout/e2e.
	outDir := filepath.Join(root, "testout", "e2e", "dashboard")
	dev.runFlow(t, node, browserFlow{
		script: "dashboard.mjs",
		name:   "the dashboard flow",
		outDir: outDir,
		hint:   "the FAIL lines above name each broken expectation; screenshots in",
		env:    []string{"ADMIN_LINK=" + adminLink},
	})
	t.Logf("screenshots of the dashboard's pages are in %s", outDir)
}
