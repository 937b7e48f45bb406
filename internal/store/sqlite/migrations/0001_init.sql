-- Gatehouse schema, version 1: environments, API keys, redirects, users.
-- Times are INTEGER milliseconds since the Unix epoch, UTC.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE environments (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    type             TEXT NOT NULL CHECK (type IN ('development', 'production')),
    client_id        TEXT NOT NULL UNIQUE,
    sign_in_endpoint TEXT NOT NULL DEFAULT '',
    cors_origins     TEXT NOT NULL DEFAULT '[]',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    prefix         TEXT NOT NULL,
    hash           BLOB NOT NULL UNIQUE,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER,
    revoked_at     INTEGER
) STRICT;
CREATE INDEX api_keys_environment ON api_keys (environment_id, id);

CREATE TABLE redirects (
    id             TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL CHECK (kind IN ('redirect_uri', 'sign_out')),
    uri            TEXT NOT NULL,
    is_default     INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created_at     INTEGER NOT NULL,
    UNIQUE (environment_id, kind, uri)
) STRICT;
CREATE UNIQUE INDEX redirects_one_default ON redirects (environment_id, kind) WHERE is_default = 1;

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    environment_id      TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    email               TEXT NOT NULL,
    email_verified      INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    first_name          TEXT,
    last_name           TEXT,
    name                TEXT,
    profile_picture_url TEXT,
    locale              TEXT,
    external_id         TEXT,
    metadata            TEXT NOT NULL DEFAULT '{}',
    password_hash       TEXT NOT NULL DEFAULT '',
    last_sign_in_at     INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX users_environment_email ON users (environment_id, email);
CREATE UNIQUE INDEX users_environment_external_id ON users (environment_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX users_environment_id ON users (environment_id, id);
