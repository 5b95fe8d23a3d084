package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

func testAudit(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(t)
	events := []mobileauth.AuditEvent{
		{Time: t0, TenantID: "t1", UserID: "u1", Operation: mobileauth.AuditOTTIssued, RecordID: "ott-1",
			ClientIP: "192.0.2.1", CorrelationID: "c1", Details: map[string]string{"provider": "google"}},
		{Time: at(time.Second), TenantID: "t1", UserID: "u2", Operation: mobileauth.AuditExchange, RecordID: "fam-1"},
		{Time: at(2 * time.Second), TenantID: "t2", UserID: "u1", Operation: mobileauth.AuditRefreshReuse,
			Details: map[string]string{"reason": "after grace", "quote": `"<&>"`}},
	}
	for _, e := range events {
		require.NoError(t, s.AppendAudit(ctx, e))
	}

	t.Run("lists newest first with every field", func(t *testing.T) {
		got, err := s.ListAudit(ctx, mobileauth.AuditFilter{})
		require.NoError(t, err)
		require.Len(t, got, 3)
		assert.Equal(t, []string{mobileauth.AuditRefreshReuse, mobileauth.AuditExchange, mobileauth.AuditOTTIssued},
			[]string{got[0].Operation, got[1].Operation, got[2].Operation})
		assert.Greater(t, got[0].ID, got[1].ID)
		first := got[2]
		assert.NotZero(t, first.ID)
		assertTime(t, t0, first.Time, "Time")
		assert.Equal(t, "t1", first.TenantID)
		assert.Equal(t, "u1", first.UserID)
		assert.Equal(t, "ott-1", first.RecordID)
		assert.Equal(t, "192.0.2.1", first.ClientIP)
		assert.Equal(t, "c1", first.CorrelationID)
		assert.Equal(t, map[string]string{"provider": "google"}, first.Details)
		assert.Nil(t, got[1].Details, "no details stay none")
		assert.Equal(t, events[2].Details, got[0].Details)
	})
	t.Run("filters by tenant, user, or both", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			f    mobileauth.AuditFilter
			want []string
		}{
			{"tenant", mobileauth.AuditFilter{TenantID: "t1"}, []string{"fam-1", "ott-1"}},
			{"user", mobileauth.AuditFilter{UserID: "u1"}, []string{"", "ott-1"}},
			{"both", mobileauth.AuditFilter{TenantID: "t2", UserID: "u1"}, []string{""}},
			{"none match", mobileauth.AuditFilter{TenantID: "t3"}, nil},
			{"limit", mobileauth.AuditFilter{Limit: 1}, []string{""}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.ListAudit(ctx, tc.f)
				require.NoError(t, err)
				var ids []string
				for _, e := range got {
					ids = append(ids, e.RecordID)
				}
				assert.Equal(t, tc.want, ids)
			})
		}
	})
	t.Run("limits to 50 by default", func(t *testing.T) {
		s := open(t)
		for i := range 60 {
			require.NoError(t, s.AppendAudit(ctx, mobileauth.AuditEvent{
				Time: at(time.Duration(i) * time.Second), Operation: mobileauth.AuditRefresh, RecordID: fmt.Sprint(i),
			}))
		}
		got, err := s.ListAudit(ctx, mobileauth.AuditFilter{})
		require.NoError(t, err)
		require.Len(t, got, 50)
		assert.Equal(t, "59", got[0].RecordID)
	})
	t.Run("stamps an event without a time", func(t *testing.T) {
		s := open(t)
		require.NoError(t, s.AppendAudit(ctx, mobileauth.AuditEvent{Operation: mobileauth.AuditRevoke}))
		got, err := s.ListAudit(ctx, mobileauth.AuditFilter{})
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.False(t, got[0].Time.IsZero())
	})
	t.Run("a batch stores what one-by-one appends store, in order", func(t *testing.T) {
		batched := open(t)
		var batch []mobileauth.AuditEvent
		for i := range 300 {
			e := events[i%len(events)]
			e.RecordID = fmt.Sprint(i)
			batch = append(batch, e)
		}
		require.NoError(t, batched.AppendAudits(ctx, nil), "an empty batch is a no-op")
		require.NoError(t, batched.AppendAudits(ctx, batch))
		got, err := batched.ListAudit(ctx, mobileauth.AuditFilter{Limit: 1000})
		require.NoError(t, err)
		require.Len(t, got, len(batch))
		want, err := s.ListAudit(ctx, mobileauth.AuditFilter{})
		require.NoError(t, err)
		for i, g := range got {
			j := len(batch) - 1 - i // newest first
			assert.Equal(t, fmt.Sprint(j), g.RecordID, "in batch order")
			if i > 0 {
				assert.Less(t, g.ID, got[i-1].ID)
			}
			// want is newest first too: events[k] is want[len(events)-1-k].
			w := want[len(events)-1-j%len(events)]
			w.ID, w.RecordID = g.ID, g.RecordID
			assert.Equal(t, w, g)
		}
	})
}
