// Package app wires the service together: configuration in, a ready
// http.Handler and its servers out. `serve` and the end-to-end tests share
// it, so what is tested is what runs.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa"
	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/clientip"
	"github.com/nineminds/alga-mobile-auth/internal/config"
	"github.com/nineminds/alga-mobile-auth/internal/httpapi"
	"github.com/nineminds/alga-mobile-auth/internal/license"
	"github.com/nineminds/alga-mobile-auth/internal/logging"
	"github.com/nineminds/alga-mobile-auth/internal/metrics"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
)

// Options are the parts of the wiring that tests replace.
type Options struct {
	Version   string
	LogWriter io.Writer        // default: discard
	Now       func() time.Time // default: time.Now
	Rand      io.Reader        // default: crypto/rand
	// Exclusive takes the SQLite single-instance lock (serve does; the
	// end-to-end tests that start two instances on PostgreSQL need not).
	Exclusive bool
}

// App is the running service's object graph.
type App struct {
	Config  *config.Config
	Log     *slog.Logger
	Metrics *metrics.Metrics
	Store   *sqlstore.Store
	Gate    *license.Gate
	// AlgaPSA is AlgaPSA's database in appliance mode (nil otherwise).
	AlgaPSA *algapsa.DB

	Auth *authflow.Service
	// DevIDP is the development identity provider, when enabled.
	DevIDP DevProvider

	handler  http.Handler
	draining atomic.Bool
	now      func() time.Time
	cancel   context.CancelFunc
	closers  []func() error
	audit    *sqlstore.AuditBatcher
}

// Open builds the App: logger, metrics, store (migrated), license gate and
// the HTTP handler. Close releases what Open acquired.
func Open(ctx context.Context, cfg *config.Config, o Options) (*App, error) {
	if err := cfg.RequirePublicURL(); err != nil {
		return nil, err
	}
	if cfg.DevIDP && !DevIDPBuiltIn {
		return nil, ErrNoDevIDP
	}
	if o.LogWriter == nil {
		o.LogWriter = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	a := &App{Config: cfg, now: o.Now}
	a.Log = logging.New(o.LogWriter, cfg.LogFormat, cfg.LogLevel)
	a.Metrics = metrics.New(o.Version)

	st, err := sqlstore.Open(ctx, cfg.DatabaseURL.Value(), sqlstore.Options{
		Exclusive: o.Exclusive, Now: o.Now, Observe: a.Metrics.ObserveStore,
		AuditRetention: cfg.AuditRetention, PurgeEvery: cfg.PurgeInterval})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	a.Store = st
	a.Metrics.ObservePool("store", st.PoolStats)
	if err := st.Migrate(ctx); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("migrate store: %w", err)
	}

	if sealed, deleted, err := SealAtRest(ctx, cfg, st); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("seal keys at rest with ALGA_MOBILE_SECRET_KEY: %w", err)
	} else if sealed+deleted > 0 {
		a.Log.InfoContext(ctx, "sealed what was kept in clear before ALGA_MOBILE_SECRET_KEY was set",
			"signing_keys_sealed", sealed, "server_secrets_deleted", deleted)
	}
	if err := a.openAlgaPSA(ctx, o); err != nil {
		_ = a.Close()
		return nil, err
	}

	var keysErr error
	a.Gate, keysErr = NewGate(cfg, o.Now)
	a.logStartup(ctx, keysErr)

	bg, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	signIn, err := a.newSignIn(ctx, o)
	if err != nil {
		_ = a.Close()
		return nil, err
	}
	svc, ring, err := a.newAuthflow(ctx, o, signIn)
	if err != nil {
		_ = a.Close()
		return nil, err
	}
	a.Auth = svc
	go ring.Run(bg)
	go svc.RunGiveBack(bg, time.Second)
	go st.RunPurge(bg, o.Now, a.Log, a.housekeeping()...)
	go st.WarmPool(bg)

	ips := clientip.NewResolver(cfg.TrustedProxies)
	web := a.newWeb(ips)
	connect, err := a.newConnect()
	if err != nil {
		_ = a.Close()
		return nil, err
	}
	caps := authflow.NewCapabilitiesService(a.Gate, providersOf(cfg), cfg.HostAllowlist,
		cfg.AccessTTL, cfg.RefreshTTL, cfg.OTTTTL)
	srv, err := httpapi.New(httpapi.Options{
		Logger:        a.Log,
		Metrics:       a.Metrics,
		Capabilities:  caps,
		Ready:         a.ready,
		Draining:      a.draining.Load,
		ClientIP:      func(r *http.Request) string { return ips.ClientIP(r).String() },
		MetricsOnMain: cfg.MetricsAddr == "",
		Now:           o.Now,
		Tokens:        svc,
		JWKS:          func() []byte { return ring.JWKS(o.Now()) },
		Web:           web,
		SessionTTL:    cfg.SessionTTL,
		Demo:          cfg.DevIDP,
		Connect:       connect,
		InFlight:      inFlightFor(st),
	})
	if err != nil {
		_ = a.Close()
		return nil, err
	}
	a.handler = a.watchForwarding(srv.Handler(), ips, o.Now)
	return a, nil
}

