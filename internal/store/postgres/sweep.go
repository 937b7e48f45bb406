package postgres

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Sweep deletes rows past their use, batch rows per statement; see
// store.Sweeper. Sessions go before refresh tokens, so the tokens of a
// session deleted now go in the same sweep.
func (db *DB) Sweep(ctx context.Context, c store.SweepCutoffs, batch int) (store.Swept, error) {
	var n store.Swept
	now, before := ts(c.Now), ts(c.Before)
	steps := []store.SweepStep{
		{Count: &n.AuthRequests, SQL: `DELETE FROM auth_requests WHERE id IN (
			SELECT id FROM auth_requests WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, Cut: now},
		{Count: &n.AuthCodes, SQL: `DELETE FROM auth_codes WHERE hash IN (
			SELECT hash FROM auth_codes WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, Cut: before},
		{Count: &n.Sessions, SQL: `DELETE FROM sessions WHERE id IN (
			SELECT id FROM sessions WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, Cut: before},
		{Count: &n.RefreshTokens, SQL: `DELETE FROM refresh_tokens WHERE hash IN (
			SELECT t.hash FROM refresh_tokens t WHERE t.created_at < $1
			AND (t.used_at < $1 OR NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = t.session_id))
			LIMIT $2 FOR UPDATE OF t SKIP LOCKED)`, Cut: before},
		{Count: &n.BrowserSessions, SQL: `DELETE FROM browser_sessions WHERE id IN (
			SELECT id FROM browser_sessions WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, Cut: before},
		{Count: &n.Challenges, SQL: `DELETE FROM challenges WHERE id IN (
			SELECT id FROM challenges WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, Cut: before},
		{Count: &n.Throttles, SQL: `DELETE FROM throttles WHERE key IN (
			SELECT key FROM throttles WHERE last_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, Cut: before},
		{Count: &n.Emails, SQL: `DELETE FROM emails WHERE id IN (
			SELECT id FROM emails WHERE status IN ('sent', 'failed') AND created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, Cut: before},
		{Count: &n.IdempotencyKeys, SQL: `DELETE FROM idempotency_keys WHERE key IN (
			SELECT key FROM idempotency_keys WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, Cut: now},
	}
	if !c.Events.IsZero() {
		steps = append(steps, store.SweepStep{Count: &n.Events, SQL: `DELETE FROM events WHERE id IN (
			SELECT id FROM events WHERE id < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
			Cut: ids.Floor("event", c.Events)})
	}
	var err error
	n.Statements, err = store.RunSweep(batch, steps, func(sql string, cut any, limit int) (int64, error) {
		tag, err := db.pool.Exec(ctx, sql, cut, limit)
		return tag.RowsAffected(), mapErr(err)
	})
	return n, err
}
