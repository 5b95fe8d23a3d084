package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/nineminds/alga-mobile-auth/internal/allowlist"
	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sso"
)

// WebService is what the browser pages need from the use cases.
type WebService interface {
	SignIn(ctx context.Context, req authflow.SignInRequest) (authflow.SignInResult, error)
	WebSession(ctx context.Context, cookies map[string]string) (authflow.SessionInfo, error)
	SignOut(ctx context.Context, sessionID string) error
	Handoff(ctx context.Context, req authflow.HandoffRequest) (authflow.HandoffResult, error)
}

// WebOptions switch the browser sign-in on.
type WebOptions struct {
	Service   WebService
	Providers []*sso.Provider
	// FlowKey seals the short-lived sign-in flow cookie (≥ 32 bytes).
	FlowKey []byte
	// Origin is NEXTAUTH_URL's origin; cookies are Secure when it is https.
	Origin string
	// RequestHost is the host the browser asked for, as the trusted-proxy
	// rules see it (for the handoff's allowlist check).
	RequestHost func(*http.Request) string
}

// flowTTL bounds how long a user may spend at the identity provider.
const flowTTL = 10 * time.Minute

// signinErrors turns error codes into sentences; unknown codes get the
// generic one, so nothing a link carries is ever echoed.
var signinErrors = map[string]string{
	"invalid_redirect":     "The app asked to return to an address this server does not accept. Update the app, or ask your administrator.",
	"flow_expired":         "Your sign-in took too long or was started in another browser. Please try again.",
	"access_denied":        "Sign-in was cancelled at the provider.",
	"provider_unavailable": "The sign-in provider could not be reached. Please try again in a moment.",
	"email_not_verified":   "Your e-mail address is not verified with the sign-in provider, so it cannot be used here.",
	"sign_in_failed":       "The sign-in provider's answer could not be verified. Please try again.",
	"unknown_provider":     "That sign-in option is not available on this server.",
	"session_expired":      "Your session has ended. Please sign in again.",
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
	callback := allowlist.SameOrigin(s.web.Origin, q.Get("callbackUrl"))
	sess, err := s.web.Service.WebSession(r.Context(), cookieMap(r))
	signedIn := err == nil
	if signedIn && callback != "" {
		http.Redirect(w, r, callback, http.StatusFound)
		return
	}
	d := pageData{Title: "Sign in", Error: signinErrorText(q.Get("error"))}
	if signedIn {
		d.SignedInAs = sess.User.Email
	}
	for i, p := range s.web.Providers {
		href := "/auth/signin/" + string(p.ID())
		if callback != "" {
			href += "?" + url.Values{"callbackUrl": {callback}}.Encode()
		}
		d.Providers = append(d.Providers, providerLink{Name: p.DisplayName(), Href: href, Primary: i == 0})
	}
	s.renderPage(w, r, http.StatusOK, "signin", d)
}

// signinStart begins the OpenID Connect flow: state, nonce and PKCE
// verifier go into a sealed, HttpOnly, short-lived cookie.
func (s *Server) signinStart(w http.ResponseWriter, r *http.Request) {
	callback := allowlist.SameOrigin(s.web.Origin, r.URL.Query().Get("callbackUrl"))
	p, err := sso.ByID(s.web.Providers, sso.ID(chi.URLParam(r, "provider")))
	if err != nil {
		s.backToSignin(w, r, "unknown_provider", callback)
		return
	}
	flow, err := sso.NewFlow(s.rand, p.ID(), callback, s.now(), flowTTL)
	if err == nil {
		var sealed string
		if sealed, err = sso.SealFlow(s.web.FlowKey, flow); err == nil {
			var to string
			if to, err = p.AuthCodeURL(r.Context(), flow); err == nil {
				s.setCookie(w, flowCookie, sealed, flowTTL)
				setPageHeaders(w)
				http.Redirect(w, r, to, http.StatusFound)
				return
			}
		}
	}
	s.log.WarnContext(r.Context(), "sign-in could not start", "provider", p.ID(), "error", err)
	s.backToSignin(w, r, "provider_unavailable", callback)
}

// callback finishes the flow at the path AlgaPSA registers with each
// provider. Any failure leaves no session behind.
func (s *Server) callbackFor(id sso.ID) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.callback(w, r, id) }
}

func (s *Server) callback(w http.ResponseWriter, r *http.Request, id sso.ID) {
	p, err := sso.ByID(s.web.Providers, id)
	if err != nil {
		s.notFound(w, r)
		return
	}
	s.clearCookie(w, flowCookie)
	q := r.URL.Query()
	flow, err := sso.OpenFlow(s.web.FlowKey, s.cookie(r, flowCookie), s.now())
	if err != nil || flow.Provider != id {
		s.backToSignin(w, r, "flow_expired", "")
		return
	}
	if err := flow.CheckState(q.Get("state")); err != nil {
		s.backToSignin(w, r, "flow_expired", flow.CallbackURL)
		return
	}
	if q.Get("error") != "" || q.Get("code") == "" {
		s.backToSignin(w, r, "access_denied", flow.CallbackURL)
		return
	}
	ident, err := p.Finish(r.Context(), flow, q.Get("code"))
	if err != nil {
		s.log.WarnContext(r.Context(), "sign-in refused by ID-token checks", "provider", id, "error", err)
		if errors.Is(err, sso.ErrUntrustedTenant) {
			// nOAuth: another organisation's directory could have set this
			// address, so say why instead of a generic failure.
			s.renderPage(w, r, http.StatusForbidden, "refused", pageData{Title: "Organisation not accepted",
				Error:  "This server does not accept Microsoft sign-ins from your organisation's directory, and Microsoft did not confirm that your organisation owns your e-mail address's domain.",
				Detail: "Ask your administrator to add your organisation's Microsoft Entra tenant id to ALGA_MOBILE_MICROSOFT_TENANTS."})
			return
		}
		code := "sign_in_failed"
		switch {
		case errors.Is(err, sso.ErrEmailNotVerified), errors.Is(err, sso.ErrNoEmail):
			code = "email_not_verified"
		case errors.Is(err, sso.ErrDiscovery):
			code = "provider_unavailable"
		}
		s.backToSignin(w, r, code, flow.CallbackURL)
		return
	}
	res, err := s.web.Service.SignIn(r.Context(), authflow.SignInRequest{Provider: string(id), Email: ident.Email, ClientIP: s.clientIP(r)})
	switch {
	case errors.Is(err, authflow.ErrUnknownUser):
		s.renderPage(w, r, http.StatusForbidden, "refused", pageData{Title: "No AlgaPSA account",
			Error:  "There is no active AlgaPSA account for " + ident.Email + ".",
			Detail: "Ask your administrator to add you, or sign in with the account your company uses for AlgaPSA."})
		return
	case errors.Is(err, authflow.ErrAmbiguousUser):
		s.renderPage(w, r, http.StatusForbidden, "refused", pageData{Title: "Account is ambiguous",
			Error:  ident.Email + " belongs to more than one organisation on this server, so it cannot be used to sign in.",
			Detail: "Ask your administrator to keep the address in one organisation only."})
		return
	case err != nil:
		writeError(w, r, s.log, err)
		return
	}
	s.setCookie(w, sessionCookie, res.SessionID, s.web.sessionTTL)
	to := flow.CallbackURL
	if to == "" {
		to = "/auth/signin"
	}
	setPageHeaders(w)
	http.Redirect(w, r, to, http.StatusFound)
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
