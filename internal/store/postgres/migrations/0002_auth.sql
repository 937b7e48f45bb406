-- Gatehouse schema, version 2: token and session settings per environment,
-- signing keys, authorization requests and codes, sessions, refresh tokens,
-- browser sessions and failure throttles.
-- Times are timestamptz with millisecond precision (truncated on write);
-- durations are bigint milliseconds. Every environment_id has an index whose
-- first column it is, so deleting an environment cascades without a full scan.

ALTER TABLE environments
    ADD COLUMN access_token_ttl_ms bigint NOT NULL DEFAULT 300000 CHECK (access_token_ttl_ms > 0),
    ADD COLUMN session_lifetime_ms bigint NOT NULL DEFAULT 2592000000 CHECK (session_lifetime_ms > 0),
    ADD COLUMN session_idle_timeout_ms bigint NOT NULL DEFAULT 604800000 CHECK (session_idle_timeout_ms > 0),
    ADD COLUMN signing_algorithm text NOT NULL DEFAULT 'RS256' CHECK (signing_algorithm IN ('RS256', 'ES256'));

CREATE TABLE signing_keys (
    id             text COLLATE "C" PRIMARY KEY,
    environment_id text COLLATE "C" NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    algorithm      text NOT NULL CHECK (algorithm IN ('RS256', 'ES256')),
    private_key    text NOT NULL,
    public_jwk     text NOT NULL,
    created_at     timestamptz NOT NULL,
    activates_at   timestamptz NOT NULL,
    expires_at     timestamptz
);
CREATE INDEX signing_keys_environment ON signing_keys (environment_id, activates_at);

CREATE TABLE auth_requests (
    id             text COLLATE "C" PRIMARY KEY,
    environment_id text COLLATE "C" NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    client_id      text COLLATE "C" NOT NULL,
    redirect_uri   text NOT NULL,
    state          text NOT NULL DEFAULT '',
    code_challenge text NOT NULL DEFAULT '',
    screen_hint    text NOT NULL DEFAULT '',
    login_hint     text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL
);
CREATE INDEX auth_requests_environment ON auth_requests (environment_id);
CREATE INDEX auth_requests_expires ON auth_requests (expires_at);

CREATE TABLE auth_codes (
    hash           bytea PRIMARY KEY,
    environment_id text COLLATE "C" NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    client_id      text COLLATE "C" NOT NULL,
    redirect_uri   text NOT NULL,
    code_challenge text NOT NULL DEFAULT '',
    user_id        text COLLATE "C" NOT NULL,
    session_id     text COLLATE "C" NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz
);
CREATE INDEX auth_codes_environment ON auth_codes (environment_id);

CREATE TABLE sessions (
    id                 text COLLATE "C" PRIMARY KEY,
    environment_id     text COLLATE "C" NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    user_id            text COLLATE "C" NOT NULL,
    browser_session_id text COLLATE "C" NOT NULL DEFAULT '',
    client_id          text COLLATE "C" NOT NULL,
    auth_method        text NOT NULL,
    ip_address         text NOT NULL DEFAULT '',
    user_agent         text NOT NULL DEFAULT '',
    organization_id    text COLLATE "C" NOT NULL DEFAULT '',
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    last_active_at     timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    ended_at           timestamptz
);
CREATE INDEX sessions_environment_user ON sessions (environment_id, user_id, id);

CREATE TABLE refresh_tokens (
    hash             bytea PRIMARY KEY,
    environment_id   text COLLATE "C" NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    session_id       text COLLATE "C" NOT NULL,
    created_at       timestamptz NOT NULL,
    used_at          timestamptz,
    successor_hash   bytea,
    successor_sealed text
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_environment ON refresh_tokens (environment_id);

CREATE TABLE browser_sessions (
    id             text COLLATE "C" PRIMARY KEY,
    hash           bytea NOT NULL UNIQUE,
    environment_id text COLLATE "C" NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    user_id        text COLLATE "C" NOT NULL,
    created_at     timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    ended_at       timestamptz
);
CREATE INDEX browser_sessions_environment_user ON browser_sessions (environment_id, user_id);

CREATE TABLE throttles (
    key      text COLLATE "C" PRIMARY KEY,
    failures integer NOT NULL CHECK (failures > 0),
    first_at timestamptz NOT NULL,
    last_at  timestamptz NOT NULL
);
