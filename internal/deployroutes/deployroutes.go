// Package deployroutes lists which request paths the shipped proxy
// configurations (deploy/proxy, deploy/helm) send to the sidecar and which
// stay with the AlgaPSA web app (SPEC §8.6). It is the single source the
// deployment tests check nginx (run for real), Caddy, Traefik and the Helm
// chart's Ingress against; the service itself does not use it.
package deployroutes

import "strings"

// Route is one path a proxy sends to the sidecar: exact, or a prefix (then
// Path ends in "/").
type Route struct {
	Path   string
	Prefix bool
}

// String is the path, with a trailing * for a prefix.
func (r Route) String() string {
	if r.Prefix {
		return r.Path + "*"
	}
	return r.Path
}

// Matches reports whether the request path p is routed by r.
func (r Route) Matches(p string) bool {
	if r.Prefix {
		return strings.HasPrefix(p, r.Path)
	}
	return p == r.Path
}

// Appliance is SPEC §8.6: all that goes to the sidecar on an appliance,
// whose web app keeps its own sign-in.
func Appliance() []Route {
	return []Route{
		{"/api/v1/mobile/auth/", true},
		{"/auth/mobile/handoff", false},
		{"/mobile/connect", false},
		{"/api/v1/mobile/connect-qr.png", false},
		{"/api/v1/mobile/connect-qr.svg", false},
	}
}

// Standalone adds the sidecar's own sign-in pages, OAuth callbacks and
// JWKS (internal/httpapi/routes.go), each exactly. The development
// provider's /auth/signin/dev and its callback are left out on purpose.
func Standalone() []Route {
	return append(Appliance(),
		Route{"/auth/signin", false},
		Route{"/auth/signin/google", false},
		Route{"/auth/signin/azure-ad", false},
		Route{"/auth/signout", false},
		Route{"/api/auth/callback/google", false},
		Route{"/api/auth/callback/azure-ad", false},
		Route{"/.well-known/jwks.json", false},
	)
}

// WebApp are request paths that reach the web app in both modes: AlgaPSA's
// own mobile routes that the app calls after sign-in, its REST API, its
// pages, and near misses of the sidecar's paths. The sidecar's /healthz,
// /readyz and /metrics are not routed either. (/api/v1/mobile/auth without
// the slash is no path of either: nginx answers it with a redirect to the
// prefix.)
func WebApp() []string {
	return []string{
		"/", "/msp/dashboard", "/api/v1/tickets",
		"/api/v1/mobile/me/capabilities", "/api/v1/mobile/account/delete",
		"/api/v1/mobile/iap/x", "/api/v1/mobile/moderation/report",
		"/api/v1/mobile/connect-qr.gif", "/api/v1/mobile/authx",
		"/auth/mobile/other", "/auth/mobile/handoff/x", "/mobile/connect/x",
		"/api/auth/callback/credentials", "/api/auth/session", "/auth/signin-help",
		"/auth/signin/other", "/auth/signout/x",
		"/healthz", "/readyz", "/metrics",
	}
}

// ApplianceWebApp also reach the web app on an appliance: its sign-in page
// and Auth.js routes (SPEC §8.6), and what only a standalone sidecar serves.
func ApplianceWebApp() []string {
	return append(WebApp(),
		"/auth/signin", "/auth/signin/google", "/auth/signout", "/api/auth/callback/google",
		"/api/auth/callback/azure-ad", "/api/auth/csrf", "/api/auth/signin/google", "/.well-known/jwks.json",
	)
}

// Samples are request paths that must reach the sidecar: each exact route,
// and two endpoints under each prefix.
func Samples(routes []Route) []string {
	var out []string
	for _, r := range routes {
		if r.Prefix {
			out = append(out, r.Path+"capabilities", r.Path+"exchange")
		} else {
			out = append(out, r.Path)
		}
	}
	return out
}

// Routed reports whether any of routes takes the request path p.
func Routed(routes []Route, p string) bool {
	for _, r := range routes {
		if r.Matches(p) {
			return true
		}
	}
	return false
}
