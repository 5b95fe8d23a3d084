package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"sort"
	"strings"
)

// The scale scenario's diagnostics: whether a seeded store is slower
// because of its data (a statement reads more pages, or its plan is a
// scan) or because the shared machine was busier during its runs. They
// are logged, not judged.

// pgStatementsReset empties pg_stat_statements (loaded by startPostgres)
// so that what follows is the measured load only, not the bulk seed.
func (r *rig) pgStatementsReset(ctx context.Context) error {
	db, err := sql.Open("pgx", r.pg.url("postgres"))
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	if _, err := db.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "SELECT pg_stat_statements_reset()")
	return err
}

// pgStatementsReport compares the empty and the seeded database statement
// by statement: calls, mean time, and shared buffers hit and read (from
// the OS, i.e. not in PostgreSQL's cache) per call. A plan that scans shows
// as hundreds of buffers per call; the data's cost as reads where the
// empty store has none.
func (r *rig) pgStatementsReport(ctx context.Context, emptyDB, seededDB string) ([]string, error) {
	db, err := sql.Open("pgx", r.pg.url("postgres"))
	if err != nil {
		return nil, err
	}
	defer func() { _ = db.Close() }()
	rows, err := db.QueryContext(ctx, `SELECT d.datname, s.query, s.calls, s.mean_exec_time,
		s.shared_blks_hit::float8 / greatest(s.calls, 1), s.shared_blks_read::float8 / greatest(s.calls, 1),
		s.wal_bytes::float8 / greatest(s.calls, 1), s.total_exec_time
		FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
		WHERE d.datname IN ($1, $2) AND s.calls >= 20`, emptyDB, seededDB)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	type stat struct {
		calls                int64
		mean, hit, read, wal float64
	}
	by := map[string]map[string]stat{} // query → database → figures
	total := map[string]float64{}
	for rows.Next() {
		var dbName, q string
		var s stat
		var tot float64
		if err := rows.Scan(&dbName, &q, &s.calls, &s.mean, &s.hit, &s.read, &s.wal, &tot); err != nil {
			return nil, err
		}
		if by[q] == nil {
			by[q] = map[string]stat{}
		}
		by[q][dbName] = s
		total[q] += tot
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	qs := make([]string, 0, len(by))
	for q := range by {
		qs = append(qs, q)
	}
	sort.Slice(qs, func(i, j int) bool { return total[qs[i]] > total[qs[j]] })
	var out []string
	for _, q := range qs[:min(len(qs), 10)] {
		e, s := by[q][emptyDB], by[q][seededDB]
		out = append(out, fmt.Sprintf("%-60.60s empty %6d calls %.3fms hit %.1f read %.2f wal %.0fB | seeded %6d calls %.3fms hit %.1f read %.2f wal %.0fB",
			strings.Join(strings.Fields(q), " "), e.calls, e.mean, e.hit, e.read, e.wal, s.calls, s.mean, s.hit, s.read, s.wal))
	}
	return out, nil
}

// sqlitePlans describes an SQLite store for the comparison: its size
// against the page cache of the service's connections, and the plans of
// the lookups every exchange and refresh makes.
func sqlitePlans(ctx context.Context, path string) ([]string, error) {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		return nil, err
	}
	defer func() { _ = db.Close() }()
	db.SetMaxOpenConns(1)
	var pages, pageSize, cache int64
	for _, p := range []struct {
		pragma string
		into   *int64
	}{{"page_count", &pages}, {"page_size", &pageSize}, {"cache_size", &cache}} {
		if err := db.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(p.into); err != nil {
			return nil, err
		}
	}
	var wal int64
	if fi, err := os.Stat(path + "-wal"); err == nil {
		wal = fi.Size()
	}
	out := []string{fmt.Sprintf("file %.1f MiB (%d pages of %d B), WAL %.1f MiB; a connection's default page cache %d (negative: KiB)",
		float64(pages*pageSize)/(1<<20), pages, pageSize, float64(wal)/(1<<20), cache)}
	for _, q := range []string{
		"SELECT * FROM refresh_tokens WHERE hash = x'00'",
		"UPDATE refresh_tokens SET rotated_at = 1 WHERE hash = x'00' AND rotated_at IS NULL",
		"SELECT * FROM token_families WHERE id = 'x'",
		"SELECT * FROM refresh_tokens t JOIN token_families f ON f.id = t.family_id WHERE t.hash = x'00'",
		"UPDATE one_time_tokens SET consumed_at = 1 WHERE hash = x'00' AND consumed_at IS NULL",
	} {
		plan, err := explainSQLite(ctx, db, q)
		if err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("%-60.60s → %s", q, plan))
	}
	return out, nil
}

func explainSQLite(ctx context.Context, db *sql.DB, q string) (string, error) {
	rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q)
	if err != nil {
		return "", err
	}
	defer func() { _ = rows.Close() }()
	var steps []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			return "", err
		}
		steps = append(steps, detail)
	}
	return strings.Join(steps, "; "), rows.Err()
}

// ratios prints per-pair ratios, e.g. "×0.81 ×0.77 ×0.92": their spread
// says how much of a median's distance from 1 the machine's noise can be.
func ratios(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("×%.2f", x)
	}
	return strings.Join(parts, " ")
}

// logLines logs each line with a prefix.
func (r *rig) logLines(prefix string, lines []string, err error) {
	if err != nil {
		r.logf("%s: %v", prefix, err)
		return
	}
	for _, l := range lines {
		r.logf("%s: %s", prefix, l)
	}
}
