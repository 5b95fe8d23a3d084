package authflow

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nineminds/alga-mobile-auth/internal/allowlist"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// Sign-in refusals, shown to the browser as sentences by the web pages.
var (
	ErrUnknownUser   = errors.New("no active user with this e-mail")
	ErrAmbiguousUser = errors.New("e-mail belongs to users of several tenants")
	ErrNoSession     = errors.New("no valid web session")
)

// SignInRequest is a verified identity from an identity provider.
type SignInRequest struct {
	Provider string
	Email    string // verified, lower-cased
	ClientIP string
}

// SignInResult carries the clear session id for the cookie.
type SignInResult struct {
	SessionID string
	User      mobileauth.User
}

// SignIn maps a verified e-mail to exactly one active user and opens a web
// session. Two tenants with the same e-mail are refused rather than
// guessed: picking one could sign a technician in to the wrong customer.
func (s *Service) SignIn(ctx context.Context, req SignInRequest) (SignInResult, error) {
	email := strings.ToLower(strings.TrimSpace(req.Email))
	if email == "" || len(email) > 320 || strings.ContainsFunc(email, unicode.IsControl) || !utf8.ValidString(email) {
		return SignInResult{}, ErrUnknownUser
	}
	users, err := s.st.Directory.FindUsersByEmail(ctx, email)
	if err != nil {
		return SignInResult{}, fmt.Errorf("find user: %w", err)
	}
	var active []mobileauth.User
	for _, u := range users {
		if u.Active {
			active = append(active, u)
		}
	}
	refuse := func(reason string, err error) (SignInResult, error) {
		s.audit(ctx, mobileauth.AuditEvent{Operation: mobileauth.AuditSignInRefused, ClientIP: req.ClientIP,
			Details: map[string]string{"provider": req.Provider, "reason": reason, "email": email}})
		return SignInResult{}, err
	}
	switch {
	case len(active) == 0:
		return refuse("unknown_or_inactive", ErrUnknownUser)
	case len(active) > 1:
		return refuse("ambiguous", ErrAmbiguousUser)
	}
	u := active[0]
	id, err := token.NewOpaque(s.rand)
	if err != nil {
		return SignInResult{}, err
	}
	now := s.now()
	sess := mobileauth.WebSession{IDHash: token.HashOf(id), TenantID: u.TenantID, UserID: u.ID, Provider: req.Provider,
		CreatedAt: now, ExpiresAt: now.Add(s.set.SessionTTL)}
	if err := s.st.Sessions.CreateSession(ctx, sess); err != nil {
		return SignInResult{}, fmt.Errorf("create web session: %w", err)
	}
	s.audit(ctx, mobileauth.AuditEvent{TenantID: u.TenantID, UserID: u.ID, Operation: mobileauth.AuditSignIn,
		ClientIP: req.ClientIP, Details: map[string]string{"provider": req.Provider}})
	return SignInResult{SessionID: id, User: u}, nil
}

// SessionUser resolves a session cookie to its live session and active
// user; ErrNoSession otherwise.
func (s *Service) SessionUser(ctx context.Context, sessionID string) (mobileauth.WebSession, mobileauth.User, error) {
	if sessionID == "" || len(sessionID) > 128 {
		return mobileauth.WebSession{}, mobileauth.User{}, ErrNoSession
	}
	sess, err := s.st.Sessions.GetSession(ctx, token.HashOf(sessionID))
	if errors.Is(err, mobileauth.ErrNotFound) || (err == nil && !sess.Valid(s.now())) {
		return sess, mobileauth.User{}, ErrNoSession
	}
	if err != nil {
		return sess, mobileauth.User{}, fmt.Errorf("load web session: %w", err)
	}
	u, err := s.st.Directory.GetUser(ctx, sess.TenantID, sess.UserID)
	if errors.Is(err, mobileauth.ErrNotFound) || (err == nil && !u.Active) {
		return sess, u, ErrNoSession
	}
	if err != nil {
		return sess, u, fmt.Errorf("load user: %w", err)
	}
	return sess, u, nil
}

// SignOut ends a web session; OTTs it issued stop working (the exchange
// checks the session). Mobile sessions already exchanged live on.
func (s *Service) SignOut(ctx context.Context, sessionID string) error {
	if sessionID == "" || len(sessionID) > 128 {
		return nil
	}
	err := s.st.Sessions.RevokeSession(ctx, token.HashOf(sessionID), s.now())
	if errors.Is(err, mobileauth.ErrNotFound) {
		return nil
	}
	return err
}

// HandoffRequest is what the handoff page knows after steps 1–3 of SPEC
// §3.3 (parameters present, redirect allowed, session valid).
type HandoffRequest struct {
	Session       mobileauth.WebSession
	User          mobileauth.User
	Redirect      *url.URL
	State         string
	CodeChallenge string
	// CodeChallengeMethod must be S256 when a challenge is given.
	CodeChallengeMethod string
	RequestHost         string
	ClientIP            string
}

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
	Location string
}

// Handoff runs steps 4–7 of SPEC §3.3 in order and returns the deep link.
func (s *Service) Handoff(ctx context.Context, req HandoffRequest) (HandoffResult, error) {
	refuse := func(code string) (HandoffResult, error) {
		s.events.AuthEvent("handoff_refused", code)
		return HandoffResult{Location: allowlist.WithParams(req.Redirect, url.Values{"error": {code}, "state": {req.State}})}, nil
	}
	if req.User.Type != mobileauth.UserInternal {
		return refuse(RefuseClientUser)
	}
	if !allowlist.Allowed(s.set.HostAllowlist, s.set.OwnHost, req.RequestHost) {
		return refuse(RefuseHost)
	}
	var rl *RateLimitedError
	if err := s.limit(ctx, "handoff:"+req.User.TenantID+":"+req.User.ID+":"+rateIP(req.ClientIP), handoffLimit); errors.As(err, &rl) {
		return refuse(RefuseRateLimit)
	} else if err != nil {
		return HandoffResult{}, err
	}
	if req.CodeChallenge != "" || req.CodeChallengeMethod != "" {
		if req.CodeChallengeMethod != "S256" || !token.ValidChallenge(req.CodeChallenge) {
			return refuse(RefusePKCE)
		}
	}
	ott, err := token.NewOpaque(s.rand)
	if err != nil {
		return HandoffResult{}, err
	}
	now := s.now()
	rec := mobileauth.OneTimeToken{Hash: token.HashOf(ott), TenantID: req.User.TenantID, UserID: req.User.ID,
		SessionHash: req.Session.IDHash, State: req.State, CodeChallenge: req.CodeChallenge,
		CreatedAt: now, ExpiresAt: now.Add(s.set.OTTTTL)}
	if err := s.st.OTTs.CreateOTT(ctx, rec); err != nil {
		return HandoffResult{}, fmt.Errorf("store OTT: %w", err)
	}
	s.events.AuthEvent("ott_issued", "")
	s.audit(ctx, mobileauth.AuditEvent{TenantID: req.User.TenantID, UserID: req.User.ID, Operation: mobileauth.AuditOTTIssued,
		RecordID: fmt.Sprintf("%x", rec.Hash[:8]), ClientIP: req.ClientIP})
	return HandoffResult{Location: allowlist.WithParams(req.Redirect, url.Values{"ott": {ott}, "state": {req.State}})}, nil
}
