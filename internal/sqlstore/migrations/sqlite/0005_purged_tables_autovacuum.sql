-- PostgreSQL's 0005 slows autovacuum on the purged tables. SQLite has no
-- autovacuum of that kind (deleted pages go to its free list at commit);
-- this version exists so that both engines report the same schema version.
SELECT 1;
