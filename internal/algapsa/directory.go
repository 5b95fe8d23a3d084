package algapsa

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// userColumns are the users columns the service needs, in scanUser's order.
const userColumns = "u.tenant::text, u.user_id::text, coalesce(u.email, ''), coalesce(u.first_name, ''), " +
	"coalesce(u.last_name, ''), u.user_type, coalesce(u.is_inactive, false)"

// scanUser reads userColumns (plus extra destinations) into a User.
func scanUser(row pgx.Row, extra ...any) (mobileauth.User, error) {
	var u mobileauth.User
	var userType string
	var inactive bool
	dest := append([]any{&u.TenantID, &u.ID, &u.Email, &u.FirstName, &u.LastName, &userType, &inactive}, extra...)
	if err := row.Scan(dest...); err != nil {
		return mobileauth.User{}, err
	}
	u.Type = userTypeOf(userType)
	u.Active = !inactive
	return u, nil
}

// userTypeOf maps users.user_type. AlgaPSA allows only internal and
// client; anything else is read as client, the type that is refused
// everywhere, rather than guessed to be staff.
func userTypeOf(s string) mobileauth.UserType {
	if s == string(mobileauth.UserInternal) {
		return mobileauth.UserInternal
	}
	return mobileauth.UserClient
}

// planOf reads tenants.plan the way AlgaPSA's resolveTier does: null is no
// plan (pro); a known tier is that tier; any other text is a misconfigured
// plan, which AlgaPSA also treats as pro, so it is reported as no plan too.
// ParseTier also accepts "premium" (pro) and any letter case.
func planOf(plan *string) *mobileauth.Tier {
	if plan == nil {
		return nil
	}
	t, err := mobileauth.ParseTier(*plan)
	if err != nil {
		return nil
	}
	return &t
}

// FindUsersByEmail returns the users whose e-mail is the given address in
// lower case, in every tenant (AlgaPSA stores e-mails lower-case), ordered by
// tenant. Inactive users are returned with Active false: the caller refuses
// them, and an address in two tenants, as in standalone mode.
func (d *DB) FindUsersByEmail(ctx context.Context, email string) ([]mobileauth.User, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return nil, nil
	}
	rows, err := d.pool.Query(ctx, "SELECT "+userColumns+" FROM users u WHERE u.email = lower($1) ORDER BY u.tenant, u.user_id", email)
	if err != nil {
		return nil, fmt.Errorf("find AlgaPSA users by e-mail: %w", err)
	}
	defer rows.Close()
	var out []mobileauth.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("find AlgaPSA users by e-mail: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find AlgaPSA users by e-mail: %w", err)
	}
	return out, nil
}

// GetUser returns one user; ErrNotFound if absent.
func (d *DB) GetUser(ctx context.Context, tenantID, userID string) (mobileauth.User, error) {
	if !validUUID(tenantID) || !validUUID(userID) {
		return mobileauth.User{}, notFound("AlgaPSA user")
	}
	u, err := scanUser(d.pool.QueryRow(ctx, "SELECT "+userColumns+" FROM users u WHERE u.tenant = $1 AND u.user_id = $2", tenantID, userID))
	if err != nil {
		return mobileauth.User{}, noRows("AlgaPSA user", err)
	}
	return u, nil
}

// GetTenant returns a tenant's plan (nil = pro) and whether it is
// suspended; ErrNotFound if absent.
func (d *DB) GetTenant(ctx context.Context, tenantID string) (mobileauth.Tenant, error) {
	if !validUUID(tenantID) {
		return mobileauth.Tenant{}, notFound("AlgaPSA tenant")
	}
	var plan *string
	var suspended bool
	err := d.pool.QueryRow(ctx, "SELECT plan, suspended_at IS NOT NULL FROM tenants WHERE tenant = $1", tenantID).Scan(&plan, &suspended)
	if err != nil {
		return mobileauth.Tenant{}, noRows("AlgaPSA tenant", err)
	}
	return mobileauth.Tenant{ID: tenantID, Plan: planOf(plan), Suspended: suspended}, nil
}

// GetMember reads a user and their tenant in one query, as the use cases
// need both. A missing user is Member.User == nil, not an
// error; a missing tenant reads as no plan, not suspended.
func (d *DB) GetMember(ctx context.Context, tenantID, userID string) (mobileauth.Member, error) {
	m := mobileauth.Member{Tenant: mobileauth.Tenant{ID: tenantID}}
	if !validUUID(tenantID) || !validUUID(userID) {
		return m, nil
	}
	var plan *string
	var suspended bool
	u, err := scanUser(d.pool.QueryRow(ctx, "SELECT "+userColumns+", t.plan, t.suspended_at IS NOT NULL"+
		" FROM users u LEFT JOIN tenants t ON t.tenant = u.tenant WHERE u.tenant = $1 AND u.user_id = $2",
		tenantID, userID), &plan, &suspended)
	switch {
	case err == nil:
		m.User = &u
		m.Tenant.Plan, m.Tenant.Suspended = planOf(plan), suspended
		return m, nil
	case errors.Is(err, pgx.ErrNoRows):
		return m, nil
	}
	return m, fmt.Errorf("get AlgaPSA member: %w", err)
}
