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
// request's, pays for a checkpoint in its commit. On PostgreSQL the pause
// after a statement also lasts as long as writing its WAL at purgeWALRate
// takes (see walPause).

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
// statements after a start find the caches cold. SQLite's largest keeps one
// statement's WAL well under the 1,000 pages at which its commit would
// checkpoint (a deleted refresh token dirties about one page per index),
// and its time short when the machine stalls it: it was 300 until session
// 7, when 2 of 34,581 statements of a 1M-user purge still held the writer
// over 50 ms (60 ms). PostgreSQL marks rows deleted without touching its
// indexes, so its statements can be larger; since the purge is paced by
// its WAL there (purgeWALRate), a larger statement no longer makes the
// purge faster, only its commit's WAL flush longer, which requests'
// commits queue behind: 500 (2,000 until session 7, when statements
// reached 1,500 rows and ~700 KB of WAL each).
var chunkLimits = map[string]struct{ min, first, max int }{
	DialectSQLite:   {min: 10, first: 20, max: 150},
	DialectPostgres: {min: 10, first: 50, max: 500},
}

// purgeCalm is how long after a statement over the budget the row limit
// stays where that statement put it instead of growing back: on a shared
// machine a busy spell (CPU or I/O) lasts seconds, and a limit growing by
// an eighth a statement was back at its ceiling within a quarter of a
// second, so every busy spell found statements sized for a quiet machine.
const purgeCalm = 2 * time.Second

// chunker sizes successive purge statements on one table from how long
// the previous ones held the store.
type chunker struct {
	rows     int // the next statement's row limit
	min, max int
	budget   time.Duration
	// calmUntil is when the limit may grow again (see purgeCalm).
	calmUntil time.Time
}

func (s *Store) newChunker() *chunker {
	l := chunkLimits[s.dialect]
	return &chunker{rows: l.first, min: l.min, max: l.max, budget: purgeBudget}
}

// done adapts the row limit to a statement of the current limit that held
// the store for took, ending at now: over the budget, the next limit is
// three quarters of what would have fitted in it, and it does not grow
// for purgeCalm; under half the budget (and calm), it grows by an eighth
// (slowly: the machine's load comes and goes); within the bounds either
// way.
func (c *chunker) done(took time.Duration, now time.Time) {
	switch {
	case took > c.budget:
		c.rows = max(c.min, int(int64(c.rows)*int64(c.budget)*3/(4*int64(took))))
		c.calmUntil = now.Add(purgeCalm)
	case took < c.budget/2 && !now.Before(c.calmUntil):
		c.rows = min(c.max, c.rows+max(1, c.rows/8))
	}
}

// purgeWALRate is how many bytes of WAL per second the purge writes at
// most on PostgreSQL: a statement and the pause after it last at least as
// long as writing that statement's WAL at this rate takes (walPause). PostgreSQL
// checkpoints every max_wal_size/(1+checkpoint_completion_target) of WAL
// (539 MB at the defaults, 1 GB and 0.9) or every checkpoint_timeout (5
// min). Unpaced, a 1M-user purge wrote 20 MB/s, a checkpoint every 26 s,
// and each checkpoint's sync phase (fsync of every data file the purge
// dirtied) held requests' commits up to 306 ms (session 6). At 2 MiB/s,
// with the requests' own WAL, checkpoints come every few minutes and have
// far less to sync; a backlog of 1M users (3.3M rows; a deleted row's WAL
// grows to ~2 KB late in the walk) takes more than half an hour, and a steady-state cycle deletes only what
// expired in the last interval. Operators run PostgreSQL at its defaults,
// so the purge must behave at them; a fixed rate, not a setting.
const purgeWALRate = 2 << 20

// walPause is how long writing wal bytes of WAL at purgeWALRate takes.
func walPause(wal int64) time.Duration {
	if wal <= 0 {
		return 0
	}
	return time.Duration(wal * int64(time.Second) / purgeWALRate)
}

// walPosition is PostgreSQL's current WAL insert position in bytes, read
// on the pool; false on SQLite, or when the server does not tell (then
// the purge runs unpaced by WAL, as before).
func (s *Store) walPosition(ctx context.Context) (int64, bool) {
	if s.purgeClock.wal != nil {
		return s.purgeClock.wal()
	}
	if s.dialect != DialectPostgres {
		return 0, false
	}
	var pos int64
	if err := s.db.QueryRowContext(ctx, "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint").Scan(&pos); err != nil {
		return 0, false
	}
	return pos, true
}

// purgeClock is the purge's stopwatch, sleep and WAL meter, injected by
// tests (nil fields: the wall clock, a timer and walPosition's query).
type purgeClock struct {
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	wal   func() (int64, bool)
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
//
// It returns how long the purge should step aside after the statement:
// as long as it held the store, or, on PostgreSQL, what is left of the
// time writing the WAL written meanwhile takes at purgeWALRate once the
// statement's own time is counted, if longer (that WAL is read
// from the server's insert position before and after, so it includes what
// requests wrote during the statement's few milliseconds).
func (s *Store) purgeStatement(ctx context.Context, stats *PurgeStats, c *chunker, query string, fn func(tx *txn) error) (time.Duration, error) {
	db := s.db
	s.stmts.prepare(ctx, s.db, query)
	walFrom, walOK := s.walPosition(ctx)
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
	ended := s.purgeNow()
	took := ended.Sub(began)
	stats.chunkDone(c.rows, took)
	c.done(took, ended)
	rest := took
	if walTo, ok := s.walPosition(ctx); walOK && ok && walTo > walFrom {
		stats.WALBytes += walTo - walFrom
		// The statement's own time counts in its WAL's time: the pause
		// makes up the rest (until session 9 it was added on top, which
		// halved the rate and stretched a 1M-user backlog past 45 min).
		rest = max(rest, walPause(walTo-walFrom)-took)
	}
	return rest, err
}

// purgeBreathe runs between two purge statements: on SQLite it checkpoints
// the WAL (PASSIVE: it never waits for, nor blocks, the writer or the
// readers), then it waits out the rest of max(purgePause, rest), rest
// being what purgeStatement returned for the last statement.
func (s *Store) purgeBreathe(ctx context.Context, rest time.Duration) error {
	began := s.purgeNow()
	if s.checkpointer != nil {
		// A failed checkpoint is not the purge's failure: the writer's own
		// automatic checkpoint still runs.
		var busy, log, done int
		_ = s.checkpointer.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &done)
	}
	return s.purgeSleep(ctx, max(purgePause, rest)-s.purgeNow().Sub(began))
}
