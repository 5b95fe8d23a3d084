package algapsa

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// Why a web session of AlgaPSA's is refused. Each wraps
// mobileauth.ErrNotFound, so a caller that needs no detail tests for that.
var (
	ErrSessionUnknown   = fmt.Errorf("AlgaPSA web session does not exist: %w", mobileauth.ErrNotFound)
	ErrSessionRevoked   = fmt.Errorf("AlgaPSA web session was signed out (revoked): %w", mobileauth.ErrNotFound)
	ErrSessionExpired   = fmt.Errorf("AlgaPSA web session has expired: %w", mobileauth.ErrNotFound)
	ErrSessionOtherUser = fmt.Errorf("AlgaPSA web session belongs to another user: %w", mobileauth.ErrNotFound)
	ErrUserUnknown      = fmt.Errorf("AlgaPSA user does not exist: %w", mobileauth.ErrNotFound)
	ErrUserInactive     = fmt.Errorf("AlgaPSA user is inactive: %w", mobileauth.ErrNotFound)
	ErrUserTypeChanged  = fmt.Errorf("AlgaPSA user's type is no longer the session's: %w", mobileauth.ErrNotFound)
)

// CheckWebSession checks the web app's session behind an Auth.js cookie
// (SPEC §8.3): AlgaPSA revokes sessions on the server, so the sessions row
// (tenantID, sessionID) must exist, not be revoked, expire after the
// database's now and belong to userID; and the user must still be active
// with the type the cookie claimed (userType). It returns the user as
// AlgaPSA has them now, or one of the Err* refusals above.
func (d *DB) CheckWebSession(ctx context.Context, tenantID, sessionID, userID string, userType mobileauth.UserType) (mobileauth.User, error) {
	if !validUUID(tenantID) || !validUUID(sessionID) || !validUUID(userID) {
		return mobileauth.User{}, ErrSessionUnknown
	}
	// One round trip: the session row, whether it is still current by the
	// database's clock, and the claimed user's row (joined on the claim,
	// not on the session's user_id, so a mismatch is told apart).
	var (
		sessUser                            string
		revoked, expired                    bool
		tenant, id, email, first, last, typ *string
		inactive                            *bool
	)
	err := d.pool.QueryRow(ctx, `
SELECT s.user_id::text, s.revoked_at IS NOT NULL, coalesce(s.expires_at <= now(), true),
       u.tenant::text, u.user_id::text, coalesce(u.email, ''), coalesce(u.first_name, ''), coalesce(u.last_name, ''),
       u.user_type, coalesce(u.is_inactive, false)
  FROM sessions s
  LEFT JOIN users u ON u.tenant = s.tenant AND u.user_id = $3
 WHERE s.tenant = $1 AND s.session_id = $2`, tenantID, sessionID, userID).
		Scan(&sessUser, &revoked, &expired, &tenant, &id, &email, &first, &last, &typ, &inactive)
	if errors.Is(err, pgx.ErrNoRows) {
		return mobileauth.User{}, ErrSessionUnknown
	}
	if err != nil {
		return mobileauth.User{}, fmt.Errorf("check AlgaPSA web session: %w", err)
	}
	var u mobileauth.User
	if id != nil {
		u = mobileauth.User{TenantID: *tenant, ID: *id, Email: *email, FirstName: *first, LastName: *last,
			Type: userTypeOf(*typ), Active: !*inactive}
	}
	switch {
	case revoked:
		return mobileauth.User{}, ErrSessionRevoked
	case expired:
		// A row without expires_at predates AlgaPSA's session tracking and
		// is never current.
		return mobileauth.User{}, ErrSessionExpired
	case !strings.EqualFold(sessUser, canonicalUUID(userID)):
		return mobileauth.User{}, ErrSessionOtherUser
	case id == nil:
		return mobileauth.User{}, ErrUserUnknown
	case !u.Active:
		return mobileauth.User{}, ErrUserInactive
	case u.Type != userType:
		return mobileauth.User{}, ErrUserTypeChanged
	}
	return u, nil
}
