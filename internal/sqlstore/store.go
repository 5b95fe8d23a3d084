// Package sqlstore is the SQL implementation of every store interface of
// package mobileauth, for SQLite (modernc.org/sqlite, the embedded default)
// and PostgreSQL (pgx through database/sql, for replicas).
//
// One code path serves both engines: queries are written with PostgreSQL's
// numbered placeholders ($1) and rebound to SQLite's (?1); times travel as
// unix milliseconds on SQLite and as TIMESTAMPTZ on PostgreSQL, both
// truncated to the millisecond so that the engines behave identically.
// Every operation that must hold across replicas (consuming a one-time
// token, rotating a refresh token, counting rate-limit hits) is a single
// conditional statement that changes exactly one row for exactly one caller.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// Dialect names returned by Store.Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// Options tune Open. The zero value suits CLI admin commands.
type Options struct {
	// Exclusive takes an advisory lock on an SQLite database so that a second
	// server on the same file refuses to start (serve sets it; admin commands
	// do not, so they can run next to a server). Ignored for PostgreSQL.
	Exclusive bool
	// Now is the clock for the few times the store stamps itself (migration
	// and secret creation, audit events without a time). Default time.Now.
	Now func() time.Time
	// Observe, when set, is called after every store operation with its name
	// and duration (the caller feeds a latency histogram).
	Observe func(op string, d time.Duration)
	// MaxConns caps PostgreSQL connections per process (default 16). SQLite
	// always uses one connection: its writers serialise anyway, and queueing
	// in Go is cheaper than SQLITE_BUSY retries.
	MaxConns int
	// MustExist opens an SQLite database only if its file exists, and
	// fails with ErrNoDatabase otherwise: admin commands open the store
	// serve uses, and a typo or another working directory must not create
	// an empty one elsewhere. PostgreSQL databases are never created.
	MustExist bool
	// AuditRetention is how long audit events are kept: each purge deletes
	// older ones. Zero means DefaultAuditRetention.
	AuditRetention time.Duration
	// PurgeEvery is how often RunPurge runs a purge cycle. Zero means
	// DefaultPurgeEvery.
	PurgeEvery time.Duration
}

// ErrNoDatabase is Open's error, with Options.MustExist, when the SQLite
// file does not exist.
var ErrNoDatabase = errors.New("no database file there")

// Store implements the mobileauth store interfaces on one *sql.DB.
type Store struct {
	db *sql.DB
	// rdb serves reads that need no transaction. On SQLite it is a second,
	// query-only pool: WAL lets readers run beside the one writer, so
	// lookups no longer queue behind writes. On PostgreSQL it is db.
	rdb    *sql.DB
	rstmts stmtCache
	// relaxed, on PostgreSQL only, is a pool for writes that may skip the
	// durable commit (rate-limit counters); nil on SQLite.
	relaxed *sql.DB
	// wgate, rgate and xgate bound the wait for a connection of db, rdb
	// and relaxed (rgate is wgate when rdb is db); see gate.
	wgate, rgate, xgate *gate
	dialect             string
	where               string // Location
	now                 func() time.Time
	observe             func(op string, d time.Duration)
	lock                *os.File // SQLite advisory lock, nil when not exclusive
	stmts               stmtCache
	// auditRetention and purgeEvery are Options' (defaults applied).
	auditRetention, purgeEvery time.Duration
	// checkpointer, on SQLite only, is a connection of its own on which
	// the purge checkpoints the WAL between its statements; nil on
	// PostgreSQL.
	checkpointer *sql.DB
	purgeClock   purgeClock // tests' stopwatch for the purge
	// refreshWalk is where the next PostgreSQL walk of expired refresh
	// tokens may start (purgeRefreshTokensPostgres).
	refreshWalk walkMark
}

// Compile-time proof that Store serves every interface the use cases need.
var (
	_ mobileauth.OTTStore       = (*Store)(nil)
	_ mobileauth.SessionStore   = (*Store)(nil)
	_ mobileauth.RefreshStore   = (*Store)(nil)
	_ mobileauth.KeyStore       = (*Store)(nil)
	_ mobileauth.DirectoryStore = (*Store)(nil)
	_ mobileauth.AuditStore     = (*Store)(nil)
	_ mobileauth.RateLimiter    = (*Store)(nil)
	_ mobileauth.Pinger         = (*Store)(nil)
)

// Open connects to the database named by url (SPEC §2
// ALGA_MOBILE_DATABASE_URL): "sqlite:<path>", "sqlite://<path>",
// "file:<path>", or "postgres://…"/"postgresql://…". It does not migrate;
// call Migrate. Errors never contain the URL's password.
func Open(ctx context.Context, url string, o Options) (*Store, error) {
	target, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	s := &Store{dialect: target.dialect, now: o.Now, observe: o.Observe, where: target.location(),
		auditRetention: o.AuditRetention, purgeEvery: o.PurgeEvery}
	if s.auditRetention <= 0 {
		s.auditRetention = DefaultAuditRetention
	}
	if s.purgeEvery <= 0 {
		s.purgeEvery = DefaultPurgeEvery
	}
	if s.now == nil {
		s.now = time.Now
	}
	switch target.dialect {
	case DialectSQLite:
		if o.MustExist {
			if _, err := os.Stat(target.path); errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%s: %w", s.where, ErrNoDatabase)
			}
		}
		err = s.openSQLite(ctx, target.path, o.Exclusive)
	default:
		err = s.openPostgres(ctx, target, o.MaxConns)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Close closes the database and releases the SQLite lock.
func (s *Store) Close() error {
	err := errors.Join(s.stmts.close(), s.rstmts.close(), s.db.Close())
	if s.rdb != nil && s.rdb != s.db {
		err = errors.Join(err, s.rdb.Close())
	}
	if s.relaxed != nil {
		err = errors.Join(err, s.relaxed.Close())
	}
	if s.checkpointer != nil {
		err = errors.Join(err, s.checkpointer.Close())
	}
	if s.lock != nil {
		// Closing the descriptor releases the flock.
		err = errors.Join(err, s.lock.Close())
		s.lock = nil
	}
	return err
}

// Location says which database this is, without any password:
// "sqlite:<absolute path>" or "postgres://user@host:port/database".
func (s *Store) Location() string { return s.where }

// Dialect reports "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

// DB exposes the database to tests that read tables directly; production
// code never calls it (internal/app/layering_test.go holds that line).
func (s *Store) DB() *sql.DB { return s.db }

// PoolStats is the main connection pool's statistics (for metrics). The
// wait for a connection that gate bounds is counted in the store
// operations' latency, not here.
func (s *Store) PoolStats() sql.DBStats { return s.db.Stats() }

// Ping reports whether the database answers (for /readyz).
func (s *Store) Ping(ctx context.Context) error {
	defer s.track("Ping", time.Now())
	var one int
	if err := s.queryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping %s: %w", s.dialect, err)
	}
	return nil
}

// track reports an operation's latency to Options.Observe; use it as
// `defer s.track("Op", time.Now())`. Latency is wall time on purpose, not
// the injected clock.
func (s *Store) track(op string, start time.Time) {
	if s.observe != nil {
		s.observe(op, time.Since(start))
	}
}

func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// rowsAffectedErr turns "no row matched" into ErrNotFound.
func rowsAffectedErr(what string, res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: rows affected: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, mobileauth.ErrNotFound)
	}
	return nil
}

// notFound maps sql.ErrNoRows to mobileauth.ErrNotFound and wraps the rest.
func notFound(what string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, mobileauth.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}
