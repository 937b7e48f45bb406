-- gatehouse:no-transaction
-- The sweeper (store.Sweeper) deletes what has outlived its use: codes,
-- sessions, browser sessions and challenges some time after they expire,
-- and used refresh tokens some time after they were created. These
-- indexes let it find them without reading whole tables. They are on
-- columns that are written once, at insert: a refresh token's used_at is
-- set by every rotation, and indexing it would cost every refresh.
--
-- Before the sweeper these tables only grew, so a database upgraded to it
-- may hold many millions of rows. A plain CREATE INDEX blocks every
-- insert, update and delete on its table until it is built, which would
-- stop sign-ins and refreshes on the nodes still serving. So the indexes
-- are built CONCURRENTLY, which lets writes go on and must run outside a
-- transaction (see noTransaction in postgres.go). A build that fails or is
-- interrupted leaves an invalid index of that name behind, so each is
-- dropped first: running this file again from the start converges.
DROP INDEX CONCURRENTLY IF EXISTS auth_codes_expires;
CREATE INDEX CONCURRENTLY auth_codes_expires ON auth_codes (expires_at);
DROP INDEX CONCURRENTLY IF EXISTS refresh_tokens_created;
CREATE INDEX CONCURRENTLY refresh_tokens_created ON refresh_tokens (created_at);
DROP INDEX CONCURRENTLY IF EXISTS sessions_expires;
CREATE INDEX CONCURRENTLY sessions_expires ON sessions (expires_at);
DROP INDEX CONCURRENTLY IF EXISTS browser_sessions_expires;
CREATE INDEX CONCURRENTLY browser_sessions_expires ON browser_sessions (expires_at);
DROP INDEX CONCURRENTLY IF EXISTS challenges_expires;
CREATE INDEX CONCURRENTLY challenges_expires ON challenges (expires_at);
