package authflow

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// SourceOwn names this service's own browser sessions (made by SignIn) in
// OTT records.
const SourceOwn = "own"

// DefaultSessionCookie is the own session cookie's name when Settings
// names none (the HTTP layer adds the __Host- prefix on https).
const DefaultSessionCookie = "alga_mobile_session"

// SessionInfo is a browser's web session as a SessionSource sees it.
type SessionInfo struct {
	// User is the signed-in user, as the directory knows them now.
	User mobileauth.User
	// Source is the Name of the source that recognised the session.
	Source string
	// Ref is the source's reference to the session: the OTT records it and
	// the exchange hands it back to StillValid.
	Ref string
	// StartedAt is when the session began (the hand-off's cross-site guard
	// needs the session's age); zero when the source cannot tell.
	StartedAt time.Time
}

// SessionSource is one kind of web session the hand-off accepts: this
// service's own sign-in, or (appliance mode) the AlgaPSA web app's cookie.
// Cookies are the request's cookies by name, so no source sees HTTP.
type SessionSource interface {
	// Name identifies the source in OTT records; stable across releases.
	Name() string
	// Session returns the live session the cookies carry, with an active
	// user; ErrNoSession when they carry none (or one that is not valid).
	Session(ctx context.Context, cookies map[string]string, now time.Time) (SessionInfo, error)
	// StillValid reports whether the session ref, issued to tenantID and
	// userID, is still live at now (the exchange checks it again, so a web
	// sign-out between hand-off and exchange ends the OTT).
	StillValid(ctx context.Context, ref, tenantID, userID string, now time.Time) (bool, error)
}

// MemberSessionSource is a SessionSource whose exchange-time re-check can
// read the user and their tenant in the same look-up (appliance mode: one
// query over AlgaPSA's sessions, users and tenants). The exchange then uses
// that Member instead of asking the Directory again; the Member is what
// Directory.GetMember would return, and is used only when valid is true.
type MemberSessionSource interface {
	SessionSource
	StillValidMember(ctx context.Context, ref, tenantID, userID string, now time.Time) (m mobileauth.Member, valid bool, err error)
}

// ownSessions is SessionSource over this service's own browser sessions:
// the cookie carries a random id, the store keeps its hash.
type ownSessions struct {
	cookie   string
	sessions mobileauth.SessionStore
	users    Directory
}

func (o *ownSessions) Name() string { return SourceOwn }

// Session resolves the session cookie to its live session and active user.
func (o *ownSessions) Session(ctx context.Context, cookies map[string]string, now time.Time) (SessionInfo, error) {
	id := cookies[o.cookie]
	if id == "" || len(id) > 128 {
		return SessionInfo{}, ErrNoSession
	}
	hash := token.HashOf(id)
	sess, err := o.sessions.GetSession(ctx, hash)
	if errors.Is(err, mobileauth.ErrNotFound) || (err == nil && !sess.Valid(now)) {
		return SessionInfo{}, ErrNoSession
	}
	if err != nil {
		return SessionInfo{}, fmt.Errorf("load web session: %w", err)
	}
	u, err := o.users.GetUser(ctx, sess.TenantID, sess.UserID)
	if errors.Is(err, mobileauth.ErrNotFound) || (err == nil && !u.Active) {
		return SessionInfo{}, ErrNoSession
	}
	if err != nil {
		return SessionInfo{}, fmt.Errorf("load user: %w", err)
	}
	return SessionInfo{User: u, Source: SourceOwn, Ref: hex.EncodeToString(hash[:]), StartedAt: sess.CreatedAt}, nil
}

// StillValid reads the session again. The exchange does not call it for
// own sessions: ConsumeOTT reports their validity in the same statement.
func (o *ownSessions) StillValid(ctx context.Context, ref, tenantID, userID string, now time.Time) (bool, error) {
	hash, ok := ownHash(ref)
	if !ok {
		return false, nil
	}
	sess, err := o.sessions.GetSession(ctx, hash)
	if errors.Is(err, mobileauth.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load web session: %w", err)
	}
	return sess.Valid(now) && sess.TenantID == tenantID && sess.UserID == userID, nil
}

// ownHash decodes an own session's reference back to its hash.
func ownHash(ref string) (mobileauth.Hash, bool) {
	var h mobileauth.Hash
	b, err := hex.DecodeString(ref)
	if err != nil || len(b) != len(h) {
		return h, false
	}
	copy(h[:], b)
	return h, true
}

// WebSession returns the browser's web session, trying each source in
// order (the web app's cookie first when configured, then the service's
// own); ErrNoSession when none recognises one. A source's failure other
// than "no session" is returned: a broken database must not read as
// "signed out" and send the user round the sign-in loop.
func (s *Service) WebSession(ctx context.Context, cookies map[string]string) (SessionInfo, error) {
	now := s.now()
	for _, src := range s.sources {
		info, err := src.Session(ctx, cookies, now)
		if errors.Is(err, ErrNoSession) {
			continue
		}
		if err != nil {
			return SessionInfo{}, fmt.Errorf("web session (%s): %w", src.Name(), err)
		}
		info.Source = src.Name()
		return info, nil
	}
	return SessionInfo{}, ErrNoSession
}

// sessionStillValid re-checks, at exchange, the web session that issued
// ott. Own sessions were checked by the consuming statement itself; any
// other source is asked again. An OTT of a source no longer configured is
// refused. A source that read the user and tenant along the way returns
// them (else nil), so the exchange need not read them again.
func (s *Service) sessionStillValid(ctx context.Context, ott mobileauth.ConsumedOTT) (bool, *mobileauth.Member, error) {
	if ott.SessionSource == "" || ott.SessionSource == SourceOwn {
		return ott.SessionValid, nil, nil
	}
	for _, src := range s.sources {
		if src.Name() != ott.SessionSource {
			continue
		}
		if ms, ok := src.(MemberSessionSource); ok {
			m, valid, err := ms.StillValidMember(ctx, ott.SessionRef, ott.TenantID, ott.UserID, s.now())
			if err != nil || !valid {
				return false, nil, err
			}
			return true, &m, nil
		}
		valid, err := src.StillValid(ctx, ott.SessionRef, ott.TenantID, ott.UserID, s.now())
		return valid, nil, err
	}
	return false, nil, nil
}
