package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// Checkpoints. In WAL mode SQLite appends commits to the log and, now and
// then, copies the log back into the database file: a checkpoint, which
// flushes both files to disk. By default the connection whose commit
// takes the log past 1,000 pages does it, there and then, and since all
// writes go through one connection every write waits behind it: on a disk
// whose flush takes a few hundred microseconds, that is the slowest
// moment of any write. So a goroutine does it instead, on a connection of
// its own, every checkpointEvery, in PASSIVE mode, which neither waits for
// nor blocks the writer and the readers. The writer still checkpoints when
// the log passes walLimitPages, so the log stays bounded if the goroutine
// falls behind or fails.
const (
	checkpointEvery = 200 * time.Millisecond
	walLimitPages   = 10000 // 40 MB of 4 KiB pages
)

// checkpointLoop checkpoints the log until Close, in the rounds after
// which something was committed (an idle server does no checkpoints). A
// checkpoint that fails (while the writer runs one of its own, say) is
// left for the next round.
func (db *DB) checkpointLoop() {
	defer close(db.checkpointed)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var seen int64
	for {
		select {
		case <-t.C:
		case <-db.stop:
			return
		}
		commits := db.commits.Load()
		if commits == seen {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := db.checkpointer.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err == nil {
			seen = commits
		}
		cancel()
	}
}

// openCheckpointer opens the checkpoint goroutine's connection.
func openCheckpointer(dsn string) (*sql.DB, error) {
	c, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	c.SetMaxOpenConns(1)
	c.SetConnMaxIdleTime(0)
	return c, nil
}
