package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// FamilyRetention is how long a token family with no refresh tokens left is
// kept after its revocation (or creation): longer than any access token
// lives, so that a verifier rebuilding its revocation view still learns of
// a revoked family whose access tokens have not expired.
const FamilyRetention = 24 * time.Hour

// DefaultAuditRetention is how long audit events are kept unless
// Options.AuditRetention says otherwise (ALGA_MOBILE_AUDIT_RETENTION_SEC).
const DefaultAuditRetention = 90 * 24 * time.Hour

// PurgeExpired deletes rows that can no longer matter at now: one-time
// tokens and web sessions past expiry, refresh tokens past expiry (until
// then a rotated token is kept, since presenting it again is how theft is
// detected), families left without tokens once FamilyRetention has passed since
// their revocation (or creation), rate-limit rows whose window and block
// are over, and audit events older than Options.AuditRetention. It returns
// how many rows went. Safe to run on every replica at any time: every
// statement is idempotent, deletes only rows due at now, and runs in a
// short transaction of its own, sized to hold the store for purgeBudget
// at most (see chunker).
func (s *Store) PurgeExpired(ctx context.Context, now time.Time) (int64, error) {
	st, err := s.PurgeCycle(ctx, now)
	return st.Rows, err
}

// PurgeStats describes one purge cycle.
type PurgeStats struct {
	Rows   int64 // rows deleted
	Chunks int   // delete statements run
	// LongestChunk is the longest time one delete statement held the store,
	// from its BEGIN to its COMMIT: on SQLite, the longest time the purge
	// held the one writer, i.e. kept a request waiting.
	LongestChunk time.Duration
	// OverBudget and OverLimit count the statements that held the store
	// longer than purgeBudget and than PurgeStatementLimit.
	OverBudget, OverLimit int
	// MinChunkRows and MaxChunkRows are the smallest and largest row limits
	// the statements ran with (see chunker).
	MinChunkRows, MaxChunkRows int
	// WALBytes is the WAL written while the statements ran (PostgreSQL;
	// the server's, so it includes what requests wrote meanwhile): the
	// purge is paced by it (purgeWALRate).
	WALBytes int64
	// Tables has the same figures per table walked, in walk order: which
	// walk a long cycle spent its time in.
	Tables []TablePurge
}

// TablePurge is one table's share of a purge cycle.
type TablePurge struct {
	Table    string
	Rows     int64
	Chunks   int
	Took     time.Duration // from its first statement to its last pause
	WALBytes int64
}

// String is the operator's summary, e.g. "refresh_tokens 1200 rows, 9
// statements, 1.2s, WAL 2.0 MiB".
func (t TablePurge) String() string {
	return fmt.Sprintf("%s %d rows, %d statements, %s, WAL %.1f MiB", t.Table, t.Rows, t.Chunks, t.Took.Round(time.Millisecond), float64(t.WALBytes)/(1<<20))
}

// walk runs one table's walk and records its share in st.Tables, timed
// by the purge's stopwatch (see purgeClock).
func (s *Store) walk(st *PurgeStats, table string, fn func() (int64, error)) (int64, error) {
	chunks, wal, began := st.Chunks, st.WALBytes, s.purgeNow()
	n, err := fn()
	st.Tables = append(st.Tables, TablePurge{Table: table, Rows: n, Chunks: st.Chunks - chunks, Took: s.purgeNow().Sub(began), WALBytes: st.WALBytes - wal})
	return n, err
}

// PurgeStatementLimit is the longest a purge statement may hold the store
// (issue #12: a purge never holds a request up for more than 50 ms); the
// statements aim at a fifth of it (purgeBudget).
const PurgeStatementLimit = 50 * time.Millisecond

// PurgeCycle is PurgeExpired with its figures.
func (s *Store) PurgeCycle(ctx context.Context, now time.Time) (PurgeStats, error) {
	defer s.track("PurgeExpired", time.Now())
	var stats PurgeStats
	total, err := s.purge(ctx, now, &stats)
	stats.Rows = total
	return stats, err
}

// chunkDone records one delete statement of at most rows rows that held
// the store for took.
func (st *PurgeStats) chunkDone(rows int, took time.Duration) {
	if st.Chunks == 0 || rows < st.MinChunkRows {
		st.MinChunkRows = rows
	}
	st.MaxChunkRows = max(st.MaxChunkRows, rows)
	st.Chunks++
	st.LongestChunk = max(st.LongestChunk, took)
	if took > purgeBudget {
		st.OverBudget++
	}
	if took > PurgeStatementLimit {
		st.OverLimit++
	}
}

