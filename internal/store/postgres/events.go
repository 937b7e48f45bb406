package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/store"
)

const eventColumns = `id, environment_id, type, actor_type, actor_id, target_id, ip_address, data, created_at`

func scanEvent(row pgx.Row) (*store.Event, error) {
	var e store.Event
	var envID *string
	var data []byte
	if err := row.Scan(&e.ID, &envID, &e.Type, &e.ActorType, &e.ActorID, &e.TargetID, &e.IPAddress, &data, &e.CreatedAt); err != nil {
		return nil, mapErr(err)
	}
	if envID != nil {
		e.EnvironmentID = *envID
	}
	if err := json.Unmarshal(data, &e.Data); err != nil {
		return nil, fmt.Errorf("event %s: data: %w", e.ID, err)
	}
	if e.Data == nil {
		e.Data = map[string]string{}
	}
	e.CreatedAt = e.CreatedAt.UTC()
	return &e, nil
}

// RecordEvent inserts e; an empty EnvironmentID is stored as NULL (a
// server-wide event). ErrConflict if its ID exists.
func (db *DB) RecordEvent(ctx context.Context, e *store.Event) error {
	_, err := db.pool.Exec(ctx, insertEventSQL, eventArgs(e)...)
	return mapErr(err)
}

const insertEventSQL = `INSERT INTO events (` + eventColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// insertEventIf is insertEventSQL that writes the event only if cond
// holds; cond's own parameters start at $10.
func insertEventIf(cond string) string {
	return `INSERT INTO events (` + eventColumns + `) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 WHERE ` + cond
}

func eventArgs(e *store.Event) []any {
	return []any{e.ID, textOrNil(e.EnvironmentID), e.Type, e.ActorType, e.ActorID, e.TargetID, e.IPAddress, metaJSON(e.Data),
		ts(e.CreatedAt)}
}

// ListEvents returns one keyset page of an environment's events (of no
// environment when envID is ""), of the given types only if there are any.
func (db *DB) ListEvents(ctx context.Context, envID string, types []string, p store.ListParams) (store.Page[store.Event], error) {
	s := p.Scan()
	q := `SELECT ` + eventColumns + ` FROM events WHERE `
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if envID == "" {
		q += `environment_id IS NULL`
	} else {
		q += `environment_id = ` + arg(envID)
	}
	if len(types) > 0 {
		q += ` AND type = ANY(` + arg(types) + `)`
	}
	if s.Cmp != "" {
		q += ` AND id ` + s.Cmp + ` ` + arg(s.Cursor)
	}
	if s.Desc {
		q += ` ORDER BY id DESC`
	} else {
		q += ` ORDER BY id ASC`
	}
	q += ` LIMIT ` + arg(s.Limit)
	return queryPage(ctx, db, p, scanEvent, func(e store.Event) string { return e.ID }, q, args...)
}
