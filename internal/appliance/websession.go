// Package appliance plugs AlgaPSA's web session into the use cases
// (SPEC §8.3): it combines the web app's cookie (internal/authjs) with
// AlgaPSA's server-side session and user rows (internal/algapsa) into an
// authflow.SessionSource, so that authflow learns neither JOSE nor SQL.
package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa"
	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/authjs"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// SourceAuthJS names the web app's session in OTT records.
const SourceAuthJS = "authjs"

// Sessions is what the source needs of AlgaPSA's database
// (algapsa.DB implements it): the sessions row behind a cookie and the
// user's current state with their tenant, or a refusal wrapping
// mobileauth.ErrNotFound. On success Member.User is set.
type Sessions interface {
	CheckWebSessionMember(ctx context.Context, tenantID, sessionID, userID string, userType mobileauth.UserType) (mobileauth.Member, error)
}

// WebAppSessions is the AlgaPSA web app's own session as a SessionSource:
// the Auth.js cookie is decoded (its signature-equivalent, expiry and
// claims), then the sessions row it names must be live and the user still
// active with the claimed type, because AlgaPSA revokes sessions on the
// server and the cookie outlives a sign-out.
type WebAppSessions struct {
	decoder  *authjs.Decoder
	sessions Sessions
	log      *slog.Logger
}

// NewWebAppSessions builds the source; every argument is required.
func NewWebAppSessions(decoder *authjs.Decoder, sessions Sessions, log *slog.Logger) (*WebAppSessions, error) {
	if decoder == nil || sessions == nil || log == nil {
		return nil, errors.New("appliance: the web app session source needs a decoder, AlgaPSA's sessions and a logger")
	}
	return &WebAppSessions{decoder: decoder, sessions: sessions, log: log}, nil
}

// Name implements authflow.SessionSource.
func (w *WebAppSessions) Name() string { return SourceAuthJS }

// Session implements authflow.SessionSource. A cookie that is absent or
// refused, or whose session AlgaPSA no longer honours, is "no session" (the
// browser goes to the web app's sign-in, which settles it); an unreachable
// database is an error, not "signed out". A user whom AlgaPSA has made a
// client user since the cookie was written is returned as such, so that the
// hand-off answers client_not_allowed (SPEC §3.3 step 4).
func (w *WebAppSessions) Session(ctx context.Context, cookies map[string]string, now time.Time) (authflow.SessionInfo, error) {
	c, err := w.decoder.DecodeAt(cookies, now)
	if errors.Is(err, authjs.ErrNoCookie) {
		return authflow.SessionInfo{}, authflow.ErrNoSession
	}
	if err != nil {
		w.log.InfoContext(ctx, "web app session cookie refused", "reason", err.Error())
		return authflow.SessionInfo{}, authflow.ErrNoSession
	}
	claimed, err := mobileauth.ParseUserType(c.UserType)
	if err != nil {
		w.log.InfoContext(ctx, "web app session cookie refused", "reason", "user_type")
		return authflow.SessionInfo{}, authflow.ErrNoSession
	}
	m, err := w.sessions.CheckWebSessionMember(ctx, c.Tenant, c.SessionID, c.UserID, claimed)
	if errors.Is(err, algapsa.ErrUserTypeChanged) && claimed == mobileauth.UserInternal {
		// Made a client user since? Then the session itself is fine and
		// the hand-off refuses the user by type, with its own answer.
		if cm, cerr := w.sessions.CheckWebSessionMember(ctx, c.Tenant, c.SessionID, c.UserID, mobileauth.UserClient); cerr == nil {
			m, err = cm, nil
		}
	}
	if errors.Is(err, mobileauth.ErrNotFound) {
		w.log.InfoContext(ctx, "web app session not honoured", "tenant_id", c.Tenant, "user_id", c.UserID, "reason", err.Error())
		return authflow.SessionInfo{}, authflow.ErrNoSession
	}
	if err != nil {
		return authflow.SessionInfo{}, fmt.Errorf("check AlgaPSA web session: %w", err)
	}
	u := *m.User
	// The sessions row has no creation time and the cookie's iat is
	// rewritten on every request, so the session's age is unknown (zero).
	return authflow.SessionInfo{User: u, Source: SourceAuthJS, Ref: ref(u.TenantID, c.SessionID)}, nil
}

// StillValid implements authflow.SessionSource: at exchange the sessions
// row is read again (a web sign-out after the hand-off ends the OTT), and
// the user must still be an active internal user (OTTs are issued only to
// those).
func (w *WebAppSessions) StillValid(ctx context.Context, r, tenantID, userID string, now time.Time) (bool, error) {
	_, ok, err := w.StillValidMember(ctx, r, tenantID, userID, now)
	return ok, err
}

// StillValidMember implements authflow.MemberSessionSource: StillValid,
// returning the user and their tenant read by the same query (AlgaPSA's
// database answers both at once, so the exchange does not ask again).
func (w *WebAppSessions) StillValidMember(ctx context.Context, r, tenantID, userID string, _ time.Time) (mobileauth.Member, bool, error) {
	tenant, sessionID, ok := strings.Cut(r, "/")
	if !ok || !strings.EqualFold(tenant, tenantID) {
		return mobileauth.Member{}, false, nil
	}
	m, err := w.sessions.CheckWebSessionMember(ctx, tenant, sessionID, userID, mobileauth.UserInternal)
	if errors.Is(err, mobileauth.ErrNotFound) {
		w.log.InfoContext(ctx, "web app session ended between hand-off and exchange", "tenant_id", tenantID, "user_id", userID, "reason", err.Error())
		return mobileauth.Member{}, false, nil
	}
	if err != nil {
		return mobileauth.Member{}, false, fmt.Errorf("check AlgaPSA web session: %w", err)
	}
	return m, true, nil
}

// ref is what the OTT records of the session: AlgaPSA's key of the
// sessions row.
func ref(tenantID, sessionID string) string { return tenantID + "/" + sessionID }
