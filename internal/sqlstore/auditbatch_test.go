package sqlstore_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
)

func TestAuditBatcherBatchesWithoutLosingEvents(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "a.db"), sqlstore.Options{})
	require.NoError(t, err)
	defer func() { _ = st.Close() }()
	require.NoError(t, st.Migrate(ctx))
	w := sqlstore.NewAuditBatcher(st, slog.New(slog.NewTextHandler(io.Discard, nil)))

	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				assert.NoError(t, w.AppendAudit(ctx, mobileauth.AuditEvent{TenantID: "t", Operation: mobileauth.AuditRefresh}))
			}
		}()
	}
	wg.Wait()
	// Reading through the writer sees every event appended before.
	events, err := w.ListAudit(ctx, mobileauth.AuditFilter{TenantID: "t", Limit: 10000})
	require.NoError(t, err)
	assert.Len(t, events, 5000)

	require.NoError(t, w.AppendAudit(ctx, mobileauth.AuditEvent{TenantID: "t", Operation: mobileauth.AuditRevoke}))
	require.NoError(t, w.Close())
	events, err = st.ListAudit(ctx, mobileauth.AuditFilter{TenantID: "t", Limit: 10000})
	require.NoError(t, err)
	assert.Len(t, events, 5001, "Close writes what is queued")
	require.NoError(t, w.AppendAudit(ctx, mobileauth.AuditEvent{TenantID: "t", Operation: mobileauth.AuditRevoke}), "after Close: written synchronously")
	events, err = w.ListAudit(ctx, mobileauth.AuditFilter{TenantID: "t", Limit: 10000})
	require.NoError(t, err)
	assert.Len(t, events, 5002)
}
