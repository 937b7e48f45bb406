-- Gatehouse schema, version 4: the email outbox and emailed challenges
-- (verification and magic codes, reset and pending-authentication tokens).
-- Times are INTEGER milliseconds since the Unix epoch, UTC.

-- The outbox. A worker claims due rows (status 'pending', next_attempt_at
-- passed, or 'sending' with lease_until passed) by setting status
-- 'sending', lease_until and claimed_by; it then records 'sent', or
-- 'pending' with a later next_attempt_at, or 'failed'. environment_id is
-- NULL for server-wide mail.
CREATE TABLE emails (
    id              TEXT PRIMARY KEY,
    environment_id  TEXT REFERENCES environments (id) ON DELETE CASCADE,
    from_name       TEXT NOT NULL DEFAULT '',
    from_address    TEXT NOT NULL,
    to_address      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL DEFAULT '',
    html_body       TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    claimed_by      TEXT NOT NULL DEFAULT '',
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
) STRICT;
CREATE INDEX emails_due ON emails (status, next_attempt_at);
CREATE INDEX emails_lease ON emails (status, lease_until);
CREATE INDEX emails_environment ON emails (environment_id, id);

-- One-time codes and tokens; only their SHA-256 hashes are kept. A hash is
-- unique within a kind, since reset links and pending-authentication tokens
-- are found by it.
CREATE TABLE challenges (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL DEFAULT '',
    email          TEXT NOT NULL DEFAULT '',
    hash           BLOB NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER,
    data           TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE UNIQUE INDEX challenges_hash ON challenges (kind, hash);
CREATE INDEX challenges_environment_email ON challenges (environment_id, kind, email, id);
