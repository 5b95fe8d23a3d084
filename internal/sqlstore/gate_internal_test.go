package sqlstore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/testenv"
)

// gateEngines runs f on a migrated store of each engine (PostgreSQL when
// the test database is configured), with two PostgreSQL connections.
func gateEngines(t *testing.T, f func(t *testing.T, s *Store)) {
	ctx := context.Background()
	open := func(t *testing.T, u string) *Store {
		s, err := Open(ctx, u, Options{MaxConns: 2})
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, s.Close()) })
		require.NoError(t, s.Migrate(ctx))
		return s
	}
	t.Run("sqlite", func(t *testing.T) { f(t, open(t, "sqlite:"+filepath.Join(t.TempDir(), "g.db"))) })
	t.Run("postgres", func(t *testing.T) {
		f(t, open(t, testenv.PostgresSchema(t, "gatetest")))
	})
}

// hold takes every connection of the store's main pool with open
// transactions until release is closed.
func hold(t *testing.T, s *Store, release <-chan struct{}) {
	t.Helper()
	n := cap(s.wgate.slots)
	held := make(chan struct{}, n)
	for range n {
		go func() {
			_ = s.inTx(context.Background(), func(*txn) error {
				held <- struct{}{}
				<-release
				return nil
			})
		}()
	}
	for range n {
		<-held
	}
}

// A request that cannot get a connection within its PoolWait gets
// ErrPoolBusy, which reads as unavailable (503 with Retry-After), at once
// after the bound; work without a bound waits for the connection; a
// context's own sooner deadline wins.
func TestPoolWaitIsBounded(t *testing.T) {
	gateEngines(t, func(t *testing.T, s *Store) {
		release := make(chan struct{})
		hold(t, s, release)

		start := time.Now()
		err := s.Ping(mobileauth.WithPoolWait(context.Background(), 100*time.Millisecond))
		waited := time.Since(start)
		require.ErrorIs(t, err, ErrPoolBusy)
		assert.True(t, mobileauth.Unavailable(err), "a busy pool is a retryable 503")
		assert.GreaterOrEqual(t, waited, 100*time.Millisecond)
		assert.Less(t, waited, 2*time.Second)

		_, err = s.ConsumeOTT(mobileauth.WithPoolWait(context.Background(), 50*time.Millisecond), mobileauth.Hash{1}, time.Now())
		require.ErrorIs(t, err, ErrPoolBusy, "not ErrNotFound: the token was never looked at")

		ctx, cancel := context.WithTimeout(mobileauth.WithPoolWait(context.Background(), time.Hour), 50*time.Millisecond)
		defer cancel()
		require.ErrorIs(t, s.Ping(ctx), context.DeadlineExceeded)

		done := make(chan error, 1)
		go func() { done <- s.Ping(context.Background()) }()
		select {
		case err := <-done:
			t.Fatalf("an unbounded wait ended before a connection was free: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		close(release)
		require.NoError(t, <-done)
	})
}

// Every way a statement runs gives its slot back: exec, a row once
// scanned, rows once closed, a transaction once over, the rate-limit pool,
// and the errors of each.
func TestPoolSlotsAreGivenBack(t *testing.T) {
	gateEngines(t, func(t *testing.T, s *Store) {
		ctx := mobileauth.WithPoolWait(context.Background(), time.Second)
		now := time.Now()
		for i := range 3 {
			_, err := s.ConsumeOTT(ctx, mobileauth.Hash{byte(i)}, now) // a row, not found
			require.ErrorIs(t, err, mobileauth.ErrNotFound)
			require.NoError(t, s.CreateFamily(ctx, mobileauth.TokenFamily{ID: "f" + string(rune('a'+i)), TenantID: "t", UserID: "u", CreatedAt: now},
				mobileauth.RefreshToken{Hash: mobileauth.Hash{byte(i), 9}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
			_, err = s.GetFamily(ctx, "fa") // a read row
			require.NoError(t, err)
			_, err = s.RevokedFamiliesSince(ctx, now.Add(-time.Hour)) // rows
			require.NoError(t, err)
			require.NoError(t, s.RevokeFamily(ctx, "fa", now)) // a transaction
			require.ErrorIs(t, s.RevokeFamily(ctx, "nope", now), mobileauth.ErrNotFound)
			_, err = s.Hit(ctx, "k", mobileauth.RateLimit{Limit: 5, Window: time.Minute}, now) // the rate-limit pool on PostgreSQL
			require.NoError(t, err)
			require.NoError(t, s.AppendAudit(ctx, mobileauth.AuditEvent{Time: now, TenantID: "t", UserID: "u", Operation: mobileauth.AuditExchange}))
		}
		for name, g := range map[string]*gate{"main": s.wgate, "read": s.rgate, "rate limit": s.xgate} {
			if g != nil {
				assert.Empty(t, g.slots, "%s pool slots still taken", name)
			}
		}
	})
}

func TestGateEnterWithoutBound(t *testing.T) {
	g := newGate(1)
	leave, err := g.enter(context.Background())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = g.enter(ctx)
	assert.True(t, errors.Is(err, context.Canceled))
	leave()
	leave() // harmless
	assert.Empty(t, g.slots)
}

// WarmPool leaves every PostgreSQL connection open and idle, and every
// gate slot free; on SQLite it does nothing.
func TestWarmPoolOpensEveryConnection(t *testing.T) {
	gateEngines(t, func(t *testing.T, s *Store) {
		s.WarmPool(context.Background())
		st := s.PoolStats()
		if s.dialect == DialectPostgres {
			assert.Equal(t, 2, st.OpenConnections)
			assert.Equal(t, 2, s.relaxed.Stats().OpenConnections)
		}
		assert.Equal(t, 0, st.InUse)
		assert.Empty(t, s.wgate.slots)
		require.NoError(t, s.Ping(mobileauth.WithPoolWait(context.Background(), time.Second)))
	})
}
