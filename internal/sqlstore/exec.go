package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// Every statement goes through the helpers below: they rebind $n
// placeholders for SQLite and, on SQLite, reuse prepared statements.
// Preparing costs a SQLite statement about as much as running it; PostgreSQL
// needs no help, since pgx caches prepared statements per connection.

// stmtCache holds SQLite prepared statements by their $n query text.
// SQLite's only connection may be held by a transaction, so a statement is
// never prepared while one is open: a transaction that meets an unprepared
// query runs it unprepared and leaves it in missed, to be prepared once the
// transaction is over.
type stmtCache struct {
	enabled bool
	stmts   sync.Map // query -> *sql.Stmt
	missed  sync.Map // query -> struct{}
}

// lookup returns the prepared statement for query, if any.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	if !c.enabled {
		return nil
	}
	if v, ok := c.stmts.Load(query); ok {
		return v.(*sql.Stmt)
	}
	return nil
}

// prepare returns the statement for query, preparing it on a miss. It must
// not be called inside a transaction (see stmtCache). A failed prepare is
// not an error: the caller runs the query unprepared, and reports the
// query's own error if it has one.
func (c *stmtCache) prepare(ctx context.Context, db *sql.DB, query string) *sql.Stmt {
	if st := c.lookup(query); st != nil || !c.enabled {
		return st
	}
	st, err := db.PrepareContext(ctx, rebindSQLite(query))
	if err != nil {
		return nil
	}
	if v, loaded := c.stmts.LoadOrStore(query, st); loaded {
		_ = st.Close() // another goroutine won; ours was never used
		return v.(*sql.Stmt)
	}
	return st
}

// prepareMissed prepares the queries transactions met unprepared.
func (c *stmtCache) prepareMissed(ctx context.Context, db *sql.DB) {
	if !c.enabled {
		return
	}
	c.missed.Range(func(k, _ any) bool {
		c.missed.Delete(k)
		c.prepare(ctx, db, k.(string))
		return true
	})
}

func (c *stmtCache) close() error {
	var errs []error
	c.stmts.Range(func(k, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		c.stmts.Delete(k)
		return true
	})
	return errors.Join(errs...)
}

// q rebinds a query written with $n placeholders for the store's dialect.
func (s *Store) q(query string) string {
	if s.dialect == DialectSQLite {
		return rebindSQLite(query)
	}
	return query
}

// exec runs a statement outside a transaction.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	leave, err := s.wgate.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	if st := s.stmts.prepare(ctx, s.db, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return s.db.ExecContext(ctx, s.q(query), args...)
}

// queryRow runs a single-row query outside a transaction.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) rowScanner {
	leave, err := s.wgate.enter(ctx)
	if err != nil {
		return &gatedRow{err: err}
	}
	if st := s.stmts.prepare(ctx, s.db, query); st != nil {
		return &gatedRow{row: st.QueryRowContext(ctx, args...), leave: leave}
	}
	return &gatedRow{row: s.db.QueryRowContext(ctx, s.q(query), args...), leave: leave}
}

// readRow runs a single-row read-only query on the read pool.
func (s *Store) readRow(ctx context.Context, query string, args ...any) rowScanner {
	leave, err := s.rgate.enter(ctx)
	if err != nil {
		return &gatedRow{err: err}
	}
	if st := s.rstmts.prepare(ctx, s.rdb, query); st != nil {
		return &gatedRow{row: st.QueryRowContext(ctx, args...), leave: leave}
	}
	return &gatedRow{row: s.rdb.QueryRowContext(ctx, s.q(query), args...), leave: leave}
}

// read runs a multi-row read-only query on the read pool. The caller
// closes the rows (which gives the pool's slot back).
func (s *Store) read(ctx context.Context, query string, args ...any) (*gatedRows, error) {
	leave, err := s.rgate.enter(ctx)
	if err != nil {
		return nil, err
	}
	var rows *sql.Rows
	if st := s.rstmts.prepare(ctx, s.rdb, query); st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = s.rdb.QueryContext(ctx, s.q(query), args...)
	}
	if err != nil {
		leave()
		return nil, err
	}
	return &gatedRows{Rows: rows, leave: leave}, nil
}

// txn is a transaction whose statements are rebound and, when already
// prepared, reused.
type txn struct {
	s  *Store
	tx *sql.Tx
}

// stmt returns the transaction's handle on query's prepared statement, or
// nil (and notes the miss) when there is none yet.
func (t *txn) stmt(ctx context.Context, query string) *sql.Stmt {
	if st := t.s.stmts.lookup(query); st != nil {
		return t.tx.StmtContext(ctx, st)
	}
	if t.s.stmts.enabled {
		t.s.stmts.missed.Store(query, struct{}{})
	}
	return nil
}

func (t *txn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, t.s.q(query), args...)
}

func (t *txn) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, t.s.q(query), args...)
}

// inTx runs fn in a transaction, committing when it returns nil. On SQLite
// every transaction begins IMMEDIATE (the DSN sets _txlock), so the write
// lock is taken up front rather than upgraded mid-way, which is what causes
// SQLITE_BUSY deadlocks between concurrent writers.
func (s *Store) inTx(ctx context.Context, fn func(tx *txn) error) error {
	leave, err := s.wgate.enter(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer leave()
	defer s.stmts.prepareMissed(ctx, s.db)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(&txn{s: s, tx: tx}); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
