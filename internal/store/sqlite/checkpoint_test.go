package sqlite

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The log is copied into the database file by the checkpoint goroutine,
// without any commit doing it: the writes below stay under the writer's
// own threshold, so only the goroutine can have moved them.
func TestCheckpointInBackground(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "c.db")
	db := openTable(t, path, commitDelay)
	var limit int
	if err := db.writer.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&limit); err != nil || limit != walLimitPages {
		t.Fatalf("writer's checkpoint threshold = %d, %v; want %d", limit, err, walLimitPages)
	}
	// ~2,000 pages of 4 KiB, a fifth of walLimitPages, in 20 commits.
	const rows, size = 2000, 3500
	for batch := range 20 {
		if err := writePages(ctx, db, batch*rows/20, rows/20); err != nil {
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
	db := openTable(t, path, commitDelay)
	if n := db.LogFrames(); n != 0 {
		t.Fatalf("LogFrames = %d before any checkpoint; want 0", n)
	}
	const rows = 300 // a page each
	if err := writePages(ctx, db, 0, rows); err != nil {
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
