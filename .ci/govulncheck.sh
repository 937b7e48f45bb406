#!/usr/bin/env bash
# govulncheck with a local vulnerability database. vuln.go.dev cannot be
# reached from CI machines, so the database is built from the
# golang.org/x/vulndb module (served by the Go module proxy) with its own
# indexdb command. Bump the pinned vulndb version to pick up new entries.
set -euo pipefail
cd "$(dirname "$0")/.."
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018
db=/tmp/gatehouse-vulndb
if [ ! -f "$db/index/db.json" ] && [ ! -f "$db/index/db.json.gz" ]; then
  dir=$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  rm -rf "$db"
  (cd "$dir" && GOFLAGS=-mod=mod go run ./cmd/indexdb -vulns data/osv -out "$db")
fi
go run golang.org/x/vuln/cmd/govulncheck@v1.9.0 -db "file://$db" ./...
