package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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

// purgeChunk is how many rows one purge statement deletes at most. Each
// chunk is its own short transaction, so a purge of millions of rows never
// holds SQLite's write lock (or PostgreSQL's row locks) for long: requests
// wait for one chunk at most, not for the whole purge. (A variable so that
// a test can make chunks small.)
var purgeChunk = 1000

// purgePause is how long a SQLite purge waits between chunks: SQLite's busy
// handler polls with growing sleeps, so a purge that took the write lock
// again at once would starve the requests waiting for it.
const purgePause = 10 * time.Millisecond

// chunk is how many rows one purge statement deletes at most: SQLite has
// one writer, so smaller chunks keep each request's wait short.
func (s *Store) chunk() int {
	if s.dialect == DialectPostgres {
		return purgeChunk
	}
	return max(1, purgeChunk/5)
}

// pause yields between purge chunks on SQLite.
func (s *Store) pause(ctx context.Context) error {
	if s.dialect == DialectPostgres {
		return nil
	}
	t := time.NewTimer(purgePause)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// PurgeExpired deletes rows that can no longer matter at now: one-time
// tokens and web sessions past expiry, refresh tokens past expiry (until
// then a rotated token is kept, since presenting it again is how theft is
// detected), families left without tokens once FamilyRetention has passed since
// their revocation (or creation), rate-limit rows whose window and block
// are over, and audit events older than Options.AuditRetention. It returns
// how many rows went. Safe to run on every replica at any time; it deletes in
// chunks of purgeChunk rows.
func (s *Store) PurgeExpired(ctx context.Context, now time.Time) (int64, error) {
	st, err := s.PurgeCycle(ctx, now)
	return st.Rows, err
}

// PurgeStats describes one purge cycle.
type PurgeStats struct {
	Rows   int64 // rows deleted
	Chunks int   // delete statements run
	// LongestChunk is the longest delete statement: on SQLite, the longest
	// time the purge held the one writer, i.e. kept a request waiting.
	LongestChunk time.Duration
}

// PurgeCycle is PurgeExpired with its figures.
func (s *Store) PurgeCycle(ctx context.Context, now time.Time) (PurgeStats, error) {
	defer s.track("PurgeExpired", time.Now())
	var stats PurgeStats
	total, err := s.purge(ctx, now, &stats)
	stats.Rows = total
	return stats, err
}

// chunkDone times one delete statement into st.
func (st *PurgeStats) chunkDone(began time.Time) {
	st.Chunks++
	st.LongestChunk = max(st.LongestChunk, time.Since(began))
}

func (s *Store) purge(ctx context.Context, now time.Time, stats *PurgeStats) (int64, error) {
	at, old := s.ts(now), s.ts(now.Add(-FamilyRetention))
	var total int64
	for _, st := range []struct{ what, table, cond string }{
		{"one-time tokens", "one_time_tokens", "expires_at < $1"},
		{"web sessions", "web_sessions", "expires_at < $1"},
		{"refresh tokens", "refresh_tokens", "expires_at < $1"},
		{"rate limits", "rate_limits", "expires_at < $1"},
	} {
		n, err := s.purgeChunked(ctx, stats, st.table, st.cond, at)
		total += n
		if err != nil {
			return total, fmt.Errorf("purge %s: %w", st.what, err)
		}
	}
	n, err := s.purgeFamilies(ctx, stats, old)
	total += n
	if err != nil {
		return total, fmt.Errorf("purge token families: %w", err)
	}
	n, err = s.purgeAudit(ctx, stats, s.ts(now.Add(-s.auditRetention)))
	total += n
	if err != nil {
		return total, fmt.Errorf("purge audit events: %w", err)
	}
	return total, nil
}

// purgeChunked deletes the rows of table matching cond (an indexed
// condition on $1) purgeChunk at a time, each chunk found through the
// index, until none is left.
func (s *Store) purgeChunked(ctx context.Context, stats *PurgeStats, table, cond string, arg any) (int64, error) {
	query := "DELETE FROM " + table + " WHERE rowid IN (SELECT rowid FROM " + table + " WHERE " + cond + " LIMIT %d)"
	if s.dialect == DialectPostgres {
		query = "DELETE FROM " + table + " WHERE ctid = ANY(ARRAY(SELECT ctid FROM " + table + " WHERE " + cond + " LIMIT %d))"
	}
	chunk := s.chunk()
	query = fmt.Sprintf(query, chunk)
	var total int64
	for {
		began := time.Now()
		res, err := s.exec(ctx, query, arg)
		stats.chunkDone(began)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		if n < int64(chunk) {
			return total, nil
		}
		if err := s.pause(ctx); err != nil {
			return total, err
		}
	}
}

// purgeFamilies deletes families without tokens whose revocation (or
// creation) is older than old. Their condition has no index, so it walks
// the table once in primary-key order, chunk() ids per statement,
// instead of rescanning the live families for every chunk.
func (s *Store) purgeFamilies(ctx context.Context, stats *PurgeStats, old any) (int64, error) {
	return purgeByIDChunks(ctx, s, stats, "token_families", "COALESCE(revoked_at, created_at) < $3"+
		" AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = token_families.id)", "", false, old)
}

// purgeAudit deletes audit events that occurred before before. Events are
// appended in time order, so it walks the table from its oldest id, chunk()
// ids per statement, and stops at the first chunk with nothing to delete:
// one walk over what is due, never a scan of the whole table (occurred_at
// has no index).
func (s *Store) purgeAudit(ctx context.Context, stats *PurgeStats, before any) (int64, error) {
	return purgeByIDChunks(ctx, s, stats, "audit_events", "occurred_at < $3", int64(0), true, before)
}

// purgeByIDChunks deletes the rows of table matching cond ($3 = arg) in
// primary-key order, chunk() ids per statement from first on, pausing
// between chunks; with stopWhenNoneDue it ends at the first chunk that
// deleted nothing (rows due come first in id order).
func purgeByIDChunks[K any](ctx context.Context, s *Store, stats *PurgeStats, table, cond string, first K, stopWhenNoneDue bool, arg any) (int64, error) {
	next := "SELECT MAX(id) FROM (SELECT id FROM " + table + " WHERE id > $1 ORDER BY id LIMIT %d) AS chunk"
	del := "DELETE FROM " + table + " WHERE id > $1 AND id <= $2 AND " + cond
	var total int64
	last := first
	for {
		var upto sql.Null[K]
		if err := s.queryRow(ctx, fmt.Sprintf(next, s.chunk()), last).Scan(&upto); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return total, err
		}
		if !upto.Valid {
			return total, nil
		}
		began := time.Now()
		res, err := s.exec(ctx, del, last, upto.V, arg)
		stats.chunkDone(began)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		if n == 0 && stopWhenNoneDue {
			return total, nil
		}
		last = upto.V
		if err := s.pause(ctx); err != nil {
			return total, err
		}
	}
}