func (s *Store) purge(ctx context.Context, now time.Time, stats *PurgeStats) (int64, error) {
	at, old := s.ts(now), s.ts(now.Add(-FamilyRetention))
	var total int64
	for _, st := range []struct{ what, table string }{
		{"one-time tokens", "one_time_tokens"},
		{"web sessions", "web_sessions"},
		{"refresh tokens", "refresh_tokens"},
		{"rate limits", "rate_limits"},
	} {
		purge := s.purgeExpired
		if st.table == "refresh_tokens" && s.dialect == DialectPostgres {
			purge = s.purgeRefreshTokensPostgres
		}
		n, err := s.walk(stats, st.table, func() (int64, error) { return purge(ctx, stats, st.table, at) })
		total += n
		if err != nil {
			return total, fmt.Errorf("purge %s: %w", st.what, err)
		}
	}
	// Families go after their refresh tokens, so that the tokens are
	// deleted by the chunks above rather than by the foreign key's cascade
	// in one unbounded statement.
	n, err := s.walk(stats, "token_families", func() (int64, error) { return s.purgeFamilies(ctx, stats, old) })
	total += n
	if err != nil {
		return total, fmt.Errorf("purge token families: %w", err)
	}
	n, err = s.walk(stats, "audit_events", func() (int64, error) { return s.purgeAudit(ctx, stats, s.ts(now.Add(-s.auditRetention))) })
	total += n
	if err != nil {
		return total, fmt.Errorf("purge audit events: %w", err)
	}
	return total, nil
}