// inFlightFor is the cap on token requests served at once: twice the
// store's connection pool, so that every connection always has a request
// ready for it and admitted requests rarely wait for one, and never less
// than httpapi.DefaultInFlight (SQLite's single writer would give 2: its
// requests queue at the writer anyway). More requests than that cannot be
// served faster, only queued; the cap makes them queue at admission, where
// the wait is bounded (httpapi.DefaultAdmitWait), instead of in the pool.
func inFlightFor(st *sqlstore.Store) int {
	return max(httpapi.DefaultInFlight, 2*st.PoolStats().MaxOpenConnections)
}

// AuditLog is the audit trail as the service writes it (batched): reading
// through it first writes everything already appended.
func (a *App) AuditLog() mobileauth.AuditStore { return a.audit }

// Handler is the public HTTP handler.
func (a *App) Handler() http.Handler { return a.handler }

// Close stops background work and releases the store (and with it the
// SQLite lock) and any Redis client.
func (a *App) Close() error {
	if a.cancel != nil {
		a.cancel()
	}
	var errs []error
	for _, c := range a.closers {
		errs = append(errs, c())
	}
	if a.Store != nil {
		errs = append(errs, a.Store.Close())
	}
	return errors.Join(errs...)
}

func providersOf(cfg *config.Config) map[string]bool {
	return map[string]bool{"google": cfg.Google.Configured(), "microsoft": cfg.Microsoft.Configured()}
}

// logStartup tells the operator, once, what the gate decided and what
// looks wrong, without any secret.
func (a *App) logStartup(ctx context.Context, keysErr error) {
	cfg := a.Config
	st := a.Gate.Status()
	attrs := []any{"origin", cfg.Origin(), "edition", st.Edition, "licensing", st.Mode,
		"mobile_enabled", st.Capabilities.Enabled, "store", a.Store.Location(),
		"google", cfg.Google.Configured(), "microsoft", cfg.Microsoft.Configured(), "appliance_mode", cfg.ApplianceMode()}
	if cfg.ApplianceMode() {
		attrs = append(attrs, "algapsa_database", cfg.Appliance.Database,
			"web_app_session", cfg.Appliance.NextAuthSecret.Set())
	}
	if st.Mode == license.ModeSelfHost {
		attrs = append(attrs, "tier", st.Tier, "license_present", st.LicensePresent,
			"license_valid", st.LicenseValid, "trial_active", st.Trial.Active)
		if st.Reason != license.ReasonNone {
			attrs = append(attrs, "license_reason", st.Reason)
		}
	}
	// An absent or empty key source matters only once a license is
	// configured (an optional Kubernetes ConfigMap mounts as an empty
	// directory); anything else there is worth a look either way.
	if keysErr != nil && (cfg.License.Set() || !license.NoKeys(keysErr)) {
		attrs = append(attrs, "license_keys_error", keysErr.Error())
	}
	// The problems themselves (license, allowlist, providers) are logged by
	// serve once, as warnings in check's words.
	a.Log.InfoContext(ctx, "alga-mobile-auth starting", attrs...)
}

// Serve runs the public server (and the metrics server when it has its
// own address) until ctx ends, then shuts down gracefully: /readyz turns
// 503 at once, requests keep being served for the drain time so the proxy
// notices, then in-flight requests get ShutdownTimeout to finish.
func (a *App) Serve(ctx context.Context, ready func(addr string)) error {
	cfg := a.Config
	servers := []*http.Server{newServer(cfg.ListenAddr, a.handler)}
	if cfg.MetricsAddr != "" {
		servers = append(servers, newServer(cfg.MetricsAddr, a.Metrics.Handler()))
	}
	errc := make(chan error, len(servers))
	for i, s := range servers {
		ln, err := listen(ctx, s.Addr)
		if err != nil {
			for _, started := range servers[:i] {
				_ = started.Close()
			}
			return err
		}
		if ready != nil {
			ready(ln.Addr().String())
		}
		go func(s *http.Server) {
			if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}(s)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.draining.Store(true)
	a.Log.Info("shutting down: draining", "drain", cfg.Drain.String(), "timeout", cfg.ShutdownTimeout.String())
	time.Sleep(cfg.Drain)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, s := range servers {
		errs = append(errs, s.Shutdown(sctx))
	}
	a.Log.Info("shutdown complete")
	return errors.Join(errs...)
}

// watchForwarding warns (at most once a minute, naming the peer) when
// forwarding headers arrive from a peer that is not a trusted proxy: they
// are ignored, and if that peer is the operator's own proxy, every phone
// behind it shares one rate-limit bucket.
func (a *App) watchForwarding(next http.Handler, ips *clientip.Resolver, now func() time.Time) http.Handler {
	w := clientip.NewWatch(ips, now, func(u clientip.Untrusted) {
		a.Log.Warn("forwarding headers from a peer that is not a trusted proxy are ignored: if it is your reverse proxy, "+
			"every client behind it shares its address and so one rate-limit bucket",
			"peer", u.Peer.String(), "header", u.Header, "not_reported_since_last", u.Suppressed,
			"fix", "add "+u.Peer.String()+" (the address the proxy connects from) to ALGA_MOBILE_TRUSTED_PROXIES; run alga-mobile-auth check")
	})
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.Observe(r)
		next.ServeHTTP(rw, r)
	})
}
