package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/internal/adminauth"
	"github.com/gatehouse/gatehouse/internal/store/backends"
)

const adminAccountsUsage = `Usage:
  gatehouse admin create --email EMAIL     add a dashboard admin; prints a one-time set-up link (24 h)
  gatehouse admin link --email EMAIL       print a new set-up link (choose or reset the password)
  gatehouse admin link --email EMAIL --sign-in
                                           print a one-time sign-in link instead (15 min)
  gatehouse admin list                     list admins

Admins sign in to the dashboard at PUBLIC_URL/admin/. They have no default
password: each chooses one through a set-up link. Links are printed here,
never sent anywhere; pass them to the admin over a channel you trust.

Flags:
`

// runAdminAccounts manages dashboard admins, working directly on the
// database like the other admin commands.
func runAdminAccounts(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("admin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("database-url", getenv("GATEHOUSE_DATABASE_URL"), "database URL (env GATEHOUSE_DATABASE_URL; default: the dev database in ./.gatehouse)")
	publicURL := fs.String("public-url", getenv("GATEHOUSE_PUBLIC_URL"), "the server's public URL, which links start with (env GATEHOUSE_PUBLIC_URL; default for the dev database: http://127.0.0.1:8080)")
	email := fs.String("email", "", "the admin's email address")
	signIn := fs.Bool("sign-in", false, "link: print a one-time sign-in link rather than a set-up link")
	fs.Usage = func() {
		fmt.Fprint(stderr, adminAccountsUsage)
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || (pos[0] != "list" && *email == "") {
		fs.Usage()
		return errUsage
	}
	dbu, err := adminDatabaseURL(*dbURL)
	if err != nil {
		return err
	}
	base := strings.TrimRight(*publicURL, "/")
	if base == "" && dbu == "sqlite://"+devDatabasePath {
		base = "http://127.0.0.1:8080"
	}
	st, err := backends.Open(ctx, dbu)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}
	svc := &adminauth.Service{Store: st, BaseURL: base}
	needBase := func() error {
		u, err := url.Parse(base)
		if base == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("links need the server's public URL: set GATEHOUSE_PUBLIC_URL or --public-url, e.g. https://auth.example.com")
		}
		return nil
	}

	switch pos[0] {
	case "list":
		admins, err := st.ListAdmins(ctx)
		if err != nil {
			return err
		}
		if len(admins) == 0 {
			fmt.Fprintln(stdout, "no admins yet; add one with gatehouse admin create --email EMAIL")
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tPASSWORD\tTOTP\tCREATED\tLAST SIGN-IN")
		for _, a := range admins {
			pw, totp, last := "not set", "off", "never"
			if a.PasswordHash != "" {
				pw = "set"
			}
			if a.TOTPSecret != "" {
				totp = "on"
			}
			if a.LastSignInAt != nil {
				last = a.LastSignInAt.Format("2006-01-02 15:04Z")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Email, pw, totp, a.CreatedAt.Format("2006-01-02 15:04Z"), last)
		}
		return tw.Flush()
	case "create":
		if err := needBase(); err != nil {
			return err
		}
		a, err := svc.Create(ctx, *email)
		if err != nil {
			return err
		}
		svc.Record(ctx, adminauth.Audit{Type: adminauth.EventCreated, ActorType: "system", TargetID: a.ID,
			Data: map[string]string{"email": a.Email, "by": "gatehouse admin create"}})
		link, err := svc.IssueSetupLink(ctx, a.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created admin %s (%s)\n\nSet-up link (works once, for %s):\n\n  %s\n\nOpen it to choose a password, then sign in at %s/admin/.\n",
			a.Email, a.ID, durationText(adminauth.SetupLinkTTL), link, base)
		return nil
	case "link":
		if err := needBase(); err != nil {
			return err
		}
		a, err := svc.GetByEmail(ctx, *email)
		if err != nil {
			return err
		}
		issue, what, ttl := svc.IssueSetupLink, "Set-up link (choose a new password)", adminauth.SetupLinkTTL
		if *signIn {
			issue, what, ttl = svc.IssueSignInLink, "Sign-in link", adminauth.SignInLinkTTL
		}
		link, err := issue(ctx, a.ID)
		if err != nil {
			return err
		}
		purpose := "setup"
		if *signIn {
			purpose = "sign_in"
		}
		svc.Record(ctx, adminauth.Audit{Type: adminauth.EventLinkIssued, ActorType: "system", TargetID: a.ID,
			Data: map[string]string{"email": a.Email, "purpose": purpose}})
		fmt.Fprintf(stdout, "%s for %s (works once, for %s):\n\n  %s\n", what, a.Email, durationText(ttl), link)
		return nil
	}
	fs.Usage()
	return errUsage
}

func durationText(d time.Duration) string {
	h := d.Hours()
	if h >= 1 {
		return fmt.Sprintf("%g hours", h)
	}
	return fmt.Sprintf("%g minutes", h*60)
}
