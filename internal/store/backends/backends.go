// Package backends opens a store.Store from a database URL
// (sqlite:///path/file.db or postgres://…), so callers need not import
// every backend themselves.
package backends

import (
	"context"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// Open opens the database a URL names. It does not migrate.
func Open(ctx context.Context, databaseURL string) (store.Store, error) {
	backend, target, err := config.ParseDatabaseURL(databaseURL)
	if err != nil {
		return nil, err
	}
	if backend == "sqlite" {
		path, query, _ := strings.Cut(target, "?")
		q, _ := url.ParseQuery(query)
		return sqlite.Open(ctx, path, sqlite.Options{Synchronous: q.Get("synchronous")})
	}
	return postgres.Open(ctx, target)
}
