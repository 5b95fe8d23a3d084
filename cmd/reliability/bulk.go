package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"time"
)

// bulkSeed adds, in a few set-based statements, families token families,
// five refresh tokens each and audit events: what a million users leave
// behind. One family in five was revoked 35 days ago and all its tokens
// have expired; the others hold two rotated tokens long expired, two
// rotated ones still within their lifetime, and the current one. So 2.6 of
// every 5 tokens, and one family in five, are due for purging, and the
// audit events span 180 days, so half are past the default retention.
//
// A token expires its lifetime after it was issued, so real tokens expire
// in about the order they were written (stored): each refresh token's
// created_at and expires_at are moved back by up to 10 days in the order
// the rows are inserted (the later a row, the later it expires), and no
// two tokens share an expiry. With tied, every token of a kind gets the
// same instant instead (the whole seed is one statement at one now()):
// the purge's worst case, since it then takes the due tokens in hash
// order, i.e. from random places in the table.
func bulkSeed(ctx context.Context, dbURL string, postgres bool, families, audits int, tied bool) error {
	if postgres {
		return bulkSeedPostgres(ctx, dbURL, families, audits, tied)
	}
	return bulkSeedSQLite(ctx, strings.TrimPrefix(dbURL, "sqlite:"), families, audits, tied)
}

// seedSpread is the span over which bulkSeed spreads the tokens' times.
const seedSpread = 10 * 24 * time.Hour

