-- After the purge deletes a backlog, autovacuum cleans the purged tables
-- at the server's pace: at PostgreSQL's defaults (cost delay 2 ms, limit
-- 200) it may dirty 5,000 pages a second, and on a 1M-user store each
-- VACUUM of refresh_tokens wrote 287-820 MB of WAL (full-page images) at
-- 7-15 MB/s, more than the purge itself is allowed (2 MiB/s, see
-- sqlstore's purgeWALRate): it set off checkpoints, and requests' commits
-- waited behind its writes for up to 300 ms. These tables' own storage
-- parameters slow their autovacuum ten times (at most 500 dirtied pages,
-- ~4 MB, a second); the server's settings and every other table are left
-- alone. A slower vacuum only leaves dead rows a little longer, which the
-- purge's index walk already steps over.
ALTER TABLE refresh_tokens SET (autovacuum_vacuum_cost_delay = 20, autovacuum_vacuum_cost_limit = 200);
ALTER TABLE token_families SET (autovacuum_vacuum_cost_delay = 20, autovacuum_vacuum_cost_limit = 200);
ALTER TABLE audit_events SET (autovacuum_vacuum_cost_delay = 20, autovacuum_vacuum_cost_limit = 200);
