// Command gatehouse is the Gatehouse server and its admin tool.
//
//	gatehouse dev        zero-set-up local server on an embedded SQLite file
//	gatehouse serve      production server, configured by GATEHOUSE_* variables or flags
//	gatehouse migrate    apply or list database migrations
//	gatehouse keygen     print a new master key for GATEHOUSE_SECRET_KEY
//	gatehouse admin      create, link, list dashboard admins
//	gatehouse environments | api-keys | redirect-uris | sign-out-redirects |
//	          sign-in-endpoint | cors-origins   manage environments
//
// The admin subcommands work directly against the database named by
// GATEHOUSE_DATABASE_URL (or --database-url), defaulting to the dev
// database in ./.gatehouse, so they work before any server runs and need no
// network access; they are safe to run while servers are up.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gatehouse/gatehouse/internal/errs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "gatehouse:", describe(err))
		}
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) || errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

var errUsage = errors.New("usage")

// describe returns what to tell the operator about err: the public message
// of a domain error (which already says what to do), else the whole chain.
func describe(err error) string {
	if e, ok := errs.As(err); ok && e.Kind != errs.Internal {
		return e.Message
	}
	return err.Error()
}

const usage = `Gatehouse: self-hosted authentication, WorkOS-compatible.

Usage: gatehouse <command> [flags]

Servers:
  dev                 run a local development server (embedded SQLite in ./.gatehouse, no set-up)
  serve               run the production server (see gatehouse serve --help)

Database:
  migrate up          apply pending migrations
  migrate status      list migrations and whether each is applied
  keygen              print a new master key for GATEHOUSE_SECRET_KEY

Dashboard admins (work directly on the database):
  admin               create, link, list (the dashboard is at PUBLIC_URL/admin/)

Environments (work directly on the database; see --help of each):
  environments        create, list
  api-keys            create, list, revoke
  redirect-uris       add, list, remove, set-default
  sign-out-redirects  add, list, remove, set-default
  sign-in-endpoint    show, set, clear
  cors-origins        list, set
  keys                list, rotate (JWT signing keys)

Run gatehouse <command> --help for the flags of a command.
`

// run is the whole program, with its inputs and outputs passed in so tests
// can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "dev":
		return runDev(ctx, rest, getenv, stdout, stderr)
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, getenv, stdout, stderr)
	case "keygen":
		return runKeygen(rest, stdout)
	case "admin":
		return runAdminAccounts(ctx, rest, getenv, stdout, stderr)
	case "environments", "api-keys", "redirect-uris", "sign-out-redirects", "sign-in-endpoint", "cors-origins", "keys":
		return runAdmin(ctx, cmd, rest, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
	return errUsage
}
