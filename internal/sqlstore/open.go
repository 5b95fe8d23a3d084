package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"

	// Registers the pure-Go "sqlite" database/sql driver.
	_ "modernc.org/sqlite"
)

// defaultPostgresConns is the per-process PostgreSQL pool size.
const defaultPostgresConns = 16

// sqlitePragmas configure every SQLite connection: a busy timeout for the
// admin CLI writing next to a server, WAL so readers never block the writer,
// synchronous=NORMAL (durable at checkpoints, never corrupt; the usual WAL
// choice), foreign keys on, IMMEDIATE transactions (see Store.inTx), and a
// WAL file truncated back to 64 MiB after each checkpoint (a purge of
// millions of rows otherwise leaves it hundreds of MiB large for good).
const sqlitePragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)" +
	"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_pragma=journal_size_limit(67108864)&_txlock=immediate"

// sqliteReadPragmas configure the read pool's connections (WAL mode is a
// property of the file, set by the writer).
// Each reader keeps a small page cache (1 MiB): the hot rows are few, and
// memory stays within the service's budget.
const sqliteReadPragmas = "_pragma=busy_timeout(5000)&_pragma=query_only(1)&_pragma=foreign_keys(1)&_pragma=cache_size(-1024)"

// sqliteCheckpointPragmas configure the connection that checkpoints the
// WAL during a purge (Store.purgeBreathe): a tiny page cache, since a
// checkpoint copies pages from the WAL to the database file without it.
const sqliteCheckpointPragmas = "_pragma=busy_timeout(5000)&_pragma=cache_size(-64)"

// sqliteReaders is the size of the SQLite read pool.
const sqliteReaders = 3

// target is a parsed database URL.
type target struct {
	dialect string
	path    string          // SQLite file
	pgCfg   *pgx.ConnConfig // PostgreSQL connection settings
}

// location names the database for operators, without any password.
func (t target) location() string {
	if t.dialect == DialectSQLite {
		if abs, err := filepath.Abs(t.path); err == nil {
			return "sqlite:" + abs
		}
		return "sqlite:" + t.path
	}
	c := t.pgCfg
	return fmt.Sprintf("postgres://%s@%s/%s", c.User, net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))), c.Database)
}

// parseURL recognises the database URL forms; its errors quote at most the
// scheme, never the rest, since the rest may hold a password.
func parseURL(raw string) (target, error) {
	raw = strings.TrimSpace(raw)
	scheme, rest, ok := strings.Cut(raw, ":")
	if raw == "" {
		return target{}, errors.New("database URL is empty: want sqlite:<path> or postgres://…")
	}
	if !ok {
		return target{}, errors.New("database URL has no scheme: want sqlite:<path> or postgres://…")
	}
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3", "file":
		return parseSQLite(rest)
	case "postgres", "postgresql":
		// pgx wants the scheme in lower case.
		return parsePostgres(strings.ToLower(scheme) + ":" + rest)
	}
	if !isSchemeName(scheme) {
		return target{}, errors.New("database URL has no recognisable scheme: want sqlite:<path> or postgres://…")
	}
	return target{}, fmt.Errorf("database URL scheme %q is not supported: want sqlite:<path> or postgres://…", scheme)
}

// isSchemeName reports whether s looks like a URL scheme, so that quoting it
// cannot leak anything else (such as a password before an '@').
func isSchemeName(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

func parseSQLite(rest string) (target, error) {
	// "sqlite:///abs/path" and "sqlite://rel/path" both name a path after "//".
	path := strings.TrimPrefix(rest, "//")
	if path == "" {
		return target{}, errors.New("sqlite database URL names no file: want sqlite:<path>, e.g. sqlite:./data/mobile-auth.db")
	}
	if strings.ContainsAny(path, "?#") {
		return target{}, errors.New("sqlite database path must not contain '?' or '#' (options are set by the service)")
	}
	return target{dialect: DialectSQLite, path: path}, nil
}

func parsePostgres(raw string) (target, error) {
	// Both parsers quote their input in errors (pgx redacts on a best-effort
	// basis only), so their messages are not passed on.
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		return target{}, errors.New("invalid PostgreSQL URL: check its host, port and parameters " +
			"(the URL is not repeated here because it may hold a password); " +
			"want postgres://user:password@host:port/database?sslmode=…")
	}
	return target{dialect: DialectPostgres, pgCfg: cfg}, nil
}

