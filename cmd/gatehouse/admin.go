package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/internal/environments"
	"github.com/gatehouse/gatehouse/internal/secretbox"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/backends"
	"github.com/gatehouse/gatehouse/internal/tokens"
)

const devDatabasePath = ".gatehouse/gatehouse.db"

// adminDatabaseURL returns the database the admin commands use: the flag or
// GATEHOUSE_DATABASE_URL, else the dev database if it exists.
func adminDatabaseURL(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if _, err := os.Stat(devDatabasePath); err == nil {
		return "sqlite://" + devDatabasePath, nil
	}
	return "", errors.New("no database: set GATEHOUSE_DATABASE_URL or --database-url (or run gatehouse dev once to create ./.gatehouse)")
}

// adminBox returns the master-key box for commands that touch sealed
// secrets. Without an explicit key, the dev database's own key is used.
func adminBox(key, keyFile, databaseURL string) (*secretbox.Box, error) {
	switch {
	case key != "":
	case keyFile != "":
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("read the secret key file: %w", err)
		}
		key = string(b)
	case databaseURL == "sqlite://"+devDatabasePath:
		b, err := os.ReadFile(filepath.Join(filepath.Dir(devDatabasePath), "secret.key"))
		if err != nil {
			return nil, fmt.Errorf("read the dev secret key: %w", err)
		}
		key = string(b)
	default:
		return nil, errors.New("this command needs the master key: set GATEHOUSE_SECRET_KEY or GATEHOUSE_SECRET_KEY_FILE")
	}
	k, err := secretbox.ParseKey(key)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return secretbox.New(k)
}

// parseArgs parses flags that may come before, between or after the
// positional arguments, and returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

type adminCmd struct {
	svc    *environments.Service
	st     store.Store
	stdout io.Writer
}

// resolve picks the environment named by ref, or the only one there is.
func (a *adminCmd) resolve(ctx context.Context, ref string) (*store.Environment, error) {
	if ref != "" {
		return a.svc.Resolve(ctx, ref)
	}
	envs, err := a.st.ListEnvironments(ctx)
	if err != nil {
		return nil, err
	}
	switch len(envs) {
	case 0:
		return nil, errors.New("there are no environments yet; create one with gatehouse environments create --name NAME")
	case 1:
		return &envs[0], nil
	}
	var b strings.Builder
	for _, e := range envs {
		fmt.Fprintf(&b, "\n  %s  %s  %q", e.ID, e.ClientID, e.Name)
	}
	return nil, fmt.Errorf("there are %d environments; choose one with --env ID or --env CLIENT_ID:%s", len(envs), b.String())
}

var adminUsage = map[string]string{
	"environments":       "environments create --name NAME [--type development|production]\n  environments list\n  environments show\n  environments update [--name NAME] [--access-token-ttl 5m] [--session-lifetime 720h] [--session-idle-timeout 168h] [--signing-algorithm RS256|ES256]",
	"api-keys":           "api-keys create [--name NAME]   (the secret is shown once)\n  api-keys list\n  api-keys revoke KEY_ID",
	"redirect-uris":      "redirect-uris add URI [--default]\n  redirect-uris list\n  redirect-uris remove URI\n  redirect-uris set-default URI",
	"sign-out-redirects": "sign-out-redirects add URI [--default]\n  sign-out-redirects list\n  sign-out-redirects remove URI\n  sign-out-redirects set-default URI",
	"sign-in-endpoint":   "sign-in-endpoint show\n  sign-in-endpoint set URL\n  sign-in-endpoint clear",
	"cors-origins":       "cors-origins list\n  cors-origins set ORIGIN...   (replaces the list; no origins clears it)",
	"keys":               "keys list\n  keys rotate [--publish-ahead 10m]   (needs the master key: GATEHOUSE_SECRET_KEY or _FILE)",
}

