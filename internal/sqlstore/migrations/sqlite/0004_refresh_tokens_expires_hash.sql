-- PostgreSQL's migration 0004 orders expired refresh tokens for a purge
-- that resumes where its previous chunk ended. SQLite removes a deleted
-- row's index entries at once, so its purge needs no such order: nothing
-- changes here; the file keeps both dialects' versions in step.
SELECT 1;
