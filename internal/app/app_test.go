package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/config"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

func testConfig(t *testing.T, db string) *config.Config {
	t.Helper()
	for _, k := range []string{"ALGA_MOBILE_DEV_IDP", "GOOGLE_OAUTH_CLIENT_ID", "MICROSOFT_OAUTH_CLIENT_ID", "ALGA_MOBILE_REDIS_URL", "ALGA_LICENSE"} {
		t.Setenv(k, "")
		require.NoError(t, os.Unsetenv(k))
	}
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	t.Setenv("SECRET_FS_BASE_PATH", t.TempDir())
	t.Setenv("NEXTAUTH_URL", "http://"+addr)
	t.Setenv("ALGA_MOBILE_LISTEN_ADDR", addr)
	t.Setenv("EDITION", "ee")
	t.Setenv("ALGA_MOBILE_DATABASE_URL", "sqlite:"+db)
	t.Setenv("ALGA_MOBILE_SHUTDOWN_DRAIN_SEC", "2")
	t.Setenv("ALGA_MOBILE_SHUTDOWN_TIMEOUT_SEC", "5")
	cfg, err := config.Load()
	require.NoError(t, err)
	return cfg
}

// TestGracefulShutdownDrains: on shutdown /readyz turns 503 at once while
// requests are still served for the drain time, then the server stops.
func TestGracefulShutdownDrains(t *testing.T) {
	cfg := testConfig(t, filepath.Join(t.TempDir(), "a.db"))
	a, err := Open(context.Background(), cfg, Options{Exclusive: true})
	require.NoError(t, err)
	defer func() { _ = a.Close() }()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, func(addr string) { addrc <- addr }) }()
	base := "http://" + <-addrc
	status := func(path string) int {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return -1
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, status("/readyz"))

	cancel()
	deadline := time.Now().Add(time.Second)
	for status("/readyz") != http.StatusServiceUnavailable && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.Equal(t, http.StatusServiceUnavailable, status("/readyz"), "readyz turns 503 as soon as draining starts")
	assert.Equal(t, http.StatusOK, status("/api/v1/mobile/auth/capabilities"), "still serving during the drain")
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop after drain + timeout")
	}
	assert.Equal(t, -1, status("/healthz"), "listener closed after the drain")
}

// TestSecondServeOnOneSQLiteFileIsRefused: SQLite serves one instance.
func TestSecondServeOnOneSQLiteFileIsRefused(t *testing.T) {
	db := filepath.Join(t.TempDir(), "one.db")
	cfg := testConfig(t, db)
	first, err := Open(context.Background(), cfg, Options{Exclusive: true})
	require.NoError(t, err)
	_, err = Open(context.Background(), cfg, Options{Exclusive: true})
	require.Error(t, err)
	assert.True(t, errors.Is(err, mobileauth.ErrStoreLocked))
	assert.Contains(t, err.Error(), "PostgreSQL")
	require.NoError(t, first.Close())
	again, err := Open(context.Background(), cfg, Options{Exclusive: true})
	require.NoError(t, err, "free again after the first closed")
	require.NoError(t, again.Close())
}

func TestOpenRefusesWithoutPublicURL(t *testing.T) {
	cfg := testConfig(t, filepath.Join(t.TempDir(), "x.db"))
	cfg.PublicURL = nil
	_, err := Open(context.Background(), cfg, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "NEXTAUTH_URL")
}

// Issue 11 item 5: a start with ALGA_MOBILE_SECRET_KEY on an install that
// ran without one seals the signing keys kept in clear and deletes the
// stored server secrets; the service then works with what it sealed.
func TestOpenSealsWhatWasKeptInClear(t *testing.T) {
	db := filepath.Join(t.TempDir(), "x.db")
	cfg := testConfig(t, db)
	first, err := Open(context.Background(), cfg, Options{})
	require.NoError(t, err)
	require.NoError(t, first.Close())

	count := func(st *App, query string) int {
		var n int
		require.NoError(t, st.Store.DB().QueryRowContext(context.Background(), query).Scan(&n))
		return n
	}
	cfg.SecretKey = "q7Vx2LrN0pW9nB4tK8sD1fH6yJ3mC5gAZe+R/uTo1ic2Xb7hM4kPqS0wYd9aFg3L"
	second, err := Open(context.Background(), cfg, Options{})
	require.NoError(t, err)
	defer func() { _ = second.Close() }()
	assert.Zero(t, count(second, "SELECT COUNT(*) FROM server_secrets"), "stored server secrets deleted")
	assert.Equal(t, 1, count(second, "SELECT COUNT(*) FROM signing_keys"))
	assert.Zero(t, count(second, "SELECT COUNT(*) FROM signing_keys WHERE substr(private_der, 1, 5) <> CAST('amk1:' AS BLOB)"), "every private key sealed")
	keys, err := second.Store.ListSigningKeys(context.Background())
	require.NoError(t, err)
	require.Len(t, keys, 1)
	assert.True(t, strings.HasPrefix(string(keys[0].PrivateDER), "amk1:"))
}
