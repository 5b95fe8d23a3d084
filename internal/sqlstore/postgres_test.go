package sqlstore_test

import (
	"cmp"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore/storetest"
	"github.com/nineminds/alga-mobile-auth/internal/testenv"
)

// postgresSchema is a fresh schema for the test (see testenv.PostgresSchema).
func postgresSchema(t testing.TB) string { return testenv.PostgresSchema(t, "storetest") }

// openPostgres opens and migrates a store on a fresh schema.
func openPostgres(t *testing.T) *sqlstore.Store {
	t.Helper()
	return openPostgresAt(t, postgresSchema(t))
}

func openPostgresAt(t *testing.T, url string) *sqlstore.Store {
	t.Helper()
	return openMigrated(t, url, sqlstore.Options{})
}

func TestPostgresStoreSuite(t *testing.T) {
	storetest.Run(t, openPostgres)
}

func TestPostgresMigrateIsIdempotent(t *testing.T) {
	assertMigrateIsIdempotent(t, openPostgres(t), sqlstore.DialectPostgres)
}

func TestPostgresReplicasMigrateAtOnce(t *testing.T) {
	url := postgresSchema(t)
	const replicas = 4
	stores := make([]*sqlstore.Store, replicas)
	for i := range stores {
		s, err := sqlstore.Open(t.Context(), url, sqlstore.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, s.Close()) })
		stores[i] = s
	}
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "replica %d", i)
	}
	var n int
	require.NoError(t, stores[0].DB().QueryRowContext(t.Context(), "SELECT COUNT(*) FROM schema_migrations").Scan(&n))
	assert.Equal(t, 5, n, "each migration applied once")
}

// TestPostgresReplicasShareState spreads racers over two stores (two
// replicas' pools) on one database: still exactly one winner. The store
// relies on READ COMMITTED (a losing claim re-checks the row and comes back
// empty), so it holds its connections to it even where the database or the
// URL asks for a stricter default, under which losers would get
// serialization failures (500s) instead.
func TestPostgresReplicasShareState(t *testing.T) {
	for _, isolation := range []string{"", "repeatable read", "serializable"} {
		t.Run("default isolation "+cmp.Or(isolation, "of the server"), func(t *testing.T) {
			u, err := url.Parse(postgresSchema(t))
			require.NoError(t, err)
			if isolation != "" {
				q := u.Query()
				q.Set("default_transaction_isolation", isolation)
				u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20") // pgx reads + literally
			}
			testReplicasShareState(t, u.String())
		})
	}
}

func testReplicasShareState(t *testing.T, url string) {
	ctx := t.Context()
	a, b := openPostgresAt(t, url), openPostgresAt(t, url)
	var level string
	require.NoError(t, a.DB().QueryRowContext(ctx, "SHOW transaction_isolation").Scan(&level))
	assert.Equal(t, "read committed", level)
	replicas := []*sqlstore.Store{a, b}
	now := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)

	require.NoError(t, a.CreateOTT(ctx, mobileauth.OneTimeToken{Hash: mobileauth.Hash{1}, TenantID: "t", UserID: "u",
		State: "s", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}))
	require.NoError(t, a.CreateFamily(ctx, mobileauth.TokenFamily{ID: "f", TenantID: "t", UserID: "u", CreatedAt: now},
		mobileauth.RefreshToken{Hash: mobileauth.Hash{2}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))

	var (
		mu                        sync.Mutex
		consumed, rotated, hitsOK int
		wg                        sync.WaitGroup
	)
	l := mobileauth.RateLimit{Limit: 10, Window: time.Minute, Block: time.Minute}
	for i := range storetest.Racers {
		s := replicas[i%2]
		wg.Go(func() {
			_, errC := s.ConsumeOTT(ctx, mobileauth.Hash{1}, now)
			res, errR := s.RotateRefreshToken(ctx, mobileauth.Hash{2}, mobileauth.Hash{3, byte(i), byte(i >> 8)}, now.Add(time.Hour), now) //nolint:gosec // G115: byte(i) and byte(i>>8) spell i into the hash on purpose
			d, errH := s.Hit(ctx, "shared", l, now)
			assert.NoError(t, errR)
			assert.NoError(t, errH)
			mu.Lock()
			defer mu.Unlock()
			if errC == nil {
				consumed++
			} else {
				assert.ErrorIs(t, errC, mobileauth.ErrNotFound)
			}
			if res.Outcome == mobileauth.Rotated {
				rotated++
			}
			if d.Allowed {
				hitsOK++
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, consumed, "OTT consumptions")
	assert.Equal(t, 1, rotated, "rotations")
	assert.Equal(t, 10, hitsOK, "rate-limited hits admitted")
	var n int
	require.NoError(t, a.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM refresh_tokens").Scan(&n))
	assert.Equal(t, 2, n, "one successor row")
	t.Logf("%d racers over 2 replicas: %d consumption, %d rotation, %d of 10 hits", storetest.Racers, consumed, rotated, hitsOK)
}

// TestPostgresPurgedTablesVacuumSlowly: migration 0005 slows autovacuum on
// the tables the purge deletes from (their own storage parameters), and
// only on them (the server's settings are not the service's to change).
func TestPostgresPurgedTablesVacuumSlowly(t *testing.T) {
	s := openPostgres(t)
	rows, err := s.DB().QueryContext(t.Context(), `SELECT c.relname, coalesce(array_to_string(c.reloptions, ','), '')
		FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' ORDER BY c.relname`)
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	got := map[string]string{}
	for rows.Next() {
		var name, opts string
		require.NoError(t, rows.Scan(&name, &opts))
		got[name] = opts
	}
	require.NoError(t, rows.Err())
	const slow = "autovacuum_vacuum_cost_delay=20,autovacuum_vacuum_cost_limit=200"
	for _, table := range []string{"refresh_tokens", "token_families", "audit_events"} {
		assert.Equal(t, slow, got[table], table)
	}
	for _, table := range []string{"one_time_tokens", "rate_limits", "users", "schema_migrations"} {
		require.Contains(t, got, table)
		assert.Empty(t, got[table], table)
	}
}
