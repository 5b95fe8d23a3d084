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
}

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
	opts     Options
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
	return s, nil
}
