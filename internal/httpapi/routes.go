package httpapi

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/nineminds/alga-mobile-auth/internal/authflow"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// Handler returns the whole route table. Every route the service serves
// is listed here, and api/openapi.yaml must list the same (a test checks).
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(correlate, s.observe, recoverer(s.log), limitBody(s.log), s.boundPoolWait, middleware.GetHead)
	r.NotFound(s.notFound)
	r.MethodNotAllowed(s.methodNotAllowed)

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	if s.opts.MetricsOnMain {
		r.Method(http.MethodGet, "/metrics", s.metrics.Handler())
	}

	r.Get("/api/v1/mobile/auth/capabilities", s.capabilities)
	r.Post("/api/v1/mobile/auth/apple", s.apple)
	if s.tokens != nil {
		r.Method(http.MethodPost, "/api/v1/mobile/auth/exchange", s.admit(s.exchange()))
		r.Method(http.MethodPost, "/api/v1/mobile/auth/refresh", s.admit(s.refresh()))
		r.Method(http.MethodPost, "/api/v1/mobile/auth/revoke", s.admit(s.revoke()))
		// Proxies may forward the original method (nginx auth_request does).
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
			r.MethodFunc(m, "/api/v1/mobile/auth/verify", s.verify)
		}
		r.Get("/.well-known/jwks.json", s.jwks)
	}
	if s.opts.Web != nil {
		r.Get("/auth/signin", s.signinPage)
		r.Get("/auth/signin/{provider}", s.signinStart)
		r.Post("/auth/signout", s.signout)
		// The callback paths AlgaPSA's web app registers with each provider.
		for _, id := range authflow.SignInProviderIDs {
			r.Get(authflow.CallbackPathPrefix+id, s.callbackFor(id))
		}
		r.Get("/auth/mobile/handoff", s.handoff)
		r.Post("/auth/mobile/handoff", s.handoffConfirm)
		if s.opts.Demo {
			r.Get("/demo/handoff", s.demoHandoff)
		}
	}
	if s.opts.Connect != nil {
		r.Get("/api/v1/mobile/connect-qr.png", s.connectPNG)
		r.Get("/api/v1/mobile/connect-qr.svg", s.connectSVG)
		r.Get("/mobile/connect", s.connectPage)
	}
	return r
}

// notFound answers in the contract shape under /api/ (the app parses it)
// and with plain text elsewhere.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if isAPI(r) {
		writeError(w, r, s.log, mobileauth.Errorf(mobileauth.CodeNotFound, "No such endpoint"))
		return
	}
	http.Error(w, "404 page not found", http.StatusNotFound)
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	if isAPI(r) {
		writeError(w, r, s.log, mobileauth.Errorf(mobileauth.CodeMethodNotAllowed, "Method %s is not allowed here", r.Method))
		return
	}
	http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
}

func isAPI(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, "/.well-known/")
}
