package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/gatehouse/gatehouse/internal/store/backends"
)

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("database-url", getenv("GATEHOUSE_DATABASE_URL"), "database URL (env GATEHOUSE_DATABASE_URL; default: the dev database in ./.gatehouse)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: gatehouse migrate up|status [--database-url URL]\n\n")
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || (pos[0] != "up" && pos[0] != "status") {
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
	if pos[0] == "up" {
		before, err := st.Migrations(ctx)
		if err != nil {
			return err
		}
		if err := st.Migrate(ctx); err != nil {
			return err
		}
		n := 0
		for _, m := range before {
			if !m.Applied {
				fmt.Fprintf(stdout, "applied %04d %s\n", m.Version, m.Name)
				n++
			}
		}
		fmt.Fprintf(stdout, "%d migration(s) applied; the %s database is up to date\n", n, st.Backend())
		return nil
	}
	ms, err := st.Migrations(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tSTATUS\tAPPLIED AT")
	for _, m := range ms {
		status, at := "pending", "-"
		if m.Applied {
			status, at = "applied", m.AppliedAt.Format("2006-01-02 15:04:05Z")
		}
		fmt.Fprintf(tw, "%04d\t%s\t%s\t%s\n", m.Version, m.Name, status, at)
	}
	return tw.Flush()
}
