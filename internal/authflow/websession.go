package authflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

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
