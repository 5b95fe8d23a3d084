package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// How the purge keeps each of its statements short. Every delete runs in a
// transaction of its own, and the number of rows it may touch adapts to how
// long the previous one held the store: a statement over purgeBudget
// shrinks the next one in proportion, one well under it grows the next one
// by an eighth. Between statements the purge steps aside for at least as
// long as the statement ran (at least purgePause), so that requests waiting
// for the store (SQLite's one writer, or the CPU a PostgreSQL backend
// shares with them) get it, and on SQLite it checkpoints the WAL from a
// connection of its own meanwhile, so that no statement, the purge's or a
// request's, pays for a checkpoint in its commit.

// purgeBudget is how long one purge statement should hold the store at
// most: a fifth of the 50 ms that a request may be held up by a purge, for
// a statement that takes 3 ms on an idle machine takes several times that
// on a busy one.
const purgeBudget = 10 * time.Millisecond

// purgePause is the least time the purge waits between two statements.
// SQLite's busy handler polls with growing sleeps, and database/sql hands
// a freed connection to a waiting request first, so a pause of a few
// milliseconds is enough for the waiting requests to get the writer.
const purgePause = 10 * time.Millisecond

// chunkLimits are the smallest, first and largest row limits of a purge
// statement per dialect. Each table's walk starts small, since the first
// statements after a start find the caches cold. SQLite's largest keeps one statement's WAL well
// under the 1,000 pages at which its commit would checkpoint (a deleted
// refresh token dirties about one page per index); PostgreSQL marks rows
// deleted without touching its indexes, so its statements can be larger.
var chunkLimits = map[string]struct{ min, first, max int }{
	DialectSQLite:   {min: 10, first: 20, max: 300},
	DialectPostgres: {min: 10, first: 50, max: 2000},
}

// chunker sizes successive purge statements on one table from how long
// the previous ones held the store.
type chunker struct {
	rows     int // the next statement's row limit
	min, max int
	budget   time.Duration
}

func (s *Store) newChunker() *chunker {
	l := chunkLimits[s.dialect]
	return &chunker{rows: l.first, min: l.min, max: l.max, budget: purgeBudget}
}

// done adapts the row limit to a statement of the current limit that held
// the store for took: over the budget, the next limit is three quarters of
// what would have fitted in it; under half the budget, it grows by an
// eighth (slowly: the machine's load comes and goes); within the bounds
// either way.
func (c *chunker) done(took time.Duration) {
	switch {
	case took > c.budget:
		c.rows = max(c.min, int(int64(c.rows)*int64(c.budget)*3/(4*int64(took))))
	case took < c.budget/2:
		c.rows = min(c.max, c.rows+max(1, c.rows/8))
	}
}

// purgeClock is the purge's stopwatch and sleep, injected by tests (nil
// fields: the wall clock and a timer).
type purgeClock struct {
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

func (s *Store) purgeNow() time.Time {
	if s.purgeClock.now != nil {
		return s.purgeClock.now()
	}
	return time.Now()
}

func (s *Store) purgeSleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	if s.purgeClock.sleep != nil {
		return s.purgeClock.sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// purgeStatement runs fn, one purge statement of c.rows rows at most, in a
// transaction of its own, and times how long it held the store (from its
// BEGIN, which on SQLite takes the write lock, to its COMMIT, which
// includes any WAL checkpoint there) into stats and c. On PostgreSQL too
// it commits durably, waiting for its WAL to be flushed: a delete writes
// WAL for every page it changes (a whole page after each checkpoint), and
// a commit that skipped the flush would leave it to the next request's
// commit, which flushes everything written before it (the 1M-user run
// with relaxed commits: 2,000-row statements timed at a few ms, requests
// waiting 100 ms and more on WALWrite/WALSync). Waited for here, the flush
// counts in the statement's time, so the chunker sizes statements by the
// WAL they write too, and the pause after one lasts as long. query is
// prepared first (on SQLite) so that the transaction reuses it.
func (s *Store) purgeStatement(ctx context.Context, stats *PurgeStats, c *chunker, query string, fn func(tx *txn) error) (time.Duration, error) {
	db := s.db
	s.stmts.prepare(ctx, s.db, query)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("begin transaction: %w", err)
	}
	began := s.purgeNow()
	if s.dialect == DialectPostgres {
		// A custom plan (pgx binds every execution) makes the planner look
		// up the actual lowest expires_at or id in the index for its
		// estimate, walking every entry the purge has deleted so far and
		// no vacuum has removed yet: 25-400 ms a statement by a few hundred
		// thousand rows into a purge (1M-user scale run). The generic plan
		// is the same index walk without that look-up.
		_, err = tx.ExecContext(ctx, "SET LOCAL plan_cache_mode = force_generic_plan")
	}
	if err != nil {
		err = errors.Join(err, ignoreDone(tx.Rollback()))
	} else if err = fn(&txn{s: s, tx: tx}); err != nil {
		err = errors.Join(err, ignoreDone(tx.Rollback()))
	} else if err = tx.Commit(); err != nil {
		err = fmt.Errorf("commit: %w", err)
	}
	took := s.purgeNow().Sub(began)
	stats.chunkDone(c.rows, took)
	c.done(took)
	return took, err
}

// purgeBreathe runs between two purge statements: on SQLite it checkpoints
// the WAL (PASSIVE: it never waits for, nor blocks, the writer or the
// readers), then it waits out the rest of max(purgePause, took), took
// being how long the last statement held the store.
func (s *Store) purgeBreathe(ctx context.Context, took time.Duration) error {
	began := s.purgeNow()
	if s.checkpointer != nil {
		// A failed checkpoint is not the purge's failure: the writer's own
		// automatic checkpoint still runs.
		var busy, log, done int
		_ = s.checkpointer.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &done)
	}
	return s.purgeSleep(ctx, max(purgePause, took)-s.purgeNow().Sub(began))
}
