package sqlstore

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// rebound caches SQLite forms of queries: the set of queries is fixed, so
// the cache stays small.
var rebound sync.Map // string -> string

// rebindSQLite turns PostgreSQL placeholders ($1) into SQLite's numbered
// ones (?1), which keep the numbering, so a parameter may appear twice.
// Queries never hold '$' inside string literals.
func rebindSQLite(query string) string {
	if v, ok := rebound.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	b.Grow(len(query))
	for i := 0; i < len(query); i++ {
		c := query[i]
		if c == '$' && i+1 < len(query) && query[i+1] >= '0' && query[i+1] <= '9' {
			c = '?'
		}
		b.WriteByte(c)
	}
	out := b.String()
	rebound.Store(query, out)
	return out
}

// ts encodes a time for the dialect: unix milliseconds on SQLite, a UTC
// TIMESTAMPTZ on PostgreSQL. Both keep milliseconds only, so the engines
// compare and round-trip identically.
func (s *Store) ts(t time.Time) any {
	ms := t.UnixMilli()
	if s.dialect == DialectSQLite {
		return ms
	}
	return time.UnixMilli(ms).UTC()
}

// tsPtr encodes an optional time; nil stays NULL.
func (s *Store) tsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return s.ts(*t)
}

// dbTime scans a time column of either dialect, NULL included.
type dbTime struct {
	t     time.Time
	valid bool
}

// Scan implements sql.Scanner.
func (d *dbTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d = dbTime{}
	case int64:
		*d = dbTime{t: time.UnixMilli(v).UTC(), valid: true}
	case time.Time:
		*d = dbTime{t: v.UTC(), valid: true}
	default:
		return fmt.Errorf("time column: unexpected %T", src)
	}
	return nil
}

// ptr returns the time, or nil for NULL.
func (d dbTime) ptr() *time.Time {
	if !d.valid {
		return nil
	}
	t := d.t
	return &t
}

// truncMS is what a time looks like after a round trip through the store.
func truncMS(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

// dbHash scans a 32-byte hash column; NULL leaves valid false.
type dbHash struct {
	h     mobileauth.Hash
	valid bool
}

// Scan implements sql.Scanner.
func (d *dbHash) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d = dbHash{}
		return nil
	case []byte:
		if len(v) != len(d.h) {
			return fmt.Errorf("hash column: %d bytes, want %d", len(v), len(d.h))
		}
		*d = dbHash{valid: true}
		copy(d.h[:], v)
		return nil
	}
	return fmt.Errorf("hash column: unexpected %T", src)
}

// ptr returns the hash, or nil for NULL.
func (d dbHash) ptr() *mobileauth.Hash {
	if !d.valid {
		return nil
	}
	h := d.h
	return &h
}

// hashArg passes a hash as BLOB/BYTEA.
func hashArg(h mobileauth.Hash) []byte { return h[:] }

// hashPtrArg passes an optional hash; nil stays NULL.
func hashPtrArg(h *mobileauth.Hash) any {
	if h == nil {
		return nil
	}
	return h[:]
}

// isUniqueViolation recognises both engines' unique/primary-key errors.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505" // unique_violation
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		c := sqErr.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// conflict maps a unique violation to ErrConflict and wraps anything else
// (an error already mapped is only wrapped).
func conflict(what string, err error) error {
	if isUniqueViolation(err) && !errors.Is(err, mobileauth.ErrConflict) {
		return fmt.Errorf("%s: %w: %w", what, mobileauth.ErrConflict, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}
