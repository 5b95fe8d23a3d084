package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrationFiles holds one directory of versioned migrations per dialect,
// named NNNN_description.sql. A migration is never edited once released;
// changes come as a new file, additive so that replicas still running the
// previous version keep working during a rolling upgrade.
//
//go:embed migrations
var migrationFiles embed.FS

// migrationLockKey is the PostgreSQL advisory lock that serialises replicas
// migrating at once (an arbitrary constant: "algamob" in ASCII).
const migrationLockKey int64 = 0x616c67616d6f62

// migration is one versioned schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the dialect's migrations in version order.
func loadMigrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("read %s migrations: %w", dialect, err)
	}
	var out []migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s/%s: name must start with a positive version and '_'", dir, e.Name())
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		body, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// Migrate brings the schema to the newest version this binary knows. It is
// idempotent, and safe when several replicas start at once: on PostgreSQL
// the whole run holds a transaction-scoped advisory lock (and DDL is
// transactional, so a failed migration leaves nothing behind); on SQLite
// the run is one IMMEDIATE transaction. A database already migrated further
// by a newer binary is accepted as is.
func (s *Store) Migrate(ctx context.Context) error {
	defer s.track("Migrate", time.Now())
	migs, err := loadMigrations(s.dialect)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *txn) error {
		if s.dialect == DialectPostgres {
			if _, err := tx.tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockKey); err != nil {
				return fmt.Errorf("take migration lock: %w", err)
			}
		}
		applied, err := s.appliedMigrations(ctx, tx)
		if err != nil {
			return err
		}
		for _, m := range migs {
			if applied[m.version] {
				continue
			}
			if _, err := tx.tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("apply migration %s: %w", m.name, err)
			}
			// Migration statements bypass the statement cache: a migration
			// holds several statements, and a prepared one runs only the first.
			if _, err := tx.tx.ExecContext(ctx, s.q(
				"INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)"),
				m.version, m.name, s.ts(s.now())); err != nil {
				return fmt.Errorf("record migration %s: %w", m.name, err)
			}
		}
		return nil
	})
}

// appliedMigrations creates the bookkeeping table if needed and returns the
// versions it lists.
func (s *Store) appliedMigrations(ctx context.Context, tx *txn) (map[int]bool, error) {
	timeType := "INTEGER"
	if s.dialect == DialectPostgres {
		timeType = "TIMESTAMPTZ"
	}
	if _, err := tx.tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS schema_migrations ("+
		"version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at "+timeType+" NOT NULL)"); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	rows, err := tx.tx.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return applied, nil
}
