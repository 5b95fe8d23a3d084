// Package httpapi is the HTTP face of the service: the route table, the
// middleware, and the handlers that decode a request, call one use case and
// write its answer. Errors become responses in exactly one place
// (writeError); status codes exist only here.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/metrics"
)

// CapabilitiesSource answers the capabilities check (SPEC §3.1).
type CapabilitiesSource interface {
	Capabilities() authflow.Capabilities
}

// Options are the Server's dependencies. Logger, Capabilities and Ready
// are required; the rest switch features on when present.
type Options struct {
	Logger       *slog.Logger
	Metrics      *metrics.Metrics
	Capabilities CapabilitiesSource
	// Ready reports whether the store is reachable (for /readyz).
	Ready func(ctx context.Context) error
	// Draining reports that shutdown has begun: /readyz answers 503 so the
	// proxy stops sending while in-flight work finishes.
	Draining func() bool
	// ClientIP returns the client address as the trusted-proxy rules see it.
	ClientIP func(*http.Request) string
	// MetricsOnMain serves /metrics on the public router (when no separate
	// metrics address is configured).
	MetricsOnMain bool
	Now           func() time.Time
	// Tokens serves exchange, refresh, revoke and verify; JWKS the public keys.
	Tokens TokenService
	JWKS   func() []byte
	// Web switches on the browser sign-in pages and the handoff.
	Web *WebOptions
	// SessionTTL is the browser session lifetime (cookie Max-Age).
	SessionTTL time.Duration
	// Demo serves /demo/handoff, which shows the deep link in a desktop
	// browser (only with the development identity provider).
	Demo bool
	// Connect switches on the connect-this-server QR and page.
	Connect *ConnectAssets
	// PoolWait bounds how long a request's store operation waits for a
	// database connection before the request answers 503
	// SERVICE_UNAVAILABLE with Retry-After (see mobileauth.WithPoolWait).
	// Zero means DefaultPoolWait; negative, no bound.
	PoolWait time.Duration
	// InFlight caps the token requests (exchange, refresh, revoke) served
	// at once; AdmitWait is how long one waits for a place before a 503
	// with Retry-After (see admit). Zero means DefaultInFlight and
	// DefaultAdmitWait; a negative InFlight, no cap.
	InFlight  int
	AdmitWait time.Duration
}

// DefaultPoolWait is Options.PoolWait's default: well inside a phone's
// request timeout and the refresh grace period, and far above the waits
// of a healthy service (tens of milliseconds at its benchmark peak).
const DefaultPoolWait = 2 * time.Second

// Server holds the handlers' dependencies.
type Server struct {
	log      *slog.Logger
	metrics  *metrics.Metrics
	caps     CapabilitiesSource
	ready    func(ctx context.Context) error
	draining func() bool
	clientIP func(*http.Request) string
	clock    func() time.Time
	tokens   TokenService
	jwksFn   func() []byte
	web      webConfig
	opts     Options
	inFlight chan struct{} // places of admit
}

// webConfig is WebOptions plus what the pages derive from Options.
type webConfig struct {
	WebOptions
	sessionTTL time.Duration
}

// New checks the dependencies and builds the Server.
func New(o Options) (*Server, error) {
	switch {
	case o.Logger == nil:
		return nil, errors.New("httpapi: Logger is required")
	case o.Capabilities == nil:
		return nil, errors.New("httpapi: Capabilities is required")
	case o.Ready == nil:
		return nil, errors.New("httpapi: Ready is required")
	case o.MetricsOnMain && o.Metrics == nil:
		return nil, errors.New("httpapi: MetricsOnMain needs Metrics")
	case (o.Tokens == nil) != (o.JWKS == nil):
		return nil, errors.New("httpapi: Tokens and JWKS go together")
	case o.Demo && o.Web == nil:
		return nil, errors.New("httpapi: Demo needs Web")
	case o.Web != nil && (o.Web.Service == nil || o.Web.Origin == "" || o.Web.RequestHost == nil || o.SessionTTL <= 0):
		return nil, errors.New("httpapi: Web needs Service, Origin, RequestHost and SessionTTL")
	}
	s := &Server{log: o.Logger, metrics: o.Metrics, caps: o.Capabilities, ready: o.Ready,
		draining: o.Draining, clientIP: o.ClientIP, clock: o.Now, tokens: o.Tokens, jwksFn: o.JWKS, opts: o}
	if s.draining == nil {
		s.draining = func() bool { return false }
	}
	if s.clientIP == nil {
		s.clientIP = func(r *http.Request) string { return r.RemoteAddr }
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.opts.PoolWait == 0 {
		s.opts.PoolWait = DefaultPoolWait
	}
	if s.opts.InFlight == 0 {
		s.opts.InFlight = DefaultInFlight
	}
	if s.opts.AdmitWait <= 0 {
		s.opts.AdmitWait = DefaultAdmitWait
	}
	s.inFlight = make(chan struct{}, max(s.opts.InFlight, 0))
	if o.Web != nil {
		s.web = webConfig{WebOptions: *o.Web, sessionTTL: o.SessionTTL}
	}
	return s, nil
}