func bulkSeedPostgres(ctx context.Context, dbURL string, families, audits int, tied bool) error {
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	// One session, so that its settings hold: the rows are generated on the
	// server (no client round trip per row, as fast as COPY without the
	// transfer), consistent by construction, so the foreign-key triggers
	// are skipped (session_replication_role, we are the cluster's
	// superuser), and nothing waits for a WAL flush per statement.
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	for _, q := range []string{"SET session_replication_role = replica", "SET synchronous_commit = off", "SET maintenance_work_mem = '256MB'"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	const day = "interval '1 day'"
	// r numbers the rows in the order they are produced, i.e. inserted
	// (row_number() over no order), whatever join order the planner takes.
	spread := "((5 * $1 - r) * (interval '10 days' / (5 * $1)) * $2::float8)"
	stmts := []string{
		`INSERT INTO token_families (id, tenant_id, user_id, session_hash, device, created_at, revoked_at)
		 SELECT 'scale-' || g, '5eed0000-0000-4000-8000-00000000000' || (g % 4), 'scale-user-' || g,
		        decode(md5('s' || g) || md5('t' || g), 'hex'), '{}',
		        now() - CASE WHEN g % 5 = 0 THEN 60 ELSE 2 END * ` + day + `,
		        CASE WHEN g % 5 = 0 THEN now() - 35 * ` + day + ` END
		 FROM generate_series(1, $1) g`,
		`INSERT INTO refresh_tokens (hash, family_id, tenant_id, user_id, created_at, expires_at, rotated_at, replaced_by, revoked_at)
		 SELECT decode(md5(g || ':' || k) || md5('r' || g || ':' || k), 'hex'), 'scale-' || g,
		        '5eed0000-0000-4000-8000-00000000000' || (g % 4), 'scale-user-' || g,
		        now() - CASE WHEN g % 5 = 0 OR k <= 2 THEN 40 ELSE 2 END * ` + day + ` - ` + spread + `,
		        now() + CASE WHEN g % 5 = 0 OR k <= 2 THEN -10 ELSE 28 END * ` + day + ` - ` + spread + `,
		        CASE WHEN k < 5 THEN now() - ` + day + ` END,
		        CASE WHEN k < 5 THEN decode(md5(g || ':' || (k + 1)) || md5('r' || g || ':' || (k + 1)), 'hex') END,
		        CASE WHEN g % 5 = 0 THEN now() - 35 * ` + day + ` END
		 FROM (SELECT g, k, row_number() OVER () AS r FROM generate_series(1, $1) g, generate_series(1, 5) k) seq`,
	}
	spreadOn := 1
	if tied {
		spreadOn = 0
	}
	for i, q := range stmts {
		args := []any{families}
		if i == 1 {
			args = append(args, spreadOn)
		}
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	// Audit events spread evenly over the last 180 days, oldest first (as
	// they are appended): the half older than the 90-day retention is due.
	if _, err := conn.ExecContext(ctx, `INSERT INTO audit_events (occurred_at, tenant_id, user_id, operation, record_id, client_ip, correlation_id)
		SELECT now() - ($1::int - g) * (interval '180 days' / $1::int), '5eed0000-0000-4000-8000-00000000000' || (g % 4), 'scale-user-' || g,
		       'refresh', 'scale-' || g, '10.0.0.1', md5(g::text)
		FROM generate_series(1, $1::int) g`, audits); err != nil {
		return err
	}
	// A store that has lived for months has been vacuumed (hint bits and
	// visibility map set) and has no bulk load's worth of dirty pages
	// waiting for a checkpoint: without this the first purge cycle ran
	// beside a checkpoint writing out the seed (500 MB of WAL at 200k
	// families) and set the hint bits of every page it read.
	for _, q := range []string{"VACUUM ANALYZE", "CHECKPOINT"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func bulkSeedSQLite(ctx context.Context, path string, families, audits int, tied bool) error {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	db.SetMaxOpenConns(1)
	// Nobody else has the file open while it is seeded: no journal and no
	// sync (WAL again at the end), and a page cache that holds the indexes.
	for _, q := range []string{"PRAGMA journal_mode = OFF", "PRAGMA synchronous = OFF", "PRAGMA cache_size = -1048576"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	now := time.Now().UnixMilli()
	day := int64(24 * time.Hour / time.Millisecond)
	// The tokens' spread in milliseconds per row (see bulkSeed); rows are
	// numbered in insertion order by row_number() over no order.
	step := float64(seedSpread/time.Millisecond) / float64(5*families)
	if tied {
		step = 0
	}
	const series = "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?) "
	stmts := []struct {
		q    string
		args []any
	}{
		{series + `INSERT INTO token_families (id, tenant_id, user_id, session_hash, device, created_at, revoked_at)
		 SELECT 'scale-' || n, '5eed0000-0000-4000-8000-00000000000' || (n % 4), 'scale-user-' || n, randomblob(32), '{}',
		        ? - CASE WHEN n % 5 = 0 THEN 60 ELSE 2 END * ?, CASE WHEN n % 5 = 0 THEN ? - 35 * ? END
		 FROM g`, []any{families, now, day, now, day}},
		{series + `, k(m) AS (VALUES (1), (2), (3), (4), (5)),
		 seq AS (SELECT n, m, CAST((5 * ? - row_number() OVER ()) * ? AS INTEGER) AS back FROM g, k)
		 INSERT INTO refresh_tokens (hash, family_id, tenant_id, user_id, created_at, expires_at, rotated_at, replaced_by, revoked_at)
		 SELECT randomblob(32), 'scale-' || n, '5eed0000-0000-4000-8000-00000000000' || (n % 4), 'scale-user-' || n,
		        ? - CASE WHEN n % 5 = 0 OR m <= 2 THEN 40 ELSE 2 END * ? - back,
		        ? + CASE WHEN n % 5 = 0 OR m <= 2 THEN -10 ELSE 28 END * ? - back,
		        CASE WHEN m < 5 THEN ? - ? END, CASE WHEN m < 5 THEN randomblob(32) END,
		        CASE WHEN n % 5 = 0 THEN ? - 35 * ? END
		 FROM seq`, []any{families, families, step, now, day, now, day, now, day, now, day}},
		{series + `INSERT INTO audit_events (occurred_at, tenant_id, user_id, operation, record_id, client_ip, correlation_id)
		 SELECT ? - (? - n) * (180 * ? / ?), '5eed0000-0000-4000-8000-00000000000' || (n % 4), 'scale-user-' || n, 'refresh', 'scale-' || n,
		        '10.0.0.1', lower(hex(randomblob(16)))
		 FROM g`, []any{audits, now, audits, day, audits}},
		{"ANALYZE", nil},
		{"PRAGMA journal_mode = WAL", nil},
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s.q, s.args...); err != nil {
			return fmt.Errorf("%.60s…: %w", strings.TrimSpace(s.q), err)
		}
	}
	// Written without a sync, the file's pages are still in the kernel's
	// dirty cache: flush them now, as a store in use has no bulk load
	// waiting to be written (the 1M-family run's first purge statements,
	// the writeback still going, took up to 246 ms).
	if err := db.Close(); err != nil {
		return err
	}
	f, err := os.Open(path) //nolint:gosec // G304: the run's own database file
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	return f.Sync()
}
