package authflow

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nineminds/alga-mobile-auth/internal/allowlist"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// HandoffRequest is the hand-off page's request as it arrived (SPEC §3.3):
// the raw query parameters, the request's cookies and where it came from.
type HandoffRequest struct {
	Redirect      string
	State         string
	CodeChallenge string
	// CodeChallengeMethod must be S256 when a challenge is given.
	CodeChallengeMethod string
	// Cookies are the request's cookies by name; the session sources read
	// the web session from them.
	Cookies map[string]string
	// ReturnURL is this hand-off's own URL, where the browser comes back
	// after signing in.
	ReturnURL   string
	RequestHost string
	ClientIP    string
	// CrossSite is Sec-Fetch-Site: cross-site: another site sent the
	// browser here (step 7's guard).
	CrossSite bool
	// Confirmed is the POST of the confirmation page, carrying
	// ConfirmToken (its CSRF token).
	Confirmed    bool
	ConfirmToken string
}

// HandoffOutcome says what kind of answer the hand-off gave.
type HandoffOutcome int

// Hand-off outcomes.
const (
	// HandoffSignIn: parameters missing or no web session; Location is the
	// sign-in page (with the way back when there are parameters).
	HandoffSignIn HandoffOutcome = iota + 1
	// HandoffInvalidRedirect: the redirect or state is not acceptable;
	// Location is the sign-in page with error=invalid_redirect.
	HandoffInvalidRedirect
	// HandoffRefused: Location is the redirect with error and state (the
	// Refuse* codes).
	HandoffRefused
	// HandoffIssued: Location is the redirect with ott and state.
	HandoffIssued
	// HandoffConfirm: a cross-site hand-off on an older web session (or a
	// confirmation whose token does not hold): show the same-origin
	// confirmation page, which posts ConfirmToken back (step 7).
	HandoffConfirm
)

// crossSiteGrace is how old a web session may be for a cross-site
// hand-off to go through unasked: the normal flow's redirect chain crosses
// the identity provider right after sign-in.
const crossSiteGrace = 2 * time.Minute

// Handoff refusals: SPEC §3.3 error values put on the redirect.
const (
	RefuseClientUser = "client_not_allowed"
	RefuseHost       = "host_not_allowlisted"
	RefuseRateLimit  = "rate_limited"
	// RefusePKCE: a code_challenge that is not a valid S256 challenge (a
	// PKCE check, after the SPEC's numbered steps 4–6).
	RefusePKCE = "invalid_request"
)

// HandoffResult is where the browser goes next.
type HandoffResult struct {
	Outcome  HandoffOutcome
	Location string
	// Refusal is the Refuse* code when Outcome is HandoffRefused.
	Refusal string
	// Session is the web session the hand-off ran for (zero before step 3).
	Session SessionInfo
	// ConfirmToken is the confirmation page's CSRF token (HandoffConfirm).
	ConfirmToken string
}

// maxStateLen bounds the state the app sends: it is echoed in the deep
// link and stored with the OTT.
const maxStateLen = 512

// Handoff runs SPEC §3.3 in order and says where the browser goes next.
func (s *Service) Handoff(ctx context.Context, req HandoffRequest) (HandoffResult, error) {
	// 1. Parameters present.
	if req.Redirect == "" || req.State == "" {
		return HandoffResult{Outcome: HandoffSignIn, Location: "/auth/signin"}, nil
	}
	// 2. Redirect allowed: SPEC's shape, and https and exp redirects only to
	// hosts this appliance trusts, or a link could send a signed-in user's
	// OTT to any site. The state is bounded and free of control characters
	// (PostgreSQL rejects NUL in text).
	redirect, ok := allowlist.MobileRedirect(req.Redirect)
	ok = ok && allowlist.RedirectHostTrusted(redirect, s.set.Origin, s.set.HostAllowlist)
	if !ok || !validState(req.State) {
		return HandoffResult{Outcome: HandoffInvalidRedirect, Location: "/auth/signin?error=invalid_redirect"}, nil
	}
	// 3. A web session, from whichever source recognises one.
	sess, err := s.WebSession(ctx, req.Cookies)
	if errors.Is(err, ErrNoSession) {
		loc := "/auth/signin"
		if req.ReturnURL != "" {
			loc += "?" + url.Values{"callbackUrl": {req.ReturnURL}}.Encode()
		}
		return HandoffResult{Outcome: HandoffSignIn, Location: loc}, nil
	}
	if err != nil {
		return HandoffResult{}, err
	}
	return s.issueOTT(ctx, req, redirect, sess)
}

