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
	m, err := d.CheckWebSessionMember(ctx, tenantID, sessionID, userID, userType)
	if err != nil {
		return mobileauth.User{}, err
	}
	return *m.User, nil
}

// CheckWebSessionMember is CheckWebSession that also returns the user's
// tenant (plan, suspension) as GetMember would, read by the same query:
// the exchange re-checks the session and then needs the member, and this
// saves it a round trip to AlgaPSA's database. On success Member.User is
// set.
func (d *DB) CheckWebSessionMember(ctx context.Context, tenantID, sessionID, userID string, userType mobileauth.UserType) (mobileauth.Member, error) {
	if !validUUID(tenantID) || !validUUID(sessionID) || !validUUID(userID) {
		return mobileauth.Member{}, ErrSessionUnknown
	}
	// One round trip: the session row, whether it is still current by the
	// database's clock, the claimed user's row (joined on the claim, not on
	// the session's user_id, so a mismatch is told apart) and their tenant.
	var (
		sessUser                            string
		revoked, expired                    bool
		tenant, id, email, first, last, typ *string
		inactive                            *bool
		plan                                *string
		suspended                           bool
	)
	err := d.pool.QueryRow(ctx, `
SELECT s.user_id::text, s.revoked_at IS NOT NULL, coalesce(s.expires_at <= now(), true),
       u.tenant::text, u.user_id::text, coalesce(u.email, ''), coalesce(u.first_name, ''), coalesce(u.last_name, ''),
       u.user_type, coalesce(u.is_inactive, false), t.plan, t.suspended_at IS NOT NULL
  FROM sessions s
  LEFT JOIN users u ON u.tenant = s.tenant AND u.user_id = $3
  LEFT JOIN tenants t ON t.tenant = s.tenant
 WHERE s.tenant = $1 AND s.session_id = $2`, tenantID, sessionID, userID).
		Scan(&sessUser, &revoked, &expired, &tenant, &id, &email, &first, &last, &typ, &inactive, &plan, &suspended)
	if errors.Is(err, pgx.ErrNoRows) {
		return mobileauth.Member{}, ErrSessionUnknown
	}
	if err != nil {
		return mobileauth.Member{}, fmt.Errorf("check AlgaPSA web session: %w", err)
	}
	var u mobileauth.User
	if id != nil {
		u = mobileauth.User{TenantID: *tenant, ID: *id, Email: *email, FirstName: *first, LastName: *last,
			Type: userTypeOf(*typ), Active: !*inactive}
	}
	switch {
	case revoked:
		return mobileauth.Member{}, ErrSessionRevoked
	case expired:
		// A row without expires_at predates AlgaPSA's session tracking and
		// is never current.
		return mobileauth.Member{}, ErrSessionExpired
	case !strings.EqualFold(sessUser, canonicalUUID(userID)):
		return mobileauth.Member{}, ErrSessionOtherUser
	case id == nil:
		return mobileauth.Member{}, ErrUserUnknown
	case !u.Active:
		return mobileauth.Member{}, ErrUserInactive
	case u.Type != userType:
		return mobileauth.Member{}, ErrUserTypeChanged
	}
	// As GetMember: the tenant as the caller named it; a missing tenants
	// row reads as no plan, not suspended.
	return mobileauth.Member{User: &u, Tenant: mobileauth.Tenant{ID: tenantID, Plan: planOf(plan), Suspended: suspended}}, nil
}
