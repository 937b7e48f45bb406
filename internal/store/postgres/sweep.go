package postgres

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/store"
)

// sweepStep deletes up to $2 rows of one kind that are past $1. Rows
// another node is deleting at the same moment are skipped, not waited for.
type sweepStep struct {
	count *int
	sql   string
	now   bool // cut at SweepCutoffs.Now rather than Before
}

// Sweep deletes rows past their use, batch rows per statement; see
// store.Sweeper. Sessions go before refresh tokens, so the tokens of a
// session deleted now go in the same sweep.
func (db *DB) Sweep(ctx context.Context, c store.SweepCutoffs, batch int) (store.Swept, error) {
	var n store.Swept
	steps := []sweepStep{
		{&n.AuthRequests, `DELETE FROM auth_requests WHERE id IN (
			SELECT id FROM auth_requests WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, true},
		{&n.AuthCodes, `DELETE FROM auth_codes WHERE hash IN (
			SELECT hash FROM auth_codes WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, false},
		{&n.Sessions, `DELETE FROM sessions WHERE id IN (
			SELECT id FROM sessions WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, false},
		{&n.RefreshTokens, `DELETE FROM refresh_tokens WHERE hash IN (
			SELECT t.hash FROM refresh_tokens t WHERE t.created_at < $1
			AND (t.used_at < $1 OR NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = t.session_id))
			LIMIT $2 FOR UPDATE OF t SKIP LOCKED)`, false},
		{&n.BrowserSessions, `DELETE FROM browser_sessions WHERE id IN (
			SELECT id FROM browser_sessions WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, false},
		{&n.Challenges, `DELETE FROM challenges WHERE id IN (
			SELECT id FROM challenges WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, false},
		{&n.Throttles, `DELETE FROM throttles WHERE key IN (
			SELECT key FROM throttles WHERE last_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, false},
	}
	for _, st := range steps {
		cut := c.Before
		if st.now {
			cut = c.Now
		}
		for {
			tag, err := db.pool.Exec(ctx, st.sql, ts(cut), batch)
			if err != nil {
				return n, mapErr(err)
			}
			*st.count += int(tag.RowsAffected())
			if tag.RowsAffected() < int64(batch) {
				break
			}
		}
	}
	return n, nil
}
