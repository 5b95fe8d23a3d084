package authflow

import (
	"context"
	"errors"

	"github.com/nineminds/alga-mobile-auth/internal/allowlist"
	"github.com/nineminds/alga-mobile-auth/internal/sso"
)

// The browser sign-in (SPEC §3.2): the page, the start of an OpenID
// Connect flow and its callback. The HTTP layer keeps the cookies, the
// redirects and the pages; the protocol and every refusal are decided here.

// SignInFlowTTL bounds how long a user may spend at the identity provider
// (the flow cookie's lifetime).
const SignInFlowTTL = sso.DefaultFlowTTL

// CallbackPathPrefix is where the providers' callbacks live (the paths
// AlgaPSA's web app registers): CallbackPathPrefix + a SignInProviderIDs entry.
const CallbackPathPrefix = sso.CallbackPathPrefix

// SignInProviderIDs are every provider id a callback path may name.
var SignInProviderIDs = []string{string(sso.Google), string(sso.Microsoft), string(sso.Dev)}

// Sign-in refusal codes: the sign-in page turns each into a sentence.
const (
	SignInUnknownProvider     = "unknown_provider"
	SignInProviderUnavailable = "provider_unavailable"
	SignInFlowExpired         = "flow_expired"
	SignInAccessDenied        = "access_denied"
	SignInEmailNotVerified    = "email_not_verified"
	SignInFailed              = "sign_in_failed"
)

// ErrUntrustedTenant refuses a Microsoft sign-in from a directory that
// could have set the address (nOAuth): a tenant not in
// ALGA_MOBILE_MICROSOFT_TENANTS, and no domain-verified e-mail.
var ErrUntrustedTenant = errors.New("e-mail from an untrusted Microsoft tenant")

// SignInOptions switch the browser sign-in on.
type SignInOptions struct {
	Providers []*sso.Provider
	// FlowKey seals the short-lived flow cookie (≥ 32 bytes).
	FlowKey []byte
}

// ProviderChoice is one button of the sign-in page.
type ProviderChoice struct {
	ID   string
	Name string
}

// SignInPage is what the sign-in page shows, or where it sends a browser
// that is already signed in.
type SignInPage struct {
	// Redirect, when set, is where a signed-in browser with a callbackUrl
	// goes at once.
	Redirect string
	// Callback is the callbackUrl kept (same-origin only; "" otherwise).
	Callback   string
	SignedInAs string
	Providers  []ProviderChoice
}

// SignInPage vets callbackURL (same-origin only: no open redirect) and
// says what the page shows.
func (s *Service) SignInPage(ctx context.Context, cookies map[string]string, callbackURL string) SignInPage {
	p := SignInPage{Callback: allowlist.SameOrigin(s.set.Origin, callbackURL)}
	if sess, err := s.WebSession(ctx, cookies); err == nil {
		if p.Callback != "" {
			return SignInPage{Redirect: p.Callback}
		}
		p.SignedInAs = sess.User.Email
	}
	for _, pr := range s.signIn.Providers {
		p.Providers = append(p.Providers, ProviderChoice{ID: string(pr.ID()), Name: pr.DisplayName()})
	}
	return p
}

// SignInStart is where the browser goes to sign in.
type SignInStart struct {
	// Location is the provider's authorization URL, or (Refusal set) none.
	Location string
	// FlowCookie is the sealed flow to keep in a cookie for SignInFlowTTL.
	FlowCookie string
	// Refusal is a sign-in refusal code; then the browser goes back to the
	// sign-in page with it and Callback.
	Refusal  string
	Callback string
}

// StartSignIn begins the OpenID Connect flow with provider: state, nonce
// and PKCE verifier go into the sealed flow the browser keeps.
func (s *Service) StartSignIn(ctx context.Context, provider, callbackURL string) SignInStart {
	callback := allowlist.SameOrigin(s.set.Origin, callbackURL)
	p, err := sso.ByID(s.signIn.Providers, sso.ID(provider))
	if err != nil {
		return SignInStart{Refusal: SignInUnknownProvider, Callback: callback}
	}
	flow, err := sso.NewFlow(s.rand, p.ID(), callback, s.now(), SignInFlowTTL)
	if err == nil {
		var sealed string
		if sealed, err = sso.SealFlow(s.signIn.FlowKey, flow); err == nil {
			var to string
			if to, err = p.AuthCodeURL(ctx, flow); err == nil {
				return SignInStart{Location: to, FlowCookie: sealed, Callback: callback}
			}
		}
	}
	s.log.WarnContext(ctx, "sign-in could not start", "provider", p.ID(), "error", err)
	return SignInStart{Refusal: SignInProviderUnavailable, Callback: callback}
}

