-- Gatehouse schema, version 3: environment branding, dashboard admins with
-- their one-time link tokens and sessions, the activity log, and the
-- indexes user search needs.
-- Times are INTEGER milliseconds since the Unix epoch, UTC.

ALTER TABLE environments ADD COLUMN brand_app_name TEXT NOT NULL DEFAULT '';
ALTER TABLE environments ADD COLUMN brand_logo_url TEXT NOT NULL DEFAULT '';
ALTER TABLE environments ADD COLUMN brand_primary_color TEXT NOT NULL DEFAULT '';
ALTER TABLE environments ADD COLUMN brand_appearance TEXT NOT NULL DEFAULT ''
    CHECK (brand_appearance IN ('', 'light', 'dark', 'auto'));

CREATE TABLE admins (
    id              TEXT PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL DEFAULT '',
    totp_secret     TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_sign_in_at INTEGER
) STRICT;

CREATE TABLE admin_tokens (
    hash       BLOB PRIMARY KEY,
    admin_id   TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('sign_in', 'setup')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
CREATE INDEX admin_tokens_admin ON admin_tokens (admin_id);

CREATE TABLE admin_sessions (
    id           TEXT PRIMARY KEY,
    hash         BLOB NOT NULL UNIQUE,
    admin_id     TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ended_at     INTEGER
) STRICT;
CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);

-- The activity log. environment_id is NULL for server-wide events (admin
-- changes); IDs are ULIDs, so ordering by ID is ordering by time.
CREATE TABLE events (
    id             TEXT PRIMARY KEY,
    environment_id TEXT REFERENCES environments (id) ON DELETE CASCADE,
    type           TEXT NOT NULL,
    actor_type     TEXT NOT NULL DEFAULT '',
    actor_id       TEXT NOT NULL DEFAULT '',
    target_id      TEXT NOT NULL DEFAULT '',
    ip_address     TEXT NOT NULL DEFAULT '',
    data           TEXT NOT NULL DEFAULT '{}',
    created_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX events_environment ON events (environment_id, id);
CREATE INDEX events_environment_type ON events (environment_id, type, id);

-- User search is a case-insensitive prefix match on email, first name, last
-- name or name. Emails are stored lowercase, so the (environment_id, email)
-- index serves them; the names get lowercased copies, written by the
-- backend on every insert and update (Go's Unicode lowercasing: SQLite's
-- lower() folds ASCII only, so the backend rewrites the rows it gets wrong
-- right after this script), each with an index. A search is then a range
-- scan [q, successor of q) on each index, in BINARY (bytewise) order.
ALTER TABLE users ADD COLUMN first_name_lower TEXT;
ALTER TABLE users ADD COLUMN last_name_lower TEXT;
ALTER TABLE users ADD COLUMN name_lower TEXT;
UPDATE users SET first_name_lower = lower(first_name), last_name_lower = lower(last_name), name_lower = lower(name)
    WHERE first_name IS NOT NULL OR last_name IS NOT NULL OR name IS NOT NULL;
CREATE INDEX users_environment_first_name ON users (environment_id, first_name_lower);
CREATE INDEX users_environment_last_name ON users (environment_id, last_name_lower);
CREATE INDEX users_environment_name ON users (environment_id, name_lower);
