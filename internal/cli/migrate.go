package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/config"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
)

// connectTimeout bounds opening the database, so that an unreachable
// PostgreSQL host fails an admin command instead of hanging it. The
// command itself runs under the caller's context only: a large import may
// legitimately take longer.
const connectTimeout = 15 * time.Second

// openStore opens the database named by ALGA_MOBILE_DATABASE_URL without
// migrating it. It is non-exclusive, so admin commands can run beside a
// serving process on the same SQLite file. Only a problem with the database
// variable itself stops it: an unrelated configuration mistake (a bad TTL,
// a missing NEXTAUTH_URL) must not lock the operator out of the directory.
// Only migrate (and serve, through app.Open) create an SQLite file: with
// create false a missing file is an error that says where it looked.
func openStore(ctx context.Context, create bool) (*sqlstore.Store, error) {
	cfg, err := config.Load()
	var problems config.Problems
	if errors.As(err, &problems) {
		for _, p := range problems {
			if p.Var == "ALGA_MOBILE_DATABASE_URL" {
				return nil, errors.New(p.String())
			}
		}
	} else if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	st, err := sqlstore.Open(ctx, cfg.DatabaseURL.Value(), sqlstore.Options{MustExist: !create})
	if errors.Is(err, sqlstore.ErrNoDatabase) {
		return nil, noStore(err)
	}
	if err != nil {
		return nil, oneLine{fmt.Errorf("open the database (ALGA_MOBILE_DATABASE_URL): %w", err)}
	}
	return st, nil
}

// noStore explains, in one line, that an admin command found no store
// where it looked and how to point it at the right one.
func noStore(err error) error {
	return fmt.Errorf("open the database (ALGA_MOBILE_DATABASE_URL): no store at %s: %s", strings.TrimSuffix(err.Error(), ": "+sqlstore.ErrNoDatabase.Error()), noStoreFix)
}

const noStoreFix = "run this command where serve runs or with the same ALGA_MOBILE_DATABASE_URL " +
	"(the default sqlite:./data/mobile-auth.db is relative to the current directory), " +
	"or create the store with 'alga-mobile-auth migrate'"

// printStore says on stderr which store a command used, so that a command
// run in the wrong place or with the wrong settings is noticed.
func printStore(e Env, cmd string, st *sqlstore.Store) {
	fmt.Fprintf(e.Stderr, "alga-mobile-auth %s: store %s\n", cmd, st.Location())
}

// oneLine flattens a multi-line error (pgx lists every address it tried on
// its own line) so that a failure stays one line on stderr. A line said
// twice is said once: pgx tries an address again without TLS
// (sslmode=prefer) and reports the same refusal for each attempt.
type oneLine struct{ err error }

func (o oneLine) Error() string {
	var lines []string
	seen := map[string]bool{}
	for _, l := range strings.FieldsFunc(o.err.Error(), func(r rune) bool { return r == '\n' || r == '\r' }) {
		l = strings.TrimSpace(l)
		if !seen[l] {
			seen[l] = true
			lines = append(lines, l)
		}
	}
	return strings.ReplaceAll(strings.Join(lines, "; "), ":; ", ": ")
}

func (o oneLine) Unwrap() error { return o.err }

// withStore opens an existing store, brings its schema up to date, runs
// fn, and closes the store. It never creates a store: a missing SQLite file
// or a database without this service's schema is an error naming where it
// looked. Failures to open, migrate or close are operational: one line on
// stderr and ExitFail.
func withStore(e Env, cmd string, fn func(st *sqlstore.Store) int) int {
	st, err := openStore(e.Ctx, false)
	if err != nil {
		return fail(e, cmd, err)
	}
	// An empty database (a PostgreSQL database serve never ran on, an empty
	// file) is no store either: its schema would be created here.
	if v, err := st.SchemaVersion(e.Ctx); err != nil || v == 0 {
		where := st.Location()
		_ = st.Close()
		return fail(e, cmd, fmt.Errorf("open the database (ALGA_MOBILE_DATABASE_URL): %s has no alga-mobile-auth schema: %s", where, noStoreFix))
	}
	printStore(e, cmd, st)
	if err := st.Migrate(e.Ctx); err != nil {
		return fail(e, cmd, errors.Join(fmt.Errorf("migrate the database: %w", err), st.Close()))
	}
	code := fn(st)
	if err := st.Close(); err != nil && code == ExitOK {
		return fail(e, cmd, fmt.Errorf("close the database: %w", err))
	}
	return code
}

// runMigrate is `migrate`: bring the schema to this binary's newest
// version and say where it stands.
func runMigrate(e Env) int {
	fs := flags("migrate")
	usage := "migrate\n\nCreates or upgrades the database schema (ALGA_MOBILE_DATABASE_URL). Safe to run beside\n" +
		"a running server and on several replicas at once; serve also migrates on start."
	if code, ok := parse(e, fs, usage, 0); !ok {
		return code
	}
	st, err := openStore(e.Ctx, true)
	if err != nil {
		return fail(e, "migrate", err)
	}
	printStore(e, "migrate", st)
	// Before the first migration the bookkeeping table does not exist and
	// the read fails: that is version 0, and Migrate reports any real
	// connection problem itself.
	before, err := st.SchemaVersion(e.Ctx)
	if err != nil {
		before = 0
	}
	if err := st.Migrate(e.Ctx); err != nil {
		return fail(e, "migrate", errors.Join(fmt.Errorf("migrate the database: %w", err), st.Close()))
	}
	after, err := st.SchemaVersion(e.Ctx)
	if err = errors.Join(err, st.Close()); err != nil {
		return fail(e, "migrate", err)
	}
	if after == before {
		fmt.Fprintf(e.Stdout, "%s schema at version %d: up to date\n", st.Dialect(), after)
	} else {
		fmt.Fprintf(e.Stdout, "%s schema migrated from version %d to %d\n", st.Dialect(), before, after)
	}
	return ExitOK
}
