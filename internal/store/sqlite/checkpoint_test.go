package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The log is copied into the database file by the checkpoint goroutine,
// without any commit doing it: the writes below stay under the writer's
// own threshold, so only the goroutine can have moved them.
func TestCheckpointInBackground(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var limit int
	if err := db.writer.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&limit); err != nil || limit != walLimitPages {
		t.Fatalf("writer's checkpoint threshold = %d, %v; want %d", limit, err, walLimitPages)
	}
	if _, err := db.writer.ExecContext(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	// ~2,000 pages of 4 KiB, a fifth of walLimitPages, in 20 commits.
	const rows, size = 2000, 3500
	value := strings.Repeat("x", size)
	for batch := range 20 {
		err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			for i := range rows / 20 {
				if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (?, ?)`, batch*rows+i, value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	const want = rows * size // bytes the file holds once the rows are in it
	deadline := time.Now().Add(20 * checkpointEvery)
	for {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() >= want {
			return
		}
		if time.Now().After(deadline) {
			wal, _ := os.Stat(path + "-wal")
			t.Fatalf("database file is %d bytes (log %d) %s after the writes; want at least %d: the log was not checkpointed",
				fi.Size(), wal.Size(), 20*checkpointEvery, want)
		}
		time.Sleep(checkpointEvery / 4)
	}
}

// LogFrames reports the log's length at the last checkpoint round: at
// least the pages just written, and no more than the file holds.
func TestLogFrames(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "f.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n := db.LogFrames(); n != 0 {
		t.Fatalf("LogFrames = %d before any checkpoint; want 0", n)
	}
	if _, err := db.writer.ExecContext(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	const rows = 300 // a page each
	value := strings.Repeat("x", 3500)
	err = db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for i := range rows {
			if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (?, ?)`, i, value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * checkpointEvery)
	for db.LogFrames() < rows {
		if time.Now().After(deadline) {
			t.Fatalf("LogFrames = %d %s after writing %d pages; want at least %d", db.LogFrames(), 20*checkpointEvery, rows, rows)
		}
		time.Sleep(checkpointEvery / 4)
	}
	wal, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	// A 32-byte header, then frames of a 24-byte header and a page.
	if n, most := db.LogFrames(), (wal.Size()-32)/(24+4096); n > most {
		t.Errorf("LogFrames = %d, but the log file holds at most %d frames", n, most)
	}
}