func (s *Store) openSQLite(ctx context.Context, path string, exclusive bool) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("create directory for sqlite database %s: %w", path, err)
		}
	}
	// The file holds private signing keys: create it owner-only (SQLite
	// gives its -wal and -shm files the same mode).
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) //nolint:gosec // G304: the operator's configured database file
	if err != nil {
		return fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	if exclusive {
		f, err := lockFile(path + ".lock")
		if err != nil {
			return err
		}
		s.lock = f
	}
	db, err := sql.Open("sqlite", path+"?"+sqlitePragmas)
	if err != nil {
		return errors.Join(fmt.Errorf("open sqlite database %s: %w", path, err), s.unlock())
	}
	// One connection: SQLite has one writer at a time, and waiting in the
	// database/sql pool beats SQLITE_BUSY retries with sleeps. The
	// connection is kept forever so its pragmas hold.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		return errors.Join(fmt.Errorf("open sqlite database %s: %w", path, err), db.Close(), s.unlock())
	}
	s.db = db
	s.wgate = newGate(1)
	s.stmts.enabled = true
	// Readers: query-only connections that never write, so they cannot
	// take the write lock; a few of them serve lookups concurrently.
	rdb, err := sql.Open("sqlite", path+"?"+sqliteReadPragmas)
	if err != nil {
		return errors.Join(fmt.Errorf("open sqlite database %s: %w", path, err), db.Close(), s.unlock())
	}
	rdb.SetMaxOpenConns(sqliteReaders)
	rdb.SetMaxIdleConns(sqliteReaders)
	rdb.SetConnMaxLifetime(0)
	rdb.SetConnMaxIdleTime(0)
	s.rdb = rdb
	s.rgate = newGate(sqliteReaders)
	s.rstmts.enabled = true
	// The purge's checkpointer: one connection, opened on first use.
	ckpt, err := sql.Open("sqlite", path+"?"+sqliteCheckpointPragmas)
	if err != nil {
		return errors.Join(fmt.Errorf("open sqlite database %s: %w", path, err), rdb.Close(), db.Close(), s.unlock())
	}
	ckpt.SetMaxOpenConns(1)
	ckpt.SetMaxIdleConns(1)
	ckpt.SetConnMaxLifetime(0)
	ckpt.SetConnMaxIdleTime(0)
	s.checkpointer = ckpt
	return nil
}

func (s *Store) unlock() error {
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close()
	s.lock = nil
	return err
}

func (s *Store) openPostgres(ctx context.Context, t target, maxConns int) error {
	if maxConns <= 0 {
		maxConns = defaultPostgresConns
	}
	// Single-statement claims (OTT consumption, rotation, rate-limit
	// upserts) rely on READ COMMITTED: a loser waits for the winner, re-checks
	// the row and finds nothing to claim. Under a stricter default (set on the
	// database, the role or the URL) losers would get serialization
	// failures, i.e. 500s instead of 401s or grace replays, so every
	// connection asks for READ COMMITTED whatever the default.
	cfg := t.pgCfg.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["default_transaction_isolation"] = "read committed"
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(maxConns)
	// As many idle as open: a smaller idle pool would close and reopen
	// connections under steady load.
	db.SetMaxIdleConns(maxConns)
	if err := db.PingContext(ctx); err != nil {
		c := t.pgCfg
		err = fmt.Errorf("connect to PostgreSQL at %s:%d (database %q, user %q): %w", c.Host, c.Port, c.Database, c.User, err)
		return errors.Join(redact(err, c.Password), db.Close())
	}
	s.db = db
	s.rdb = db
	s.wgate = newGate(maxConns)
	s.rgate = s.wgate
	// Rate-limit counters are written through their own small pool whose
	// commits do not wait for the WAL flush (synchronous_commit=off): a
	// crash may forget the last fraction of a second of counts, which is
	// harmless, and each request saves two durable commits. Tokens and
	// audit events keep full durability on the main pool.
	relaxedCfg := cfg.Copy()
	relaxedCfg.RuntimeParams["synchronous_commit"] = "off"
	relaxed := stdlib.OpenDB(*relaxedCfg)
	relaxed.SetMaxOpenConns(max(2, maxConns/2))
	relaxed.SetMaxIdleConns(max(2, maxConns/2))
	s.relaxed = relaxed
	s.xgate = newGate(max(2, maxConns/2))
	return nil
}

// redactedError hides a secret in the message of the error it wraps while
// keeping the chain for errors.Is/As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact removes secret from err's message. Drivers do not normally echo
// passwords, but a connection error is logged, so make sure. Only the
// password as a whole value (clear or URL-encoded) is hidden: a very short
// one must not blank its letters all over the message.
func redact(err error, secret string) error {
	msg := mobileauth.RedactSecret(err.Error(), secret, "xxxxx")
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}
