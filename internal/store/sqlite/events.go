package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/internal/store"
)

const eventColumns = `id, environment_id, type, actor_type, actor_id, target_id, ip_address, data, created_at`

func scanEvent(row interface{ Scan(...any) error }) (*store.Event, error) {
	var e store.Event
	var envID *string
	var data string
	var created int64
	if err := row.Scan(&e.ID, &envID, &e.Type, &e.ActorType, &e.ActorID, &e.TargetID, &e.IPAddress, &data, &created); err != nil {
		return nil, mapErr(err)
	}
	if envID != nil {
		e.EnvironmentID = *envID
	}
	if err := json.Unmarshal([]byte(data), &e.Data); err != nil {
		return nil, fmt.Errorf("event %s: data: %w", e.ID, err)
	}
	if e.Data == nil {
		e.Data = map[string]string{}
	}
	e.CreatedAt = fromMS(created)
	return &e, nil
}

// RecordEvent inserts e; an empty EnvironmentID is stored as NULL (a
// server-wide event). ErrConflict if its ID exists.
func (db *DB) RecordEvent(ctx context.Context, e *store.Event) error {
	_, err := db.ex(ctx, insertEventSQL, eventArgs(e)...)
	return mapErr(err)
}

const insertEventSQL = `INSERT INTO events (` + eventColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

func eventArgs(e *store.Event) []any {
	return []any{e.ID, textOrNil(e.EnvironmentID), e.Type, e.ActorType, e.ActorID, e.TargetID, e.IPAddress, metaJSON(e.Data),
		ms(e.CreatedAt)}
}

// ListEvents returns one keyset page of an environment's events (of no
// environment when envID is ""), of the given types only if there are any.
func (db *DB) ListEvents(ctx context.Context, envID string, types []string, p store.ListParams) (store.Page[store.Event], error) {
	s := p.Scan()
	q := `SELECT ` + eventColumns + ` FROM events WHERE `
	var args []any
	if envID == "" {
		q += `environment_id IS NULL`
	} else {
		q += `environment_id = ?`
		args = append(args, envID)
	}
	if len(types) > 0 {
		q += ` AND type IN (?` + strings.Repeat(", ?", len(types)-1) + `)`
		for _, t := range types {
			args = append(args, t)
		}
	}
	if s.Cmp != "" {
		q += ` AND id ` + s.Cmp + ` ?`
		args = append(args, s.Cursor)
	}
	if s.Desc {
		q += ` ORDER BY id DESC`
	} else {
		q += ` ORDER BY id ASC`
	}
	q += ` LIMIT ?`
	args = append(args, s.Limit)
	return queryPage(ctx, db, p, scanEvent, func(e store.Event) string { return e.ID }, q, args...)
}