// validState accepts what may be echoed in a deep link and stored.
func validState(state string) bool {
	return len(state) <= maxStateLen && !strings.ContainsFunc(state, unicode.IsControl) && utf8.ValidString(state)
}

// issueOTT runs steps 4 onwards of SPEC §3.3 for a signed-in browser.
func (s *Service) issueOTT(ctx context.Context, req HandoffRequest, redirect *url.URL, sess SessionInfo) (HandoffResult, error) {
	u := sess.User
	refuse := func(code string) (HandoffResult, error) {
		s.events.AuthEvent("handoff_refused", code)
		return HandoffResult{Outcome: HandoffRefused, Refusal: code, Session: sess,
			Location: allowlist.WithParams(redirect, url.Values{"error": {code}, "state": {req.State}})}, nil
	}
	if u.Type != mobileauth.UserInternal {
		return refuse(RefuseClientUser)
	}
	if !allowlist.Allowed(s.set.HostAllowlist, s.set.OwnHost, req.RequestHost) {
		return refuse(RefuseHost)
	}
	var rl *RateLimitedError
	if err := s.limit(ctx, "handoff:"+u.TenantID+":"+u.ID+":"+rateIP(req.ClientIP), handoffLimit); errors.As(err, &rl) {
		return refuse(RefuseRateLimit)
	} else if err != nil {
		return HandoffResult{}, err
	}
	if req.CodeChallenge != "" || req.CodeChallengeMethod != "" {
		if req.CodeChallengeMethod != "S256" || !token.ValidChallenge(req.CodeChallenge) {
			return refuse(RefusePKCE)
		}
	}
	// 7. No other site may make a signed-in browser hand out an OTT: a
	// cross-site arrival on a session older than the sign-in that just
	// happened is confirmed on a same-origin page first. Its POST must
	// carry the token, which only our page (bound to this session and
	// these parameters) can know.
	want := s.deriver.Confirmation("handoff", sess.Source, sess.Ref, req.Redirect, req.State, req.CodeChallenge, req.CodeChallengeMethod)
	fresh := !sess.StartedAt.IsZero() && s.now().Sub(sess.StartedAt) <= crossSiteGrace
	confirmed := req.Confirmed && subtle.ConstantTimeCompare([]byte(req.ConfirmToken), []byte(want)) == 1
	if (req.Confirmed && !confirmed) || (req.CrossSite && !fresh && !confirmed) {
		s.events.AuthEvent("handoff_confirm", "")
		return HandoffResult{Outcome: HandoffConfirm, Session: sess, ConfirmToken: want}, nil
	}
	ott, err := token.NewOpaque(s.rand)
	if err != nil {
		return HandoffResult{}, err
	}
	now := s.now()
	rec := mobileauth.OneTimeToken{Hash: token.HashOf(ott), TenantID: u.TenantID, UserID: u.ID,
		SessionSource: sess.Source, SessionRef: sess.Ref, State: req.State, CodeChallenge: req.CodeChallenge,
		CreatedAt: now, ExpiresAt: now.Add(s.set.OTTTTL)}
	if sess.Source == SourceOwn {
		// Own sessions are also recorded by hash, so that consuming the OTT
		// reads the session's validity in the same statement.
		rec.SessionHash, _ = ownHash(sess.Ref)
	}
	if err := s.st.OTTs.CreateOTT(ctx, rec); err != nil {
		return HandoffResult{}, fmt.Errorf("store OTT: %w", err)
	}
	s.events.AuthEvent("ott_issued", "")
	s.audit(ctx, mobileauth.AuditEvent{TenantID: u.TenantID, UserID: u.ID, Operation: mobileauth.AuditOTTIssued,
		RecordID: fmt.Sprintf("%x", rec.Hash[:8]), ClientIP: req.ClientIP})
	return HandoffResult{Outcome: HandoffIssued, Session: sess,
		Location: allowlist.WithParams(redirect, url.Values{"ott": {ott}, "state": {req.State}})}, nil
}
