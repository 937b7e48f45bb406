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

// Under a steady stream of writes a round never finds the whole log
// copied when it ends (the committer appended more meanwhile), and SQLite
// starts the log over only from a write that finds it all copied: so the
// log grows to walLimitPages, where the writer's own checkpoint catches
// up, and the next write starts it over (docs/performance-history.md,
// twenty-ninth session). LogFrames tells where in that cycle the log is.

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
		// The result is (busy, frames in the log, frames copied back); busy
		// (1, -1, -1) while another connection checkpoints.
		var busy, frames, copied int64
		err := db.checkpointer.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
		if err == nil && busy == 0 {
			seen = commits
			db.logFrames.Store(frames)
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

// LogFrames returns how many frames (pages) the write-ahead log held at
// the last checkpoint round, for the server's metrics: 0 before the first.
// A log that keeps growing past walLimitPages is one the checkpoints
// cannot copy back (a read holding an old snapshot, say).
func (db *DB) LogFrames() int64 { return db.logFrames.Load() }
