package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
)

func testPurge(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(t)
	// Expired at t0+1h: an OTT, a session, a family's only token, a rate row.
	old := newOTT("old")
	require.NoError(t, s.CreateOTT(ctx, old))
	live := newOTT("live")
	live.ExpiresAt = at(3 * time.Hour)
	require.NoError(t, s.CreateOTT(ctx, live))
	require.NoError(t, s.CreateSession(ctx, mobileauth.WebSession{IDHash: hash("old-sid"), TenantID: "t", UserID: "u",
		Provider: "p", CreatedAt: t0, ExpiresAt: at(time.Hour)}))
	require.NoError(t, s.CreateSession(ctx, mobileauth.WebSession{IDHash: hash("live-sid"), TenantID: "t", UserID: "u",
		Provider: "p", CreatedAt: t0, ExpiresAt: at(3 * time.Hour)}))
	short := newToken("short", t0)
	short.ExpiresAt = at(time.Hour)
	require.NoError(t, s.CreateFamily(ctx, newFamily("fam-old", "sid"), short))
	seedFamily(t, s, "fam-live", "sid", "long")
	_, err := s.Hit(ctx, "old-key", mobileauth.RateLimit{Limit: 1, Window: time.Minute, Block: time.Minute}, t0)
	require.NoError(t, err)

	n, err := s.PurgeExpired(ctx, at(2*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, int64(4), n, "OTT, session, refresh token, rate row")
	assertCounts(t, s, map[string]int{
		"one_time_tokens": 1, "web_sessions": 1, "refresh_tokens": 1, "token_families": 2, "rate_limits": 0,
	})

	_, err = s.GetFamily(ctx, "fam-old")
	assert.NoError(t, err, "an empty family is kept for a while")
	n, err = s.PurgeExpired(ctx, t0.Add(sqlstore.FamilyRetention+time.Millisecond))
	require.NoError(t, err)
	assert.Equal(t, int64(3), n, "the live OTT and session have expired by now, and the empty family goes")
	_, err = s.GetFamily(ctx, "fam-old")
	assert.ErrorIs(t, err, mobileauth.ErrNotFound)
	_, err = s.GetFamily(ctx, "fam-live")
	assert.NoError(t, err, "a family with a live token stays")
}

// Audit events older than the retention (the default, 90 days) go with
// the purge, in time order; younger ones stay.
func testPurgeAudit(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(t)
	day := 24 * time.Hour
	for i, age := range []time.Duration{200 * day, 100 * day, 91 * day, 89 * day, time.Hour} {
		require.NoError(t, s.AppendAudit(ctx, mobileauth.AuditEvent{Time: t0.Add(-age), TenantID: "t", UserID: "u",
			Operation: mobileauth.AuditRefresh, RecordID: fmt.Sprint(i)}))
	}
	n, err := s.PurgeExpired(ctx, t0)
	require.NoError(t, err)
	assert.Equal(t, int64(3), n, "the events 200, 100 and 91 days old")
	left, err := s.ListAudit(ctx, mobileauth.AuditFilter{TenantID: "t", Limit: 10})
	require.NoError(t, err)
	var ids []string
	for _, e := range left {
		ids = append(ids, e.RecordID)
	}
	assert.ElementsMatch(t, []string{"3", "4"}, ids, "the events 89 days and 1 hour old stay")
	n, err = s.PurgeExpired(ctx, t0)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing more is due")
}

func assertCounts(t *testing.T, s *sqlstore.Store, want map[string]int) {
	t.Helper()
	for table, n := range want {
		assert.Equal(t, n, countRows(t, s, table), table)
	}
}

func testPing(t *testing.T, open Opener) {
	s := open(t)
	assert.NoError(t, s.Ping(t.Context()))
}
