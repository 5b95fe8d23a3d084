-- The purge deletes expired refresh tokens in chunks, each taken from the
-- index where the previous one ended: PostgreSQL keeps a deleted row's
-- index entries until a vacuum, so chunks found by expires_at alone would
-- each scan past everything the chunks before them deleted (slower and
-- slower through a purge of millions). The hash makes the order total, so
-- that a chunk can start after the last row of the previous one; the index
-- serves every query the one on expires_at alone did.
-- Building it holds writes to refresh_tokens for as long as it takes
-- (seconds per million tokens).
CREATE INDEX refresh_tokens_expires_hash ON refresh_tokens (expires_at, hash);
DROP INDEX refresh_tokens_expires;
