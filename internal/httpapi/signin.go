package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// WebService is what the browser pages need from the use cases.
type WebService interface {
	SignInPage(ctx context.Context, cookies map[string]string, callbackURL string) authflow.SignInPage
	StartSignIn(ctx context.Context, provider, callbackURL string) authflow.SignInStart
	FinishSignIn(ctx context.Context, cb authflow.SignInCallback) (authflow.SignInFinish, error)
	SignOut(ctx context.Context, sessionID string) error
	Handoff(ctx context.Context, req authflow.HandoffRequest) (authflow.HandoffResult, error)
}

// WebOptions switch the browser sign-in on.
type WebOptions struct {
	Service WebService
	// Origin is NEXTAUTH_URL's origin; cookies are Secure when it is https.
	Origin string
	// RequestHost is the host the browser asked for, as the trusted-proxy
	// rules see it (for the handoff's allowlist check).
	RequestHost func(*http.Request) string
}

// signinErrors turns error codes into sentences; unknown codes get the
// generic one, so nothing a link carries is ever echoed.
var signinErrors = map[string]string{
	"invalid_redirect":                 "The app asked to return to an address this server does not accept. Update the app, or ask your administrator.",
	authflow.SignInFlowExpired:         "Your sign-in took too long or was started in another browser. Please try again.",
	authflow.SignInAccessDenied:        "Sign-in was cancelled at the provider.",
	authflow.SignInProviderUnavailable: "The sign-in provider could not be reached. Please try again in a moment.",
	authflow.SignInEmailNotVerified:    "Your e-mail address is not verified with the sign-in provider, so it cannot be used here.",
	authflow.SignInFailed:              "The sign-in provider's answer could not be verified. Please try again.",
	authflow.SignInUnknownProvider:     "That sign-in option is not available on this server.",
	"session_expired":                  "Your session has ended. Please sign in again.",
}

const genericSigninError = "Sign-in did not complete. Please try again."

func signinErrorText(code string) string {
	if code == "" {
		return ""
	}
	if t, ok := signinErrors[code]; ok {
		return t
	}
	return genericSigninError
}

// signinPage is SPEC §3.2.
func (s *Server) signinPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if refusals[q.Get("error")] != nil {
		s.refusedPage(w, r, q.Get("error"))
		return
	}
	page := s.web.Service.SignInPage(r.Context(), cookieMap(r), q.Get("callbackUrl"))
	if page.Redirect != "" {
		http.Redirect(w, r, page.Redirect, http.StatusFound)
		return
	}
	d := pageData{Title: "Sign in", Error: signinErrorText(q.Get("error")), SignedInAs: page.SignedInAs}
	for i, p := range page.Providers {
		href := "/auth/signin/" + url.PathEscape(p.ID)
		if page.Callback != "" {
			href += "?" + url.Values{"callbackUrl": {page.Callback}}.Encode()
		}
		d.Providers = append(d.Providers, providerLink{Name: p.Name, Href: href, Primary: i == 0})
	}
	s.renderPage(w, r, http.StatusOK, "signin", d)
}

// signinStart sends the browser to the provider, keeping the sealed flow
// (state, nonce, PKCE verifier) in a short-lived HttpOnly cookie.
func (s *Server) signinStart(w http.ResponseWriter, r *http.Request) {
	start := s.web.Service.StartSignIn(r.Context(), chi.URLParam(r, "provider"), r.URL.Query().Get("callbackUrl"))
	if start.Refusal != "" {
		s.backToSignin(w, r, start.Refusal, start.Callback)
		return
	}
	s.setCookie(w, flowCookie, start.FlowCookie, authflow.SignInFlowTTL)
	setPageHeaders(w)
	http.Redirect(w, r, start.Location, http.StatusFound)
}

// callbackFor finishes the flow at the path AlgaPSA registers with each
// provider. Any failure leaves no session behind.
func (s *Server) callbackFor(provider string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.callback(w, r, provider) }
}

func (s *Server) callback(w http.ResponseWriter, r *http.Request, provider string) {
	q := r.URL.Query()
	flow := s.cookie(r, flowCookie)
	res, err := s.web.Service.FinishSignIn(r.Context(), authflow.SignInCallback{Provider: provider, FlowCookie: flow,
		State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error"), ClientIP: s.clientIP(r)})
	if err == nil && res.Outcome == authflow.SignInNotFound {
		s.notFound(w, r)
		return
	}
	s.clearCookie(w, flowCookie)
	switch {
	case err != nil:
		writeError(w, r, s.log, err)
	case res.Outcome == authflow.SignInBack:
		s.backToSignin(w, r, res.Refusal, res.Callback)
	case errors.Is(res.Err, authflow.ErrUntrustedTenant):
		s.refuse(w, r, refusedUntrustedTenant, res.Email)
	case errors.Is(res.Err, authflow.ErrAmbiguousUser):
		s.refuse(w, r, refusedAmbiguous, res.Email)
	case res.Outcome == authflow.SignInRefused:
		s.refuse(w, r, refusedNoAccount, res.Email)
	default:
		s.setCookie(w, sessionCookie, res.SessionID, s.web.sessionTTL)
		setPageHeaders(w)
		http.Redirect(w, r, res.Location, http.StatusFound)
	}
}

// signout ends the browser session. Cross-site posts are refused so a
// third-party page cannot sign the user out.
func (s *Server) signout(w http.ResponseWriter, r *http.Request) {
	if s.crossSite(r) {
		writeError(w, r, s.log, mobileauth.Errorf(mobileauth.CodeForbidden, "Cross-site sign-out refused"))
		return
	}
	if err := s.web.Service.SignOut(r.Context(), s.sessionCookie(r)); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	s.clearCookie(w, sessionCookie)
	setPageHeaders(w)
	http.Redirect(w, r, "/auth/signin", http.StatusSeeOther)
}

// crossSite reports whether a state-changing request did not come from
// our own pages. Sec-Fetch-Site decides when the browser sends it (all
// current ones do): our pages' Referrer-Policy no-referrer makes browsers
// send "Origin: null" even on a same-origin form post, so the Origin
// header alone would refuse our own sign-out button. Without
// Sec-Fetch-Site, an Origin other than ours (null included) is refused.
func (s *Server) crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin":
		return false
	case "":
		o := r.Header.Get("Origin")
		return o != "" && o != s.web.Origin
	default: // cross-site, same-site (a sibling host), none
		return true
	}
}

// backToSignin sends the browser to the sign-in page with an error code,
// keeping the (already vetted) callback so a retry still reaches the app.
func (s *Server) backToSignin(w http.ResponseWriter, r *http.Request, code, callback string) {
	v := url.Values{"error": {code}}
	if callback != "" {
		v.Set("callbackUrl", callback)
	}
	setPageHeaders(w)
	http.Redirect(w, r, "/auth/signin?"+v.Encode(), http.StatusFound)
}
