package algapsa

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// DefaultMaxConns is the pool size: AlgaPSA's database is shared with the
// web app, so the sidecar keeps to a few connections.
const DefaultMaxConns = 4

// Options configure Open. The zero value is fine for production.
type Options struct {
	// MaxConns caps the pool (DefaultMaxConns when 0) unless the URL sets
	// pool_max_conns.
	MaxConns int32
	// Rand is the source of API keys (crypto/rand when nil).
	Rand io.Reader
}

// DB is a connection pool to AlgaPSA's database. It is safe for
// concurrent use.
type DB struct {
	pool    *pgxpool.Pool
	rand    io.Reader
	lookups *keyLookups // VerifyAPIKey's batched queries
	hints   *keyHints   // each family's last key minted here
}

// Open parses a postgres:// URL and creates the pool. It does not connect:
// Ping does (check and /readyz use it). Errors never repeat the URL, which
// holds a password.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errors.New("AlgaPSA database URL is not a valid postgres:// URL (not repeated here: it may hold a password)")
	}
	// The URL's own pool_max_conns wins: it is how an operator sizes the
	// pool for their database.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = opts.MaxConns
		if cfg.MaxConns <= 0 {
			cfg.MaxConns = DefaultMaxConns
		}
	}
	cfg.MinConns = 0
	// Idle connections go back to AlgaPSA's database soon after a burst:
	// the web app shares its connection limit.
	cfg.MaxConnIdleTime = time.Minute
	// Every statement here is a single conditional UPDATE or a short
	// transaction whose race is decided by row locks or an advisory lock:
	// READ COMMITTED is what they are written for, whatever the default.
	cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "read committed"
	cfg.ConnConfig.RuntimeParams["application_name"] = "alga-mobile-auth"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("AlgaPSA database: %w", err)
	}
	r := opts.Rand
	if r == nil {
		r = rand.Reader
	}
	d := &DB{pool: pool, rand: r, hints: newKeyHints()}
	d.lookups = newKeyLookups(keyLookupWorkers, d.verifyKeys)
	return d, nil
}

// Close releases every connection.
func (d *DB) Close() { d.pool.Close() }

// Ping reports whether AlgaPSA's database answers (for /readyz and check).
func (d *DB) Ping(ctx context.Context) error {
	if err := d.pool.Ping(ctx); err != nil {
		return fmt.Errorf("AlgaPSA database: %w", err)
	}
	return nil
}

// validUUID reports whether s is a UUID in any of the forms PostgreSQL
// accepts for a uuid column; anything else is answered "not found" before
// it reaches SQL.
func validUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) <= 38
}

// canonicalUUID is s in PostgreSQL's text form of a uuid (lower case, with
// hyphens), for comparing with a uuid column read as text; s must be valid.
func canonicalUUID(s string) string { return uuid.MustParse(s).String() }

// notFound wraps mobileauth.ErrNotFound with what was looked for.
func notFound(what string) error { return fmt.Errorf("%s: %w", what, mobileauth.ErrNotFound) }

// noRows maps pgx.ErrNoRows to ErrNotFound and wraps anything else.
func noRows(what string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound(what)
	}
	return fmt.Errorf("%s: %w", what, err)
}
