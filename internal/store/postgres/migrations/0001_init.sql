-- Gatehouse schema, version 1: environments, API keys, redirects, users.
-- IDs use the "C" collation so they sort bytewise, as ULIDs must.
-- Times are timestamptz with millisecond precision (truncated on write).

CREATE TABLE settings (
    key   text COLLATE "C" PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE environments (
    id               text COLLATE "C" PRIMARY KEY,
    name             text NOT NULL,
    type             text NOT NULL CHECK (type IN ('development', 'production')),
    client_id        text COLLATE "C" NOT NULL UNIQUE,
    sign_in_endpoint text NOT NULL DEFAULT '',
    cors_origins     jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(cors_origins) = 'array'),
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);

CREATE TABLE api_keys (
    id             text COLLATE "C" PRIMARY KEY,
    environment_id text COLLATE "C" NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    name           text NOT NULL,
    prefix         text NOT NULL,
    hash           bytea NOT NULL UNIQUE,
    created_at     timestamptz NOT NULL,
    last_used_at   timestamptz,
    revoked_at     timestamptz
);
CREATE INDEX api_keys_environment ON api_keys (environment_id, id);

CREATE TABLE redirects (
    id             text COLLATE "C" PRIMARY KEY,
    environment_id text COLLATE "C" NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('redirect_uri', 'sign_out')),
    uri            text NOT NULL,
    is_default     boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL,
    UNIQUE (environment_id, kind, uri)
);
CREATE UNIQUE INDEX redirects_one_default ON redirects (environment_id, kind) WHERE is_default;

CREATE TABLE users (
    id                  text COLLATE "C" PRIMARY KEY,
    environment_id      text COLLATE "C" NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    email               text NOT NULL,
    email_verified      boolean NOT NULL DEFAULT false,
    first_name          text,
    last_name           text,
    name                text,
    profile_picture_url text,
    locale              text,
    external_id         text,
    metadata            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    password_hash       text NOT NULL DEFAULT '',
    last_sign_in_at     timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE UNIQUE INDEX users_environment_email ON users (environment_id, email);
CREATE UNIQUE INDEX users_environment_external_id ON users (environment_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX users_environment_id ON users (environment_id, id);
