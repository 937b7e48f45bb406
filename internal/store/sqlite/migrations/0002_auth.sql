-- Gatehouse schema, version 2: token and session settings per environment,
-- signing keys, authorization requests and codes, sessions, refresh tokens,
-- browser sessions and failure throttles.
-- Times are INTEGER milliseconds since the Unix epoch, UTC; durations are
-- INTEGER milliseconds. Every environment_id has an index whose first
-- column it is, so deleting an environment cascades without a full scan.

ALTER TABLE environments ADD COLUMN access_token_ttl_ms INTEGER NOT NULL DEFAULT 300000 CHECK (access_token_ttl_ms > 0);
ALTER TABLE environments ADD COLUMN session_lifetime_ms INTEGER NOT NULL DEFAULT 2592000000 CHECK (session_lifetime_ms > 0);
ALTER TABLE environments ADD COLUMN session_idle_timeout_ms INTEGER NOT NULL DEFAULT 604800000 CHECK (session_idle_timeout_ms > 0);
ALTER TABLE environments ADD COLUMN signing_algorithm TEXT NOT NULL DEFAULT 'RS256' CHECK (signing_algorithm IN ('RS256', 'ES256'));

CREATE TABLE signing_keys (
    id             TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    algorithm      TEXT NOT NULL CHECK (algorithm IN ('RS256', 'ES256')),
    private_key    TEXT NOT NULL,
    public_jwk     TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    activates_at   INTEGER NOT NULL,
    expires_at     INTEGER
) STRICT;
CREATE INDEX signing_keys_environment ON signing_keys (environment_id, activates_at);

CREATE TABLE auth_requests (
    id             TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    state          TEXT NOT NULL DEFAULT '',
    code_challenge TEXT NOT NULL DEFAULT '',
    screen_hint    TEXT NOT NULL DEFAULT '',
    login_hint     TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX auth_requests_environment ON auth_requests (environment_id);
CREATE INDEX auth_requests_expires ON auth_requests (expires_at);

CREATE TABLE auth_codes (
    hash           BLOB PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL DEFAULT '',
    user_id        TEXT NOT NULL,
    session_id     TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER
) STRICT;
CREATE INDEX auth_codes_environment ON auth_codes (environment_id);

CREATE TABLE sessions (
    id                 TEXT PRIMARY KEY,
    environment_id     TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    user_id            TEXT NOT NULL,
    browser_session_id TEXT NOT NULL DEFAULT '',
    client_id          TEXT NOT NULL,
    auth_method        TEXT NOT NULL,
    ip_address         TEXT NOT NULL DEFAULT '',
    user_agent         TEXT NOT NULL DEFAULT '',
    organization_id    TEXT NOT NULL DEFAULT '',
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    last_active_at     INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    ended_at           INTEGER
) STRICT;
CREATE INDEX sessions_environment_user ON sessions (environment_id, user_id, id);

CREATE TABLE refresh_tokens (
    hash             BLOB PRIMARY KEY,
    environment_id   TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    session_id       TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    used_at          INTEGER,
    successor_hash   BLOB,
    successor_sealed TEXT
) STRICT;
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_environment ON refresh_tokens (environment_id);

CREATE TABLE browser_sessions (
    id             TEXT PRIMARY KEY,
    hash           BLOB NOT NULL UNIQUE,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    ended_at       INTEGER
) STRICT;
CREATE INDEX browser_sessions_environment_user ON browser_sessions (environment_id, user_id);

CREATE TABLE throttles (
    key      TEXT PRIMARY KEY,
    failures INTEGER NOT NULL CHECK (failures > 0),
    first_at INTEGER NOT NULL,
    last_at  INTEGER NOT NULL
) STRICT;
