// Package metrics owns the service's Prometheus collectors. Each Metrics
// has its own registry, so tests and several in-process instances never
// collide on the global one.
package metrics

import (
	"database/sql"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the set of collectors the service updates.
type Metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	store    *prometheus.HistogramVec
	// Auth counts token-lifecycle events by event and reason, e.g.
	// ott_issued, ott_exchanged, ott_released, ott_rejected{reason}, refresh_rotated,
	// refresh_grace_replay, refresh_reuse_detected, refresh_rejected{reason} (e.g. user,
	// owner_changed: refused at the mint, eligible again a moment later), revoked,
	// rate_limited{reason=limit}.
	auth *prometheus.CounterVec
}

// New registers every collector, with build info for version.
func New(version string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alga_mobile_http_requests_total",
			Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "alga_mobile_http_request_duration_seconds",
			Help:    "HTTP request duration by route pattern and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "status"}),
		store: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "alga_mobile_store_duration_seconds",
			Help:    "Store operation latency by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25},
		}, []string{"op"}),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alga_mobile_auth_events_total",
			Help: "Token lifecycle events by event and reason.",
		}, []string{"event", "reason"}),
	}
	goVersion := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "alga_mobile_build_info",
		Help:        "Build information; the value is always 1.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": goVersion},
	})
	buildInfo.Set(1)
	reg.MustRegister(m.requests, m.duration, m.store, m.auth, buildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObservePool exports a connection pool's statistics, read from stats at
// each scrape, as go_sql_* series labelled db_name=name (the names of
// client_golang's DBStatsCollector): open and in-use connections, and how
// many times and how long statements waited for one.
func (m *Metrics) ObservePool(name string, stats func() sql.DBStats) {
	labels := prometheus.Labels{"db_name": name}
	gauge := func(metric, help string, f func(sql.DBStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metric, Help: help, ConstLabels: labels},
			func() float64 { return f(stats()) })
	}
	counter := func(metric, help string, f func(sql.DBStats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: metric, Help: help, ConstLabels: labels},
			func() float64 { return f(stats()) })
	}
	m.reg.MustRegister(
		gauge("go_sql_max_open_connections", "Maximum number of open connections to the database.",
			func(s sql.DBStats) float64 { return float64(s.MaxOpenConnections) }),
		gauge("go_sql_open_connections", "The number of established connections both in use and idle.",
			func(s sql.DBStats) float64 { return float64(s.OpenConnections) }),
		gauge("go_sql_in_use_connections", "The number of connections currently in use.",
			func(s sql.DBStats) float64 { return float64(s.InUse) }),
		counter("go_sql_wait_count_total", "The total number of connections waited for.",
			func(s sql.DBStats) float64 { return float64(s.WaitCount) }),
		counter("go_sql_wait_duration_seconds_total", "The total time blocked waiting for a new connection.",
			func(s sql.DBStats) float64 { return s.WaitDuration.Seconds() }),
	)
}

// ObserveRequest records one HTTP request.
func (m *Metrics) ObserveRequest(route, method, status string, d time.Duration) {
	m.requests.WithLabelValues(route, method, status).Inc()
	m.duration.WithLabelValues(route, status).Observe(d.Seconds())
}

// ObserveStore records one store operation.
func (m *Metrics) ObserveStore(op string, d time.Duration) {
	m.store.WithLabelValues(op).Observe(d.Seconds())
}

// AuthEvent counts a token-lifecycle event; reason may be "".
func (m *Metrics) AuthEvent(event, reason string) {
	m.auth.WithLabelValues(event, reason).Inc()
}

// Handler serves the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry exposes the registry for tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }
