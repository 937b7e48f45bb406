package main

import (
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var adminLinkRE = regexp.MustCompile(`Admin sign-in\s+(http://\S+/admin/login/[A-Za-z0-9_-]+)`)

// waitFor polls the dev server's output for a pattern.
func waitFor(t *testing.T, out *syncBuffer, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("output lacks %s:\n%s", re, out.String())
	return nil
}

func TestDevPrintsAdminSignInLink(t *testing.T) {
	dir := t.TempDir()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	open := func(link string) int {
		res, err := noFollow.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	_, out, stop := startDev(t, dir)
	link := waitFor(t, out, adminLinkRE)[1]
	if got := open(link); got != http.StatusSeeOther {
		t.Fatalf("admin link = %d, want 303", got)
	}
	if got := open(link); got != http.StatusBadRequest {
		t.Fatalf("second use of the admin link = %d, want 400", got)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// A restart prints a fresh link for the same admin.
	_, out, stop = startDev(t, dir)
	again := waitFor(t, out, adminLinkRE)[1]
	if again == link {
		t.Fatal("restart printed the same link")
	}
	if got := open(again); got != http.StatusSeeOther {
		t.Fatalf("new admin link = %d", got)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var list syncBuffer
	db := "sqlite://" + filepath.Join(dir, ".gatehouse", "gatehouse.db")
	if err := run(t.Context(), []string{"admin", "list", "--database-url", db}, env(nil), &list, &list); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(list.String(), "admin@localhost"); n != 1 {
		t.Fatalf("admin list:\n%s", list.String())
	}
}

func TestAdminAccountCommands(t *testing.T) {
	db := "sqlite://" + filepath.Join(t.TempDir(), "g.db")
	adm := func(vars map[string]string, args ...string) (string, error) {
		var out syncBuffer
		err := run(t.Context(), append([]string{"admin"}, args...), env(vars), &out, &out)
		return out.String(), err
	}
	pub := map[string]string{"GATEHOUSE_PUBLIC_URL": "https://auth.example.com/", "GATEHOUSE_DATABASE_URL": db}

	out, err := adm(pub, "list")
	if err != nil || !strings.Contains(out, "no admins yet") {
		t.Fatalf("empty list = %q, %v", out, err)
	}
	// Links need the public URL.
	if _, err := adm(map[string]string{"GATEHOUSE_DATABASE_URL": db}, "create", "--email", "ops@example.com"); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_PUBLIC_URL") {
		t.Fatalf("create without a public URL: %v", err)
	}
	out, err = adm(pub, "create", "--email", "Ops@Example.com")
	if err != nil || !regexp.MustCompile(`https://auth\.example\.com/admin/setup/[A-Za-z0-9_-]{43}\n`).MatchString(out) || !strings.Contains(out, "24 hours") {
		t.Fatalf("create = %q, %v", out, err)
	}
	if _, err := adm(pub, "create", "--email", "ops@example.com"); err == nil || !strings.Contains(describe(err), "already exists") {
		t.Fatalf("duplicate create: %v", err)
	}
	if _, err := adm(pub, "create", "--email", "not-an-email"); err == nil {
		t.Fatal("invalid email accepted")
	}
	out, err = adm(pub, "link", "--email", "ops@example.com", "--public-url", "http://127.0.0.1:9999")
	if err != nil || !strings.Contains(out, "http://127.0.0.1:9999/admin/setup/") {
		t.Fatalf("link = %q, %v", out, err)
	}
	out, err = adm(pub, "link", "--email", "ops@example.com", "--sign-in")
	if err != nil || !strings.Contains(out, "https://auth.example.com/admin/login/") || !strings.Contains(out, "15 minutes") {
		t.Fatalf("sign-in link = %q, %v", out, err)
	}
	if _, err := adm(pub, "link", "--email", "nobody@example.com"); err == nil || !strings.Contains(describe(err), "No admin") {
		t.Fatalf("link for an unknown admin: %v", err)
	}
	out, err = adm(pub, "list")
	if err != nil || !strings.Contains(out, "ops@example.com") || !strings.Contains(out, "not set") {
		t.Fatalf("list = %q, %v", out, err)
	}
	if _, err := adm(pub, "create"); err == nil {
		t.Fatal("create without --email accepted")
	}
}
