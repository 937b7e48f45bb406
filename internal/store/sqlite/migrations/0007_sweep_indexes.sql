-- The sweeper (store.Sweeper) deletes what has outlived its use: codes,
-- sessions, browser sessions and challenges some time after they expire,
-- and used refresh tokens some time after they were created. These
-- indexes let it find them without reading whole tables. They are on
-- columns that are written once, at insert: a refresh token's used_at is
-- set by every rotation, and indexing it would cost every refresh.
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);
CREATE INDEX refresh_tokens_created ON refresh_tokens (created_at);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX browser_sessions_expires ON browser_sessions (expires_at);
CREATE INDEX challenges_expires ON challenges (expires_at);
