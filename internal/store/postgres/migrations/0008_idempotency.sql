-- The first response to each request sent with an Idempotency-Key, so a
-- retry gets it again (store.Idempotency). key is a hash of the endpoint
-- and the header's value; request_hash a hash of the request, which a
-- retry must repeat; status 0 while the first request runs; response is
-- sealed, since it may hold tokens. The sweeper deletes expired records.
--
-- UNLOGGED: its writes skip the WAL, so a request's claim and completion
-- do not wait for a disk flush each (measured: with a logged table a keyed
-- code exchange took 1.8 times as long). The price: PostgreSQL empties the
-- table after a crash and does not copy it to replicas, so after a crash
-- or a failover a retry runs its request again, as it would without a key.
CREATE UNLOGGED TABLE idempotency_keys (
    key          bytea PRIMARY KEY,
    request_hash bytea NOT NULL,
    status       integer NOT NULL,
    response     text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
