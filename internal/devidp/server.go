package devidp

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/nineminds/alga-mobile-auth/internal/allowlist"
)

// DefaultAddr is where Start listens when Options.Addr is empty: a free
// port on the IPv4 loopback.
const DefaultAddr = "127.0.0.1:0"

// Options configures Start.
type Options struct {
	// Addr is the listen address; it must be a loopback address (or
	// "localhost"). Empty means DefaultAddr.
	Addr string
	// ClientID and ClientSecret are the only client the provider accepts;
	// empty ones are generated (read them back with Server.ClientID and
	// Server.ClientSecret).
	ClientID     string
	ClientSecret string
	// UnverifiedEmail makes the provider send email_verified=false, for
	// tests of the refusal. The zero value sends true, like a Google account.
	UnverifiedEmail bool
	// RedirectURIs, when non-empty, are the only redirect_uri values the
	// authorization endpoint accepts (exact match), like a real client
	// registration. Empty accepts any http(s) URI.
	RedirectURIs []string
	// ErrorLog receives the HTTP server's own errors; nil discards them.
	ErrorLog *log.Logger
}

// Server is a running development provider.
type Server struct {
	m        *mockoidc.MockOIDC
	srv      *http.Server
	opts     Options
	served   chan error
	stopOnce sync.Once
	stopErr  error

	// mu serializes every call into mockoidc: its session map is not
	// synchronized, and the login form's "queue this user, then authorize"
	// must not interleave with another login.
	mu sync.Mutex
	// codes remembers each issued code's redirect_uri, which the token
	// request must repeat (RFC 6749 §4.1.3). Guarded by mu.
	codes map[string]string
}

// Start listens on a loopback address and serves the provider until Close.
func Start(o Options) (*Server, error) {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if err := requireLoopback(o.Addr); err != nil {
		return nil, err
	}
	for _, p := range []*string{&o.ClientID, &o.ClientSecret} {
		if *p == "" {
			v, err := randomToken(rand.Reader)
			if err != nil {
				return nil, err
			}
			*p = v
		}
	}
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		return nil, fmt.Errorf("devidp: creating provider: %w", err)
	}
	m.ClientID, m.ClientSecret = o.ClientID, o.ClientSecret
	m.CodeChallengeMethodsSupported = []string{"S256"}

	// Start has no caller context; the listener outlives this call anyway.
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("devidp: listen %s: %w", o.Addr, err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !allowlist.IsLoopback(tcp.IP.String()) {
		_ = ln.Close()
		return nil, fmt.Errorf("devidp: %s did not resolve to a loopback address", o.Addr)
	}
	errorLog := o.ErrorLog
	if errorLog == nil {
		errorLog = log.New(io.Discard, "", 0)
	}
	s := &Server{m: m, opts: o, served: make(chan error, 1), codes: map[string]string{}}
	s.srv = &http.Server{
		Addr:              ln.Addr().String(),
		Handler:           s.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          errorLog,
	}
	// mockoidc derives its issuer and endpoint URLs from Server.Addr; we run
	// the http.Server ourselves (timeouts, our routes) and lend it to it.
	m.Server = s.srv
	go func() { s.served <- s.srv.Serve(ln) }()
	return s, nil
}

// Issuer is the provider's issuer URL, e.g. "http://127.0.0.1:41234/oidc";
// discovery is at Issuer() + "/.well-known/openid-configuration".
func (s *Server) Issuer() string { return s.m.Issuer() }

// AuthorizationEndpoint is where the login form lives. Tests that skip the
// HTML may POST "email=<address>" to the very authorization URL the client
// built (query string included): that is what the form submits.
func (s *Server) AuthorizationEndpoint() string { return s.m.AuthorizationEndpoint() }

// ClientID is the accepted client id.
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret is the accepted client secret.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// Close stops the provider, letting requests in flight finish for up to a
// second and then closing what remains. It is safe to call more than once.
func (s *Server) Close() error {
	s.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		// Shutdown also waits for connections a client dialed but never used
		// (net/http counts them idle only after 5 s); closing them after the
		// grace period is not a failure.
		if err := s.srv.Shutdown(ctx); err != nil {
			s.stopErr = s.srv.Close()
		}
		if err := <-s.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.stopErr = errors.Join(s.stopErr, err)
		}
	})
	return s.stopErr
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+mockoidc.AuthorizationEndpoint, s.showLogin)
	mux.HandleFunc("POST "+mockoidc.AuthorizationEndpoint, s.login)
	mux.HandleFunc("POST "+mockoidc.TokenEndpoint, s.token)
	mux.Handle("GET "+mockoidc.UserinfoEndpoint, s.locked(s.m.Userinfo))
	mux.Handle("GET "+mockoidc.JWKSEndpoint, s.locked(s.m.JWKS))
	mux.Handle("GET "+mockoidc.DiscoveryEndpoint, s.locked(s.m.Discovery))
	return mux
}

func (s *Server) locked(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		h(w, r)
	})
}

// token is mockoidc's token endpoint plus two things it lacks: client
// credentials in an HTTP Basic header (which the discovery document
// advertises and RFC 6749 §2.3.1 requires servers to accept), and the
// redirect_uri match between authorization and token requests.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	if id, secret, ok := r.BasicAuth(); ok && r.Form.Get("client_id") == "" {
		// Basic credentials are form-urlencoded before base64 (§2.3.1).
		uid, err1 := url.QueryUnescape(id)
		usecret, err2 := url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "malformed client credentials")
			return
		}
		r.Form.Set("client_id", uid)
		r.Form.Set("client_secret", usecret)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Form.Get("grant_type") == "authorization_code" {
		code := r.Form.Get("code")
		want, ok := s.codes[code]
		if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(r.Form.Get("redirect_uri"))) != 1 {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown code or redirect_uri mismatch")
			return
		}
		delete(s.codes, code)
	}
	s.m.Token(w, r)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"error":%q,"error_description":%q}`, code, desc)
}

// requireLoopback refuses listen addresses that are not loopback: this
// provider signs anyone in as anyone.
func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("devidp: listen address %q: %w", addr, err)
	}
	if allowlist.IsLoopback(host) {
		return nil
	}
	return fmt.Errorf("devidp: listen address %q is not loopback; the development provider signs anyone in and must stay on this machine", addr)
}

func randomToken(r io.Reader) (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("devidp: reading randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
