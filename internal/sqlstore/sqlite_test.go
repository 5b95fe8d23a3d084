package sqlstore_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore/storetest"
)

// openSQLite opens and migrates a fresh SQLite store in a temporary dir.
func openSQLite(t *testing.T) *sqlstore.Store {
	t.Helper()
	url := "sqlite:" + filepath.Join(t.TempDir(), "data", "mobile-auth.db")
	return openMigrated(t, url, sqlstore.Options{Exclusive: true})
}

// openMigrated opens url, migrates it and closes it when the test ends;
// both engines' openers use it.
func openMigrated(t *testing.T, url string, o sqlstore.Options) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), url, o)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	require.NoError(t, s.Migrate(t.Context()))
	return s
}

// assertMigrateIsIdempotent migrates s a second time and checks the
// version table still records each migration once.
func assertMigrateIsIdempotent(t *testing.T, s *sqlstore.Store, dialect string) {
	t.Helper()
	require.NoError(t, s.Migrate(t.Context()), "second run")
	var n int
	require.NoError(t, s.DB().QueryRowContext(t.Context(), "SELECT COUNT(*) FROM schema_migrations").Scan(&n))
	assert.Equal(t, 5, n, "both engines have migrations 1-5")
	assert.Equal(t, dialect, s.Dialect())
}

func TestSQLiteStoreSuite(t *testing.T) {
	storetest.Run(t, openSQLite)
}

func TestSQLiteMigrateIsIdempotent(t *testing.T) {
	assertMigrateIsIdempotent(t, openSQLite(t), sqlstore.DialectSQLite)
}

func TestSQLiteFilesAreOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "dir")
	s, err := sqlstore.Open(t.Context(), "sqlite:"+filepath.Join(dir, "m.db"), sqlstore.Options{Exclusive: true})
	require.NoError(t, err)
	defer func() { _ = s.Close() }()
	require.NoError(t, s.Migrate(t.Context()))
	for _, name := range []string{"m.db", "m.db-wal", "m.db.lock"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), name)
	}
}

func TestSQLiteSecondServerIsRefused(t *testing.T) {
	ctx := t.Context()
	url := "sqlite:" + filepath.Join(t.TempDir(), "mobile-auth.db")
	first, err := sqlstore.Open(ctx, url, sqlstore.Options{Exclusive: true})
	require.NoError(t, err)

	_, err = sqlstore.Open(ctx, url, sqlstore.Options{Exclusive: true})
	require.ErrorIs(t, err, mobileauth.ErrStoreLocked)
	assert.Contains(t, err.Error(), "SQLite serves one instance")
	assert.Contains(t, err.Error(), "PostgreSQL")

	admin, err := sqlstore.Open(ctx, url, sqlstore.Options{})
	require.NoError(t, err, "admin commands open without the lock")
	require.NoError(t, admin.Close())

	require.NoError(t, first.Close())
	second, err := sqlstore.Open(ctx, url, sqlstore.Options{Exclusive: true})
	require.NoError(t, err, "the lock is free once the first server closed")
	require.NoError(t, second.Close())
}

func TestSQLiteAdminWritesNextToServer(t *testing.T) {
	ctx := t.Context()
	url := "sqlite:" + filepath.Join(t.TempDir(), "mobile-auth.db")
	server, err := sqlstore.Open(ctx, url, sqlstore.Options{Exclusive: true})
	require.NoError(t, err)
	defer func() { _ = server.Close() }()
	require.NoError(t, server.Migrate(ctx))

	admin, err := sqlstore.Open(ctx, url, sqlstore.Options{})
	require.NoError(t, err)
	defer func() { _ = admin.Close() }()
	require.NoError(t, admin.Migrate(ctx), "already migrated")
	require.NoError(t, admin.AddUser(ctx, mobileauth.User{TenantID: "t", ID: "u", Email: "a@example.com",
		Type: mobileauth.UserInternal, Active: true}))

	found, err := server.FindUsersByEmail(ctx, "a@example.com")
	require.NoError(t, err)
	assert.Len(t, found, 1, "the server sees the admin's write")
}

func TestSQLiteURLForms(t *testing.T) {
	dir := t.TempDir()
	for _, url := range []string{
		"sqlite:" + filepath.Join(dir, "a.db"),
		"sqlite://" + filepath.Join(dir, "b.db"),
		"file:" + filepath.Join(dir, "c.db"),
	} {
		t.Run(url, func(t *testing.T) {
			s, err := sqlstore.Open(t.Context(), url, sqlstore.Options{})
			require.NoError(t, err)
			defer func() { _ = s.Close() }()
			require.NoError(t, s.Migrate(t.Context()))
		})
	}
}

func TestOpenRejectsBadURLs(t *testing.T) {
	for _, tc := range []struct {
		name, url, want string
	}{
		{"empty", "", "empty"},
		{"no scheme", "./data.db", "no scheme"},
		{"unknown scheme", "mysql://root:hunter2@db/x", `"mysql" is not supported`},
		{"sqlite without a path", "sqlite:", "names no file"},
		{"sqlite with options", "sqlite:./x.db?_pragma=foo", "must not contain"},
		{"malformed postgres", "postgres://admin:hunter2@db:notaport/x", "PostgreSQL URL"},
		{"bad postgres parameter", "postgres://admin:hunter2@db/x?sslmode=sometimes", "PostgreSQL URL"},
		{"user name taken for a scheme", "admin:hunter2@db/x", `"admin" is not supported`},
		{"password before an at sign", "admin@x:hunter2@db/x", "no recognisable scheme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sqlstore.Open(t.Context(), tc.url, sqlstore.Options{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "hunter2", "never echo a password")
		})
	}
}

func TestPostgresUnreachableHidesPassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	// Port 1 on loopback refuses connections at once.
	_, err := sqlstore.Open(ctx, "postgres://admin:hunter2@127.0.0.1:1/x?connect_timeout=2", sqlstore.Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "127.0.0.1")
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestObserveSeesEveryOperation(t *testing.T) {
	var (
		mu  sync.Mutex
		ops = map[string]int{}
	)
	s, err := sqlstore.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "m.db"), sqlstore.Options{
		Observe: func(op string, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			ops[op]++
			assert.GreaterOrEqual(t, d, time.Duration(0))
		},
	})
	require.NoError(t, err)
	defer func() { _ = s.Close() }()
	require.NoError(t, s.Migrate(t.Context()))
	_, err = s.ConsumeOTT(t.Context(), mobileauth.Hash{}, time.Now())
	require.ErrorIs(t, err, mobileauth.ErrNotFound)
	require.NoError(t, s.Ping(t.Context()))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[string]int{"Migrate": 1, "ConsumeOTT": 1, "Ping": 1}, ops)
}