func runAdmin(ctx context.Context, cmd string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("database-url", getenv("GATEHOUSE_DATABASE_URL"), "database URL (env GATEHOUSE_DATABASE_URL; default: the dev database in ./.gatehouse)")
	envRef := fs.String("env", getenv("GATEHOUSE_ENVIRONMENT"), "environment ID or client ID (env GATEHOUSE_ENVIRONMENT; optional when there is only one)")
	name := fs.String("name", "", "name (environments create, api-keys create)")
	typ := fs.String("type", "development", "environment type: development or production (environments create)")
	makeDefault := fs.Bool("default", false, "make the added URI the default")
	accessTTL := fs.Duration("access-token-ttl", 0, "access-token (JWT) lifetime, e.g. 5m (environments update)")
	sessionLifetime := fs.Duration("session-lifetime", 0, "absolute session lifetime, e.g. 720h (environments update)")
	sessionIdle := fs.Duration("session-idle-timeout", 0, "session inactivity timeout, e.g. 168h (environments update)")
	signingAlg := fs.String("signing-algorithm", "", "RS256 or ES256; takes effect at the next key rotation (environments update)")
	publishAhead := fs.Duration("publish-ahead", tokens.DefaultPublishAhead, "how long a new key is published before it signs (keys rotate); SDKs cache the JWKS for 10 minutes")
	secretKeyFile := fs.String("secret-key-file", getenv("GATEHOUSE_SECRET_KEY_FILE"), "file holding the master key (keys rotate; env GATEHOUSE_SECRET_KEY or GATEHOUSE_SECRET_KEY_FILE)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage:\n  gatehouse %s\n\nFlags:\n", strings.ReplaceAll(adminUsage[cmd], "\n  ", "\n  gatehouse "))
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return errUsage
	}
	url, err := adminDatabaseURL(*dbURL)
	if err != nil {
		return err
	}
	st, err := backends.Open(ctx, url)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}
	a := &adminCmd{svc: &environments.Service{Store: st}, st: st, stdout: stdout}
	verb, rest := pos[0], pos[1:]
	wantArgs := func(n int, what string) error {
		if len(rest) != n {
			return fmt.Errorf("%s %s needs %s; see gatehouse %s --help", cmd, verb, what, cmd)
		}
		return nil
	}

	var settings environments.SettingsInput
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "name":
			settings.Name = name
		case "access-token-ttl":
			settings.AccessTokenTTL = accessTTL
		case "session-lifetime":
			settings.SessionLifetime = sessionLifetime
		case "session-idle-timeout":
			settings.SessionIdleTimeout = sessionIdle
		case "signing-algorithm":
			settings.SigningAlgorithm = signingAlg
		}
	})
	if cmd == "environments" {
		switch verb {
		case "create":
			env, err := a.svc.Create(ctx, *name, store.EnvironmentType(*typ))
			if err != nil {
				return err
			}
			settings.Name = nil
			if env, err = a.svc.UpdateSettings(ctx, env, settings); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "created environment %q (%s)\n  id         %s\n  client id  %s\n", env.Name, env.Type, env.ID, env.ClientID)
			fmt.Fprintf(stdout, "next: gatehouse api-keys create --env %s\n", env.ID)
			return nil
		case "list":
			envs, err := st.ListEnvironments(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCLIENT ID\tTYPE\tNAME")
			for _, e := range envs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.ID, e.ClientID, e.Type, e.Name)
			}
			return tw.Flush()
		}
	}

	env, err := a.resolve(ctx, *envRef)
	if err != nil {
		return err
	}
	switch cmd + " " + verb {
	case "environments show":
		printEnvironment(stdout, env)
		return nil
	case "environments update":
		env, err := a.svc.UpdateSettings(ctx, env, settings)
		if err != nil {
			return err
		}
		printEnvironment(stdout, env)
		return nil
	case "api-keys create":
		secret, key, err := a.svc.CreateAPIKey(ctx, env, *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created API key %s (%s) for %q\n\n  %s\n\nThis secret is shown once and stored only as a hash. Copy it now.\n", key.ID, key.Name, env.Name, secret)
		return nil
	case "api-keys list":
		keys, err := st.ListAPIKeys(ctx, env.ID)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tCREATED\tLAST USED\tSTATUS")
		for _, k := range keys {
			used, status := "never", "active"
			if k.LastUsedAt != nil {
				used = k.LastUsedAt.Format("2006-01-02 15:04Z")
			}
			if k.RevokedAt != nil {
				status = "revoked " + k.RevokedAt.Format("2006-01-02 15:04Z")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s…\t%s\t%s\t%s\n", k.ID, k.Name, k.Prefix, k.CreatedAt.Format("2006-01-02 15:04Z"), used, status)
		}
		return tw.Flush()
	case "api-keys revoke":
		if err := wantArgs(1, "a key ID"); err != nil {
			return err
		}
		if err := a.svc.RevokeAPIKey(ctx, env, rest[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s; requests with it now get 401\n", rest[0])
		return nil
	case "sign-in-endpoint show":
		if env.SignInEndpoint == "" {
			fmt.Fprintln(stdout, "(not set)")
		} else {
			fmt.Fprintln(stdout, env.SignInEndpoint)
		}
		return nil
	case "sign-in-endpoint set":
		if err := wantArgs(1, "a URL"); err != nil {
			return err
		}
		env, err := a.svc.SetSignInEndpoint(ctx, env, rest[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "sign-in endpoint is now %s\n", env.SignInEndpoint)
		return nil
	case "sign-in-endpoint clear":
		if _, err := a.svc.SetSignInEndpoint(ctx, env, ""); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "sign-in endpoint cleared")
		return nil
	case "keys list":
		keys, err := st.ListSigningKeys(ctx, env.ID, time.Now())
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KID\tALG\tCREATED\tSIGNS FROM\tPUBLISHED UNTIL")
		for _, k := range keys {
			until := "-"
			if k.ExpiresAt != nil {
				until = k.ExpiresAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.CreatedAt.Format(time.RFC3339), k.ActivatesAt.Format(time.RFC3339), until)
		}
		return tw.Flush()
	case "keys rotate":
		box, err := adminBox(getenv("GATEHOUSE_SECRET_KEY"), *secretKeyFile, url)
		if err != nil {
			return err
		}
		if err := box.Verify(ctx, st); err != nil {
			return err
		}
		ring := &tokens.Keyring{Store: st, Box: box}
		k, err := ring.Rotate(ctx, env, *publishAhead)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new %s key %s is published now and signs from %s;\nthe previous keys stay published until the tokens they signed have expired\n",
			k.Algorithm, k.ID, k.ActivatesAt.Format(time.RFC3339))
		return nil
	case "cors-origins list":
		for _, o := range env.CORSOrigins {
			fmt.Fprintln(stdout, o)
		}
		return nil
	case "cors-origins set":
		env, err := a.svc.SetCORSOrigins(ctx, env, rest)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d CORS origin(s) set\n", len(env.CORSOrigins))
		return nil
	}
	kind := store.RedirectURI
	if cmd == "sign-out-redirects" {
		kind = store.SignOutRedirect
	}
	if cmd == "redirect-uris" || cmd == "sign-out-redirects" {
		switch verb {
		case "add":
			if err := wantArgs(1, "a URI"); err != nil {
				return err
			}
			r, err := a.svc.AddRedirect(ctx, env, kind, rest[0], *makeDefault)
			if err != nil {
				return err
			}
			def := ""
			if r.Default {
				def = " (default)"
			}
			fmt.Fprintf(stdout, "added %s%s\n", r.URI, def)
			return nil
		case "list":
			rs, err := st.ListRedirects(ctx, env.ID, kind)
			if err != nil {
				return err
			}
			for _, r := range rs {
				mark := " "
				if r.Default {
					mark = "*"
				}
				fmt.Fprintf(stdout, "%s %s\n", mark, r.URI)
			}
			if len(rs) > 0 {
				fmt.Fprintln(stdout, "(* = default)")
			}
			return nil
		case "remove":
			if err := wantArgs(1, "a URI"); err != nil {
				return err
			}
			if err := a.svc.RemoveRedirect(ctx, env, kind, rest[0]); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "removed %s\n", rest[0])
			return nil
		case "set-default":
			if err := wantArgs(1, "a URI"); err != nil {
				return err
			}
			if err := a.svc.SetDefaultRedirect(ctx, env, kind, rest[0]); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s is now the default\n", rest[0])
			return nil
		}
	}
	fs.Usage()
	return errUsage
}

func printEnvironment(w io.Writer, e *store.Environment) {
	d := e.WithDefaults()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id\t%s\nclient id\t%s\nname\t%s\ntype\t%s\n", e.ID, e.ClientID, e.Name, e.Type)
	fmt.Fprintf(tw, "access-token lifetime\t%s\nsession lifetime\t%s\nsession idle timeout\t%s\nsigning algorithm\t%s\n",
		d.AccessTokenTTL, d.SessionLifetime, d.SessionIdleTimeout, d.SigningAlgorithm)
	fmt.Fprintf(tw, "sign-in endpoint\t%s\ncors origins\t%s\n", e.SignInEndpoint, strings.Join(e.CORSOrigins, " "))
	tw.Flush()
}