// SignInCallback is the provider's answer as the callback received it.
type SignInCallback struct {
	Provider   string
	FlowCookie string
	State      string
	Code       string
	// Error is the provider's error parameter (the user cancelled, …).
	Error    string
	ClientIP string
}

// SignInOutcome says how a callback ended.
type SignInOutcome int

// Sign-in outcomes.
const (
	// SignInNotFound: no such provider here (the path is not served).
	SignInNotFound SignInOutcome = iota + 1
	// SignInBack: back to the sign-in page with Refusal and Callback.
	SignInBack
	// SignInRefused: the identity is not accepted (Err is ErrUntrustedTenant)
	// or the verified e-mail maps to no single active user (ErrUnknownUser,
	// ErrAmbiguousUser); no session.
	SignInRefused
	// SignInDone: SessionID is the new session's cookie value and
	// Location where the browser goes next.
	SignInDone
)

// SignInFinish is how a callback ended.
type SignInFinish struct {
	Outcome   SignInOutcome
	Refusal   string
	Callback  string
	Email     string
	Err       error
	SessionID string
	Location  string
}

// FinishSignIn completes the flow at the callback: the sealed flow, the
// state, the code, the ID token, then the directory (SignIn). Any refusal
// leaves no session behind. An error is a failure of the service itself.
func (s *Service) FinishSignIn(ctx context.Context, cb SignInCallback) (SignInFinish, error) {
	p, err := sso.ByID(s.signIn.Providers, sso.ID(cb.Provider))
	if err != nil {
		return SignInFinish{Outcome: SignInNotFound}, nil
	}
	back := func(code, callback string) (SignInFinish, error) {
		return SignInFinish{Outcome: SignInBack, Refusal: code, Callback: callback}, nil
	}
	flow, err := sso.OpenFlow(s.signIn.FlowKey, cb.FlowCookie, s.now())
	if err != nil || flow.Provider != p.ID() {
		return back(SignInFlowExpired, "")
	}
	if err := flow.CheckState(cb.State); err != nil {
		return back(SignInFlowExpired, flow.CallbackURL)
	}
	if cb.Error != "" || cb.Code == "" {
		return back(SignInAccessDenied, flow.CallbackURL)
	}
	ident, err := p.Finish(ctx, flow, cb.Code)
	if err != nil {
		s.log.WarnContext(ctx, "sign-in refused by ID-token checks", "provider", p.ID(), "error", err)
		if errors.Is(err, sso.ErrUntrustedTenant) {
			// nOAuth: another organisation's directory could have set this
			// address; the page says why instead of a generic failure.
			return SignInFinish{Outcome: SignInRefused, Err: ErrUntrustedTenant}, nil
		}
		return back(finishRefusal(err), flow.CallbackURL)
	}
	res, err := s.SignIn(ctx, SignInRequest{Provider: cb.Provider, Email: ident.Email, ClientIP: cb.ClientIP})
	switch {
	case errors.Is(err, ErrUnknownUser), errors.Is(err, ErrAmbiguousUser):
		return SignInFinish{Outcome: SignInRefused, Err: err, Email: ident.Email}, nil
	case err != nil:
		return SignInFinish{}, err
	}
	to := flow.CallbackURL
	if to == "" {
		to = "/auth/signin"
	}
	return SignInFinish{Outcome: SignInDone, SessionID: res.SessionID, Location: to}, nil
}

// finishRefusal classifies a refused ID token for the sign-in page.
func finishRefusal(err error) string {
	switch {
	case errors.Is(err, sso.ErrEmailNotVerified), errors.Is(err, sso.ErrNoEmail):
		return SignInEmailNotVerified
	case errors.Is(err, sso.ErrDiscovery):
		return SignInProviderUnavailable
	}
	return SignInFailed
}
