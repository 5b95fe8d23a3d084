package metrics

import (
	"database/sql"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetricsAreExposed(t *testing.T) {
	m := New("1.2.3")
	m.ObserveRequest("/x", "GET", "200", 3*time.Millisecond)
	m.ObserveStore("ConsumeOTT", time.Millisecond)
	m.AuthEvent("ott_rejected", "state_mismatch")
	m.AuthEvent("ott_rejected", "state_mismatch")
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	body := string(b)
	assert.Contains(t, body, `alga_mobile_http_requests_total{method="GET",route="/x",status="200"} 1`)
	assert.Contains(t, body, `alga_mobile_store_duration_seconds_count{op="ConsumeOTT"} 1`)
	assert.Contains(t, body, `alga_mobile_auth_events_total{event="ott_rejected",reason="state_mismatch"} 2`)
	assert.Contains(t, body, `alga_mobile_build_info{goversion=`)
	assert.Contains(t, body, `version="1.2.3"`)
}

func TestInstancesDoNotShareARegistry(t *testing.T) {
	a, b := New("a"), New("b")
	a.AuthEvent("revoked", "")
	rec := httptest.NewRecorder()
	b.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	assert.NotContains(t, rec.Body.String(), `event="revoked"`)
}

func TestPoolStatisticsAreExposed(t *testing.T) {
	m := New("1")
	m.ObservePool("store", func() sql.DBStats { return sql.DBStats{MaxOpenConnections: 3} })
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	assert.Contains(t, body, `go_sql_max_open_connections{db_name="store"} 3`)
	assert.Contains(t, body, `go_sql_wait_count_total{db_name="store"} 0`)
	assert.Contains(t, body, `go_sql_wait_duration_seconds_total{db_name="store"} 0`)
}
