package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"crypto/rand"
	"encoding/base64"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/environments"
	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storecache"
)

// devCredentials are what an app needs to talk to the dev server. They are
// kept (the secrets sealed with the dev master key) so a restart prints the
// same values.
type devCredentials struct {
	EnvironmentID  string
	ClientID       string
	APIKey         string
	CookiePassword string
}

const (
	settingDevEnvironment    = "dev_environment_id"
	settingDevAPIKey         = "dev_api_key"
	settingDevCookiePassword = "dev_cookie_password"
)

func runDev(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	dataDir := fs.String("data", ".gatehouse", "directory for the SQLite database and the dev master key")
	appURL := fs.String("app-url", "http://localhost:3000", "your app's URL; the redirect URI, sign-in endpoint and sign-out redirect derive from it on first start")
	envFile := fs.String("env-file", "", "dotenv file to write GATEHOUSE_URL, WORKOS_API_KEY, WORKOS_CLIENT_ID and WORKOS_COOKIE_PASSWORD to (default DATA/dev.env)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: gatehouse dev [flags]\n\nRuns a local Gatehouse with no set-up: an embedded SQLite database in --data, a\ndevelopment environment, and an API key, all kept across restarts.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	if *envFile == "" {
		*envFile = filepath.Join(*dataDir, "dev.env")
	}
	app, err := url.Parse(strings.TrimRight(*appURL, "/"))
	if err != nil || (app.Scheme != "http" && app.Scheme != "https") || app.Host == "" {
		return fmt.Errorf("--app-url %q must be an http(s) URL like http://localhost:3000", *appURL)
	}
	logger := newLogger(stderr, *logLevel, "text")

	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", *dataDir, err)
	}
	key, err := devSecretKey(filepath.Join(*dataDir, "secret.key"))
	if err != nil {
		return err
	}
	st, box, err := openStore(ctx, "sqlite://"+filepath.Join(*dataDir, "gatehouse.db"), key, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	ln, err := listen(*addr)
	if err != nil {
		return err
	}
	base := "http://" + displayHost(*addr, ln.Addr())
	srv := server.New(server.Deps{Store: storecache.New(st, config.Defaults().CacheTTL), Box: box, Logger: logger, BaseURL: base, DevInbox: true})
	creds, created, err := devEnvironment(ctx, st, srv.Environments, box, app.String())
	if err != nil {
		ln.Close()
		return fmt.Errorf("set up the development environment: %w", err)
	}
	adminLink, err := devAdminLink(ctx, srv)
	if err != nil {
		ln.Close()
		return fmt.Errorf("set up the local admin: %w", err)
	}
	{
		if err := writeEnvFile(*envFile, [][2]string{
			{"GATEHOUSE_URL", base}, {"WORKOS_API_KEY", creds.APIKey},
			{"WORKOS_CLIENT_ID", creds.ClientID}, {"WORKOS_COOKIE_PASSWORD", creds.CookiePassword},
		}); err != nil {
			logger.Error("could not write the env file", "path", *envFile, "err", err)
		}
		status := "reusing the development environment in " + *dataDir
		if created {
			status = "created a development environment in " + *dataDir
		}
		printBox(stdout, "Gatehouse dev server: "+status, [][2]string{
			{"URL", base},
			{"Client ID", creds.ClientID},
			{"API key", creds.APIKey},
			{"Cookie password", creds.CookiePassword},
			{"Redirect URI", app.String() + "/callback"},
			{"Dev inbox", base + "/_dev/inbox"},
			{"Env file", *envFile},
			{"Admin sign-in", adminLink},
		})
	}
	return serveWithJanitor(ctx, ln, srv, st, logger, 5*time.Second, retentionOf(config.Defaults()))
}

// devAdminLink makes sure the dev server has an admin (admin@localhost,
// created on first start) and returns a fresh one-time sign-in link for
// the dashboard; each start prints a new one.
func devAdminLink(ctx context.Context, srv *server.Server) (string, error) {
	a, _, err := srv.Admin.EnsureDevAdmin(ctx)
	if err != nil {
		return "", err
	}
	return srv.Admin.IssueSignInLink(ctx, a.ID)
}

