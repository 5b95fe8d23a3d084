package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// ErrPoolBusy is the error of an operation that waited longer than its
// context's mobileauth.PoolWait for a database connection. It wraps
// mobileauth.ErrUnavailable, so a request answers 503 SERVICE_UNAVAILABLE
// with Retry-After: a clear answer the phone retries, where database/sql
// alone would queue it for as long as the client waits (under a burst on a
// starved machine, past the client's timeout: no answer at all).
var ErrPoolBusy = fmt.Errorf("%w: every database connection stayed busy", mobileauth.ErrUnavailable)

// gate admits as many operations at a time as its pool has connections,
// so that the wait for a connection happens here, where it can be bounded,
// rather than inside database/sql, where only the context bounds it. An
// operation holds its slot until its connection is back in the pool: after
// an Exec, after a Row's Scan, after Rows' Close, after a transaction ends.
type gate struct{ slots chan struct{} }

func newGate(n int) *gate { return &gate{slots: make(chan struct{}, n)} }

// enter takes a slot, waiting at most ctx's PoolWait (if it has one and
// its own deadline is not sooner). The returned leave gives the slot back;
// calling it more than once is harmless.
func (g *gate) enter(ctx context.Context) (leave func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	select {
	case g.slots <- struct{}{}:
		return g.leaver(), nil
	default:
	}
	var expired <-chan time.Time
	wait, bounded := mobileauth.PoolWait(ctx)
	if dl, ok := ctx.Deadline(); bounded && (!ok || time.Until(dl) > wait) {
		t := time.NewTimer(wait)
		defer t.Stop()
		expired = t.C
	}
	select {
	case g.slots <- struct{}{}:
		return g.leaver(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-expired:
		return nil, fmt.Errorf("%w (waited %s)", ErrPoolBusy, wait)
	}
}

func (g *gate) leaver() func() {
	var once sync.Once
	return func() { once.Do(func() { <-g.slots }) }
}

// gatedRow is a *sql.Row whose Scan gives the gate's slot back (or the
// error of a wait that gave up).
type gatedRow struct {
	row   *sql.Row
	err   error
	leave func()
}

func (r *gatedRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.leave()
	return r.row.Scan(dest...)
}

// gatedRows is *sql.Rows whose Close gives the gate's slot back. Its
// Close returns nothing: callers defer it after reading, when an error of
// closing has nothing left to tell (rows.Err has told it).
type gatedRows struct {
	*sql.Rows
	leave func()
}

func (r *gatedRows) Close() {
	defer r.leave()
	_ = r.Rows.Close()
}

// queryRowOn runs a single-row query (already rebound) on db through g.
func queryRowOn(ctx context.Context, g *gate, db *sql.DB, query string, args ...any) rowScanner {
	leave, err := g.enter(ctx)
	if err != nil {
		return &gatedRow{err: err}
	}
	return &gatedRow{row: db.QueryRowContext(ctx, query, args...), leave: leave}
}

// WarmPool opens every connection of the PostgreSQL pools now, so that
// the first burst after a start does not pay for them: a backend's start
// costs PostgreSQL tens of milliseconds of CPU, and in #12's replicas
// scenario 48 of them (3 replicas × 16) made up about half the CPU of a
// burst of 500 exchanges right after the start. serve runs it in the
// background; requests arriving meanwhile share the pool as usual (each
// connection is taken through the gate and given back at once). SQLite
// needs none.
func (s *Store) WarmPool(ctx context.Context) {
	if s.dialect != DialectPostgres {
		return
	}
	for _, p := range []struct {
		db *sql.DB
		g  *gate
	}{{s.db, s.wgate}, {s.relaxed, s.xgate}} {
		if p.db == nil || p.g == nil {
			continue
		}
		type held struct {
			c     *sql.Conn
			leave func()
		}
		n := cap(p.g.slots)
		got := make(chan held, n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				leave, err := p.g.enter(ctx)
				if err != nil {
					return
				}
				c, err := p.db.Conn(ctx)
				if err != nil {
					leave()
					return
				}
				got <- held{c, leave}
			})
		}
		wg.Wait() // every connection is open and held: n distinct ones
		close(got)
		for h := range got {
			_ = h.c.Close()
			h.leave()
		}
	}
}