// purgeExpired deletes the rows of table whose expires_at (indexed) is
// before at, in chunks found through the index, until none is left.
func (s *Store) purgeExpired(ctx context.Context, stats *PurgeStats, table string, at any) (int64, error) {
	query := "DELETE FROM " + table + " WHERE rowid IN (SELECT rowid FROM " + table + " WHERE expires_at < $1 LIMIT $2)"
	if s.dialect == DialectPostgres {
		query = "DELETE FROM " + table + " WHERE ctid = ANY(ARRAY(SELECT ctid FROM " + table + " WHERE expires_at < $1 LIMIT $2))"
	}
	c := s.newChunker()
	var total int64
	for {
		limit := c.rows
		var n int64
		rest, err := s.purgeStatement(ctx, stats, c, query, func(tx *txn) error {
			res, err := tx.exec(ctx, query, at, limit)
			if err == nil {
				n, err = res.RowsAffected()
			}
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < int64(limit) {
			return total, nil
		}
		if err := s.purgeBreathe(ctx, rest); err != nil {
			return total, err
		}
	}
}

// purgeRefreshTokensPostgres is purgeExpired for PostgreSQL's refresh
// tokens, of which a purge may delete millions. PostgreSQL leaves a
// deleted row's index entries in place until a vacuum, so each chunk of
// purgeExpired would scan past every entry that the chunks before it
// deleted (and, while a long transaction anywhere keeps them from being
// marked dead, visit each one's row): quadratic, hundreds of milliseconds
// a statement by the end of a purge of millions. So this walk goes through
// the (expires_at, hash) index from where the previous chunk ended, and a
// cycle starts where this store's previous complete walk ended (less
// refreshWalkOverlap): its first statement otherwise scanned past every
// entry the previous cycle deleted that no vacuum had removed yet (471 ms
// and 1.5 s, the cycle after purging 500k tokens of a 200k-family store).
func (s *Store) purgeRefreshTokensPostgres(ctx context.Context, stats *PurgeStats, _ string, at any) (int64, error) {
	const (
		from  = "DELETE FROM refresh_tokens WHERE ctid = ANY(ARRAY(SELECT ctid FROM refresh_tokens WHERE expires_at < $1"
		order = " ORDER BY expires_at, hash LIMIT $2)) RETURNING expires_at, hash"
	)
	first, next := from+order, from+" AND (expires_at, hash) > ($3, $4)"+order
	c := s.newChunker()
	var total int64
	var lastAt time.Time
	var lastHash []byte
	cutoff, _ := at.(time.Time)
	if from := s.refreshWalk.from(cutoff); !from.IsZero() {
		lastAt, lastHash = from, []byte{} // (expires_at, hash) > (from, ''): from on
	}
	for {
		limit := c.rows
		var n int64
		rest, err := s.purgeStatement(ctx, stats, c, next, func(tx *txn) error {
			var rows *sql.Rows
			var err error
			if lastHash == nil {
				rows, err = tx.tx.QueryContext(ctx, first, at, limit)
			} else {
				rows, err = tx.tx.QueryContext(ctx, next, at, limit, lastAt, lastHash)
			}
			if err != nil {
				return err
			}
			defer func() { _ = rows.Close() }()
			for rows.Next() {
				var exp time.Time
				var hash []byte
				if err := rows.Scan(&exp, &hash); err != nil {
					return err
				}
				n++
				if lastHash == nil || exp.After(lastAt) || exp.Equal(lastAt) && bytes.Compare(hash, lastHash) > 0 {
					lastAt, lastHash = exp, hash
				}
			}
			return rows.Err()
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < int64(limit) {
			s.refreshWalk.done(cutoff)
			return total, nil
		}
		if err := s.purgeBreathe(ctx, rest); err != nil {
			return total, err
		}
	}
}

// refreshWalkOverlap is how far before the previous complete walk's
// cutoff the next walk of expired refresh tokens starts. Every row before
// that cutoff was deleted by the previous walk, and rows written since
// expire a refresh token's lifetime after they were written, so none can
// be due that far back unless a replica's clock is that far behind; a
// restarted process walks from the start again.
const refreshWalkOverlap = time.Hour

// walkMark remembers the cutoff of a store's last complete walk of expired
// PostgreSQL refresh tokens.
type walkMark struct {
	mu     sync.Mutex
	cutoff time.Time
}

// from is where a walk up to cutoff starts: zero (the start of the index)
// unless an earlier walk completed with a cutoff not after this one.
func (w *walkMark) from(cutoff time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cutoff.IsZero() || w.cutoff.After(cutoff) {
		return time.Time{}
	}
	return w.cutoff.Add(-refreshWalkOverlap)
}

func (w *walkMark) done(cutoff time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cutoff = cutoff
}

// purgeFamilies deletes families without tokens whose revocation (or
// creation) is older than old. Their condition has no index, so it walks
// the table once in primary-key order instead of rescanning the live
// families for every chunk.
func (s *Store) purgeFamilies(ctx context.Context, stats *PurgeStats, old any) (int64, error) {
	return purgeByIDChunks(ctx, s, stats, "token_families", "COALESCE(revoked_at, created_at) < $3"+
		" AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = token_families.id)", "", false, old)
}

// purgeAudit deletes audit events that occurred before before. Events are
// appended in time order, so it walks the table from its oldest id and
// stops at the first chunk with nothing to delete: one walk over what is
// due, never a scan of the whole table (occurred_at has no index).
func (s *Store) purgeAudit(ctx context.Context, stats *PurgeStats, before any) (int64, error) {
	return purgeByIDChunks(ctx, s, stats, "audit_events", "occurred_at < $3", int64(0), true, before)
}

// purgeByIDChunks deletes the rows of table matching cond ($3 = arg) in
// primary-key order from first on, a chunk of ids per statement (its
// bound read on SQLite's read pool, so that the writer is held by the
// delete alone; on PostgreSQL in the statement's transaction); with stopWhenNoneDue it ends at the first chunk that
// deleted nothing (rows due come first in id order).
func purgeByIDChunks[K any](ctx context.Context, s *Store, stats *PurgeStats, table, cond string, first K, stopWhenNoneDue bool, arg any) (int64, error) {
	next := "SELECT MAX(id) FROM (SELECT id FROM " + table + " WHERE id > $1 ORDER BY id LIMIT $2) AS chunk"
	del := "DELETE FROM " + table + " WHERE id > $1 AND id <= $2 AND " + cond
	due := "SELECT EXISTS (SELECT 1 FROM " + table + " WHERE id > $1 AND id <= $2 AND " + cond + ")"
	c := s.newChunker()
	var total int64
	last := first
	for {
		var upto sql.Null[K]
		bound := func(row rowScanner) error {
			if err := row.Scan(&upto); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			return nil
		}
		if s.dialect == DialectSQLite {
			if err := bound(s.readRow(ctx, next, last, c.rows)); err != nil {
				return total, err
			}
			if !upto.Valid {
				return total, nil
			}
			// Only a chunk with something to delete takes the one writer:
			// a walk over a table whose rows are mostly live (the
			// families, on every cycle) then reads instead of holding it
			// thousands of times to delete nothing.
			var found bool
			if err := s.readRow(ctx, due, last, upto.V, arg).Scan(&found); err != nil {
				return total, err
			}
			if !found {
				if stopWhenNoneDue {
					return total, nil
				}
				last = upto.V
				if err := s.purgeSleep(ctx, purgePause); err != nil {
					return total, err
				}
				continue
			}
		}
		var n int64
		rest, err := s.purgeStatement(ctx, stats, c, del, func(tx *txn) error {
			if s.dialect == DialectPostgres {
				// In the statement's transaction, for its generic plan
				// (see purgeStatement).
				if err := bound(tx.queryRow(ctx, next, last, c.rows)); err != nil || !upto.Valid {
					return err
				}
			}
			res, err := tx.exec(ctx, del, last, upto.V, arg)
			if err == nil {
				n, err = res.RowsAffected()
			}
			return err
		})
		if err != nil {
			return total, err
		}
		if !upto.Valid {
			return total, nil
		}
		total += n
		if n == 0 && stopWhenNoneDue {
			return total, nil
		}
		last = upto.V
		if err := s.purgeBreathe(ctx, rest); err != nil {
			return total, err
		}
	}
}
