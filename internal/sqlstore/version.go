package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// SchemaVersion is the newest migration applied to the database: 0 before
// the first migration (when the bookkeeping table does not exist yet).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	defer s.track("SchemaVersion", time.Now())
	var exists bool
	q := "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')"
	if s.dialect == DialectPostgres {
		q = "SELECT to_regclass('schema_migrations') IS NOT NULL"
	}
	if err := s.readRow(ctx, q).Scan(&exists); err != nil {
		return 0, fmt.Errorf("read the schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := s.readRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("read the schema version: %w", err)
	}
	return v, nil
}