// displayHost turns the bound address into a host:port browsers and SDKs
// can use (127.0.0.1, not a wildcard address, which some clients resolve to
// IPv6 first).
func displayHost(requested string, bound net.Addr) string {
	host, _, _ := net.SplitHostPort(requested)
	_, port, _ := net.SplitHostPort(bound.String())
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// devSecretKey reads the dev master key, creating it on first start.
func devSecretKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read dev secret key: %w", err)
	}
	key := secretbox.GenerateKey()
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write dev secret key: %w", err)
	}
	return key, nil
}

// devEnvironment returns the dev environment's credentials, creating the
// environment, key and redirect settings on first start.
func devEnvironment(ctx context.Context, st store.Store, svc *environments.Service, box *secretbox.Box, appURL string) (devCredentials, bool, error) {
	open := func(setting string) (string, error) {
		sealed, err := st.GetSetting(ctx, setting)
		if err != nil {
			return "", err
		}
		v, err := box.Open(sealed, []byte(setting))
		return string(v), err
	}
	if envID, err := st.GetSetting(ctx, settingDevEnvironment); err == nil {
		env, err := st.GetEnvironment(ctx, envID)
		if err != nil {
			return devCredentials{}, false, err
		}
		apiKey, err := open(settingDevAPIKey)
		if err != nil {
			return devCredentials{}, false, err
		}
		cookie, err := open(settingDevCookiePassword)
		if err != nil {
			return devCredentials{}, false, err
		}
		return devCredentials{env.ID, env.ClientID, apiKey, cookie}, false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return devCredentials{}, false, err
	}

	env, err := svc.Create(ctx, "Development", store.Development)
	if err != nil {
		return devCredentials{}, false, err
	}
	secret, _, err := svc.CreateAPIKey(ctx, env, "dev")
	if err != nil {
		return devCredentials{}, false, err
	}
	if _, err := svc.AddRedirect(ctx, env, store.RedirectURI, appURL+"/callback", true); err != nil {
		return devCredentials{}, false, err
	}
	if _, err := svc.AddRedirect(ctx, env, store.SignOutRedirect, appURL+"/", true); err != nil {
		return devCredentials{}, false, err
	}
	if _, err := svc.SetSignInEndpoint(ctx, env, appURL+"/login"); err != nil {
		return devCredentials{}, false, err
	}
	pw := make([]byte, 32)
	rand.Read(pw)
	cookie := base64.RawURLEncoding.EncodeToString(pw) // 43 characters
	for setting, v := range map[string]string{settingDevAPIKey: secret, settingDevCookiePassword: cookie} {
		if _, err := st.PutSettingIfAbsent(ctx, setting, box.Seal([]byte(v), []byte(setting))); err != nil {
			return devCredentials{}, false, err
		}
	}
	// Recorded last: a start interrupted before this point starts over.
	if _, err := st.PutSettingIfAbsent(ctx, settingDevEnvironment, env.ID); err != nil {
		return devCredentials{}, false, err
	}
	return devCredentials{env.ID, env.ClientID, secret, cookie}, true, nil
}

// writeEnvFile sets the given keys in a dotenv file, keeping any other
// lines, so it can point at an app's own .env.
func writeEnvFile(path string, kv [][2]string) error {
	var lines []string
	if b, err := os.ReadFile(path); err == nil {
		lines = strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, p := range kv {
		line := p[0] + "=" + p[1]
		found := false
		for i, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), p[0]+"=") {
				lines[i], found = line, true
			}
		}
		if !found {
			lines = append(lines, line)
		}
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// printBox prints a framed table of label/value rows.
func printBox(w io.Writer, title string, rows [][2]string) {
	width := utf8.RuneCountInString(title)
	for _, r := range rows {
		width = max(width, 17+utf8.RuneCountInString(r[1]))
	}
	line := strings.Repeat("─", width+2)
	pad := func(s string) string { return s + strings.Repeat(" ", width-utf8.RuneCountInString(s)) }
	fmt.Fprintf(w, "\n┌%s┐\n│ %s │\n├%s┤\n", line, pad(title), line)
	for _, r := range rows {
		fmt.Fprintf(w, "│ %s │\n", pad(fmt.Sprintf("%-16s %s", r[0], r[1])))
	}
	fmt.Fprintf(w, "└%s┘\n\n", line)
}
