package main

import (
	"os"

	"github.com/gatehouse/gatehouse/internal/secretbox"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// admin runs one admin command against db and returns its output.
func admin(t *testing.T, db string, args ...string) (string, error) {
	t.Helper()
	var out syncBuffer
	err := run(t.Context(), append(args, "--database-url", db), env(nil), &out, &out)
	return out.String(), err
}

func mustAdmin(t *testing.T, db string, args ...string) string {
	t.Helper()
	out, err := admin(t, db, args...)
	if err != nil {
		t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestAdminCommands(t *testing.T) {
	db := "sqlite://" + filepath.Join(t.TempDir(), "g.db")
	out := mustAdmin(t, db, "migrate", "status")
	if !strings.Contains(out, "pending") {
		t.Errorf("status before migrating:\n%s", out)
	}
	out = mustAdmin(t, db, "migrate", "up")
	if !strings.Contains(out, "applied 0001") {
		t.Errorf("migrate up:\n%s", out)
	}
	if out := mustAdmin(t, db, "migrate", "status"); strings.Contains(out, "pending") {
		t.Errorf("status after migrating:\n%s", out)
	}
	if _, err := admin(t, db, "api-keys", "list"); err == nil || !strings.Contains(describe(err), "no environments") {
		t.Fatalf("api-keys with no environment: %v", err)
	}

	out = mustAdmin(t, db, "environments", "create", "--name", "Acme production", "--type", "production")
	envID := regexp.MustCompile(`environment_\w+`).FindString(out)
	mustAdmin(t, db, "environments", "create", "--name", "Acme dev")
	if out := mustAdmin(t, db, "environments", "list"); !strings.Contains(out, "Acme production") || !strings.Contains(out, "Acme dev") {
		t.Errorf("list:\n%s", out)
	}
	if _, err := admin(t, db, "environments", "create", "--name", "x", "--type", "staging"); err == nil {
		t.Error("created an environment of unknown type")
	}
	// With two environments, --env is required.
	if _, err := admin(t, db, "api-keys", "list"); err == nil || !strings.Contains(err.Error(), "--env") {
		t.Fatalf("ambiguous environment: %v", err)
	}

	// API keys: created once, listed by prefix, revoked.
	out = mustAdmin(t, db, "api-keys", "create", "--env", envID, "--name", "backend")
	secret := regexp.MustCompile(`sk_live_[\w-]+`).FindString(out)
	if secret == "" || !strings.Contains(out, "shown once") {
		t.Fatalf("create key:\n%s", out)
	}
	keyID := regexp.MustCompile(`key_\w+`).FindString(out)
	list := mustAdmin(t, db, "api-keys", "list", "--env", envID)
	if strings.Contains(list, secret) || !strings.Contains(list, secret[:12]) {
		t.Errorf("list shows the secret or not the prefix:\n%s", list)
	}
	mustAdmin(t, db, "api-keys", "revoke", keyID, "--env", envID)
	if list := mustAdmin(t, db, "api-keys", "list", "--env", envID); !strings.Contains(list, "revoked") {
		t.Errorf("after revoke:\n%s", list)
	}
	if _, err := admin(t, db, "api-keys", "revoke", "key_nope", "--env", envID); err == nil {
		t.Error("revoked a missing key")
	}

	// Redirect URIs in production: rules enforced with the rule named.
	for _, bad := range []struct{ uri, want string }{
		{"http://app.example.com/callback", "http"},
		{"https://localhost/callback", "localhost"},
		{"https://*.com/callback", "public suffix"},
		{"https://a.*.example.com/cb", "left-most"},
	} {
		_, err := admin(t, db, "redirect-uris", "add", bad.uri, "--env", envID)
		if err == nil || !strings.Contains(strings.ToLower(describe(err)), bad.want) {
			t.Errorf("add %s: %v (want a message about %q)", bad.uri, err, bad.want)
		}
	}
	if _, err := admin(t, db, "redirect-uris", "add", "https://*.example.com/callback", "--default", "--env", envID); err == nil || !strings.Contains(describe(err), "default") {
		t.Errorf("wildcard default: %v", err)
	}
	mustAdmin(t, db, "redirect-uris", "add", "https://*.example.com/callback", "--env", envID)
	mustAdmin(t, db, "redirect-uris", "add", "https://app.example.com/callback", "--env", envID)
	mustAdmin(t, db, "redirect-uris", "add", "https://app.example.com/other", "--env", envID, "--default")
	out = mustAdmin(t, db, "redirect-uris", "list", "--env", envID)
	if !strings.Contains(out, "* https://app.example.com/other") || !strings.Contains(out, "  https://*.example.com/callback") {
		t.Errorf("list:\n%s", out)
	}
	if _, err := admin(t, db, "redirect-uris", "set-default", "https://*.example.com/callback", "--env", envID); err == nil {
		t.Error("a wildcard became the default")
	}
	mustAdmin(t, db, "redirect-uris", "set-default", "https://app.example.com/callback", "--env", envID)
	mustAdmin(t, db, "redirect-uris", "remove", "https://app.example.com/other", "--env", envID)
	if _, err := admin(t, db, "redirect-uris", "add", "https://app.example.com/callback", "--env", envID); err == nil || !strings.Contains(describe(err), "already registered") {
		t.Errorf("duplicate: %v", err)
	}

	mustAdmin(t, db, "sign-out-redirects", "add", "https://app.example.com/", "--env", envID)
	if out := mustAdmin(t, db, "sign-out-redirects", "list", "--env", envID); !strings.Contains(out, "* https://app.example.com/") {
		t.Errorf("sign-out list:\n%s", out)
	}
	mustAdmin(t, db, "sign-in-endpoint", "set", "https://app.example.com/login", "--env", envID)
	if out := mustAdmin(t, db, "sign-in-endpoint", "show", "--env", envID); strings.TrimSpace(out) != "https://app.example.com/login" {
		t.Errorf("sign-in endpoint = %q", out)
	}
	if _, err := admin(t, db, "sign-in-endpoint", "set", "http://app.example.com/login", "--env", envID); err == nil {
		t.Error("http sign-in endpoint accepted in production")
	}
	mustAdmin(t, db, "cors-origins", "set", "https://app.example.com", "https://APP.example.com", "https://admin.example.com", "--env", envID)
	if out := mustAdmin(t, db, "cors-origins", "list", "--env", envID); out != "https://app.example.com\nhttps://admin.example.com\n" {
		t.Errorf("cors origins = %q", out)
	}
	if _, err := admin(t, db, "cors-origins", "set", "https://app.example.com/path", "--env", envID); err == nil {
		t.Error("an origin with a path was accepted")
	}
}

func TestRevokedKeyRefusedByServer(t *testing.T) {
	dir := t.TempDir()
	vars, _, stop := startDev(t, dir)
	defer stop()
	db := "sqlite://" + filepath.Join(dir, ".gatehouse", "gatehouse.db")
	out := mustAdmin(t, db, "api-keys", "create", "--name", "temp")
	secret := regexp.MustCompile(`sk_test_[\w-]+`).FindString(out)
	keyID := regexp.MustCompile(`key_\w+`).FindString(out)
	if res := get(t, vars["GATEHOUSE_URL"]+"/user_management/users", secret); res.StatusCode != http.StatusOK {
		t.Fatalf("new key: %d", res.StatusCode)
	}
	mustAdmin(t, db, "api-keys", "revoke", keyID)
	if res := get(t, vars["GATEHOUSE_URL"]+"/user_management/users", secret); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("revoked key: %d", res.StatusCode)
	}
}

func TestKeysRotateCommand(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "g.db")
	mustAdmin(t, db, "environments", "create", "--name", "Keys", "--signing-algorithm", "ES256")
	if _, err := admin(t, db, "keys", "rotate"); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_SECRET_KEY") {
		t.Fatalf("rotate without the master key: %v", err)
	}
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte(secretbox.GenerateKey()), 0o600)
	out := mustAdmin(t, db, "keys", "rotate", "--secret-key-file", keyFile)
	if !strings.Contains(out, "ES256 key") {
		t.Fatalf("rotate:\n%s", out)
	}
	mustAdmin(t, db, "keys", "rotate", "--secret-key-file", keyFile, "--publish-ahead", "1m")
	list := mustAdmin(t, db, "keys", "list")
	if n := strings.Count(list, "ES256"); n != 2 || strings.Count(list, "Z\n") != 1 {
		t.Fatalf("keys list:\n%s", list)
	}
	other := filepath.Join(dir, "other")
	os.WriteFile(other, []byte(secretbox.GenerateKey()), 0o600)
	if _, err := admin(t, db, "keys", "rotate", "--secret-key-file", other); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("rotate with another master key: %v", err)
	}
}
