-- Gatehouse schema, version 3: environment branding, dashboard admins with
-- their one-time link tokens and sessions, the activity log, and the
-- indexes user search needs.
-- Times are timestamptz with millisecond precision (truncated on write).

ALTER TABLE environments
    ADD COLUMN brand_app_name text NOT NULL DEFAULT '',
    ADD COLUMN brand_logo_url text NOT NULL DEFAULT '',
    ADD COLUMN brand_primary_color text NOT NULL DEFAULT '',
    ADD COLUMN brand_appearance text NOT NULL DEFAULT '' CHECK (brand_appearance IN ('', 'light', 'dark', 'auto'));

CREATE TABLE admins (
    id              text COLLATE "C" PRIMARY KEY,
    email           text NOT NULL UNIQUE,
    password_hash   text NOT NULL DEFAULT '',
    totp_secret     text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    last_sign_in_at timestamptz
);

CREATE TABLE admin_tokens (
    hash       bytea PRIMARY KEY,
    admin_id   text COLLATE "C" NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    purpose    text NOT NULL CHECK (purpose IN ('sign_in', 'setup')),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX admin_tokens_admin ON admin_tokens (admin_id);

CREATE TABLE admin_sessions (
    id           text COLLATE "C" PRIMARY KEY,
    hash         bytea NOT NULL UNIQUE,
    admin_id     text COLLATE "C" NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz
);
CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);

-- The activity log. environment_id is NULL for server-wide events (admin
-- changes); IDs are ULIDs, so ordering by ID is ordering by time.
CREATE TABLE events (
    id             text COLLATE "C" PRIMARY KEY,
    environment_id text COLLATE "C" REFERENCES environments (id) ON DELETE CASCADE,
    type           text COLLATE "C" NOT NULL,
    actor_type     text NOT NULL DEFAULT '',
    actor_id       text COLLATE "C" NOT NULL DEFAULT '',
    target_id      text COLLATE "C" NOT NULL DEFAULT '',
    ip_address     text NOT NULL DEFAULT '',
    data           jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object'),
    created_at     timestamptz NOT NULL
);
CREATE INDEX events_environment ON events (environment_id, id);
CREATE INDEX events_environment_type ON events (environment_id, type, id);

-- User search is a case-insensitive prefix match on email, first name, last
-- name or name, run as one range scan [q, successor of q) per column in
-- bytewise ("C") order, which is the only order in which a prefix is one
-- range whatever the database's collation. Emails are stored lowercase and
-- get a "C" index; the names get lowercased copies, written by the backend
-- on every insert and update (Go's Unicode lowercasing, the same as the
-- SQLite backend's whatever the locale; the backend rewrites the rows this
-- script's lower() folds differently right after it), each with an index.
CREATE INDEX users_environment_email_prefix ON users (environment_id, email COLLATE "C");
ALTER TABLE users
    ADD COLUMN first_name_lower text COLLATE "C",
    ADD COLUMN last_name_lower text COLLATE "C",
    ADD COLUMN name_lower text COLLATE "C";
UPDATE users SET first_name_lower = lower(first_name), last_name_lower = lower(last_name), name_lower = lower(name)
    WHERE first_name IS NOT NULL OR last_name IS NOT NULL OR name IS NOT NULL;
CREATE INDEX users_environment_first_name ON users (environment_id, first_name_lower);
CREATE INDEX users_environment_last_name ON users (environment_id, last_name_lower);
CREATE INDEX users_environment_name ON users (environment_id, name_lower);
