package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

const startHint = "Run `go run ./cmd/gatehouse dev` from the repository root first: it writes " +
	"GATEHOUSE_URL, WORKOS_API_KEY, WORKOS_CLIENT_ID and WORKOS_COOKIE_PASSWORD to .gatehouse/dev.env."

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "examples/go: %v\n%s\n", err, startHint)
		os.Exit(1)
	}
}

// run loads the settings, then serves the app until ctx ends.
func run(ctx context.Context, getenv func(string) string, logOut io.Writer) error {
	logger := slog.New(slog.NewTextHandler(logOut, nil))
	path, explicit, err := findDotenv(getenv)
	if err != nil {
		return err
	}
	file, err := readDotenv(path, explicit)
	if err != nil {
		return err
	}
	source := path
	if source == "" {
		source = "no env file (no .gatehouse/dev.env here or in a parent directory; set DOTENV_PATH)"
	}
	cfg, err := loadConfig(getenv, file, source)
	if err != nil {
		return err
	}
	a, err := newApp(cfg, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", cfg.ListenAddr, err)
	}
	srv := &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info(fmt.Sprintf("Go example listening on %s (Gatehouse at %s, client %s)", cfg.AppURL, cfg.GatehouseURL, cfg.ClientID),
		"addr", ln.Addr().String(), "env_file", path)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
