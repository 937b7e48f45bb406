-- Gatehouse schema, version 4: the email outbox and emailed challenges
-- (verification and magic codes, reset and pending-authentication tokens).
-- Times are timestamptz with millisecond precision (truncated on write).

-- The outbox. A worker claims due rows (status 'pending', next_attempt_at
-- passed, or 'sending' with lease_until passed) with SELECT … FOR UPDATE
-- SKIP LOCKED, setting status 'sending', lease_until and claimed_by; it then
-- records 'sent', or 'pending' with a later next_attempt_at, or 'failed'.
-- environment_id is NULL for server-wide mail.
CREATE TABLE emails (
    id              text COLLATE "C" PRIMARY KEY,
    environment_id  text COLLATE "C" REFERENCES environments (id) ON DELETE CASCADE,
    from_name       text NOT NULL DEFAULT '',
    from_address    text NOT NULL,
    to_address      text NOT NULL,
    subject         text NOT NULL,
    text_body       text NOT NULL DEFAULT '',
    html_body       text NOT NULL DEFAULT '',
    status          text NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_until     timestamptz,
    claimed_by      text NOT NULL DEFAULT '',
    last_error      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz
);
CREATE INDEX emails_due ON emails (status, next_attempt_at);
CREATE INDEX emails_lease ON emails (status, lease_until);
CREATE INDEX emails_environment ON emails (environment_id, id);

-- One-time codes and tokens; only their SHA-256 hashes are kept. A hash is
-- unique within a kind, since reset links and pending-authentication tokens
-- are found by it.
CREATE TABLE challenges (
    id             text COLLATE "C" PRIMARY KEY,
    kind           text NOT NULL,
    environment_id text COLLATE "C" NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    user_id        text COLLATE "C" NOT NULL DEFAULT '',
    email          text NOT NULL DEFAULT '',
    hash           bytea NOT NULL,
    attempts       integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    data           jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object')
);
CREATE UNIQUE INDEX challenges_hash ON challenges (kind, hash);
CREATE INDEX challenges_environment_email ON challenges (environment_id, kind, email, id);
