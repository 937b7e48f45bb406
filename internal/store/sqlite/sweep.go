package sqlite

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/store"
)

// sweepStep deletes up to the second argument's rows of one kind that are
// past the first.
type sweepStep struct {
	count *int
	sql   string
	now   bool // cut at SweepCutoffs.Now rather than Before
}

// Sweep deletes rows past their use, batch rows per statement (each its
// own short write, so requests are not held up behind one long delete);
// see store.Sweeper. Sessions go before refresh tokens, so the tokens of a
// session deleted now go in the same sweep.
func (db *DB) Sweep(ctx context.Context, c store.SweepCutoffs, batch int) (store.Swept, error) {
	var n store.Swept
	steps := []sweepStep{
		{&n.AuthRequests, `DELETE FROM auth_requests WHERE id IN (
			SELECT id FROM auth_requests WHERE expires_at < ? LIMIT ?)`, true},
		{&n.AuthCodes, `DELETE FROM auth_codes WHERE hash IN (
			SELECT hash FROM auth_codes WHERE expires_at < ? LIMIT ?)`, false},
		{&n.Sessions, `DELETE FROM sessions WHERE id IN (
			SELECT id FROM sessions WHERE expires_at < ? LIMIT ?)`, false},
		{&n.RefreshTokens, `DELETE FROM refresh_tokens WHERE hash IN (
			SELECT t.hash FROM refresh_tokens t WHERE t.created_at < ?1
			AND (t.used_at < ?1 OR NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = t.session_id))
			LIMIT ?2)`, false},
		{&n.BrowserSessions, `DELETE FROM browser_sessions WHERE id IN (
			SELECT id FROM browser_sessions WHERE expires_at < ? LIMIT ?)`, false},
		{&n.Challenges, `DELETE FROM challenges WHERE id IN (
			SELECT id FROM challenges WHERE expires_at < ? LIMIT ?)`, false},
		{&n.Throttles, `DELETE FROM throttles WHERE key IN (
			SELECT key FROM throttles WHERE last_at < ? LIMIT ?)`, false},
	}
	for _, st := range steps {
		cut := c.Before
		if st.now {
			cut = c.Now
		}
		for {
			res, err := db.ex(ctx, st.sql, ms(cut), batch)
			if err != nil {
				return n, mapErr(err)
			}
			k, err := res.RowsAffected()
			if err != nil {
				return n, err
			}
			*st.count += int(k)
			if k < int64(batch) {
				break
			}
		}
	}
	return n, nil
}
