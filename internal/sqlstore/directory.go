package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

const userColumns = "tenant_id, id, email, first_name, last_name, type, active, created_at"

// normEmail is the stored form of an e-mail address: matching is
// case-insensitive because it is always done on this form.
func normEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// AddUser inserts a user, and its tenant (with no plan) if new. The e-mail
// is stored lower-case; a zero CreatedAt becomes now. ErrConflict if the
// e-mail or the id already exists in that tenant.
func (s *Store) AddUser(ctx context.Context, u mobileauth.User) error {
	defer s.track("AddUser", time.Now())
	return s.inTx(ctx, func(tx *txn) error { return s.insertUser(ctx, tx, u) })
}

// ImportUsers inserts all users in one transaction, or none. On a duplicate
// (in the store or within users) the error wraps ErrConflict and names the
// offending e-mail.
func (s *Store) ImportUsers(ctx context.Context, users []mobileauth.User) error {
	defer s.track("ImportUsers", time.Now())
	return s.inTx(ctx, func(tx *txn) error {
		for _, u := range users {
			if err := s.insertUser(ctx, tx, u); err != nil {
				return fmt.Errorf("import %s: %w", normEmail(u.Email), err)
			}
		}
		return nil
	})
}

func (s *Store) insertUser(ctx context.Context, tx *txn, u mobileauth.User) error {
	created := u.CreatedAt
	if created.IsZero() {
		created = s.now()
	}
	if _, err := tx.exec(ctx, "INSERT INTO tenants (id, plan, created_at) VALUES ($1, NULL, $2)"+
		" ON CONFLICT (id) DO NOTHING", u.TenantID, s.ts(created)); err != nil {
		return fmt.Errorf("add tenant %s: %w", u.TenantID, err)
	}
	_, err := tx.exec(ctx, "INSERT INTO users ("+userColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		u.TenantID, u.ID, normEmail(u.Email), u.FirstName, u.LastName, string(u.Type), u.Active, s.ts(created))
	if err != nil {
		return conflict(fmt.Sprintf("add user %s to tenant %s", normEmail(u.Email), u.TenantID), err)
	}
	return nil
}

// ListUsers returns every user, by tenant then e-mail.
func (s *Store) ListUsers(ctx context.Context) ([]mobileauth.User, error) {
	defer s.track("ListUsers", time.Now())
	return s.queryUsers(ctx, "SELECT "+userColumns+" FROM users ORDER BY tenant_id, email")
}

// FindUsersByEmail returns the users with that e-mail in any tenant,
// case-insensitively, by tenant.
func (s *Store) FindUsersByEmail(ctx context.Context, email string) ([]mobileauth.User, error) {
	defer s.track("FindUsersByEmail", time.Now())
	return s.queryUsers(ctx, "SELECT "+userColumns+" FROM users WHERE email = $1 ORDER BY tenant_id", normEmail(email))
}

// GetUser returns one user; ErrNotFound if absent.
func (s *Store) GetUser(ctx context.Context, tenantID, userID string) (mobileauth.User, error) {
	defer s.track("GetUser", time.Now())
	u, err := scanUser(s.readRow(ctx, "SELECT "+userColumns+" FROM users WHERE tenant_id = $1 AND id = $2", tenantID, userID))
	if err != nil {
		return mobileauth.User{}, notFound("get user", err)
	}
	return u, nil
}

// SetUserActive enables or disables a user (idempotent); ErrNotFound if
// absent. Disabling revokes, in the same transaction, the user's token
// families (and their refresh tokens) and web sessions at now: a stolen
// refresh token or browser cookie that was not used while the user was
// disabled must not work again once they are enabled.
func (s *Store) SetUserActive(ctx context.Context, tenantID, email string, active bool, now time.Time) error {
	_, _, err := s.ChangeUserActive(ctx, tenantID, email, active, now)
	return err
}

// ChangeUserActive is SetUserActive that also returns the user's id and
// whether this call changed the flag. The change is one conditional UPDATE
// (… AND active <> $3): among concurrent callers on any number of
// processes exactly one changes it and the others see changed false, so an
// admin command never reports (or audits) a change it did not make.
func (s *Store) ChangeUserActive(ctx context.Context, tenantID, email string, active bool, now time.Time) (userID string, changed bool, err error) {
	defer s.track("SetUserActive", time.Now())
	err = s.inTx(ctx, func(tx *txn) error {
		userID, changed = "", false
		err := tx.queryRow(ctx, "UPDATE users SET active = $3 WHERE tenant_id = $1 AND email = $2 AND active <> $3 RETURNING id",
			tenantID, normEmail(email), active).Scan(&userID)
		switch {
		case err == nil:
			changed = true
		case errors.Is(err, sql.ErrNoRows):
			// Absent, or already so (PostgreSQL re-checks the condition
			// after a concurrent writer commits, so a loser lands here).
			if err := tx.queryRow(ctx, "SELECT id FROM users WHERE tenant_id = $1 AND email = $2",
				tenantID, normEmail(email)).Scan(&userID); err != nil {
				return notFound("set user active", err)
			}
		default:
			return fmt.Errorf("set user active: %w", err)
		}
		if active {
			return nil
		}
		// Revoked even when already disabled (idempotent: only what is
		// still live gets revoked_at). No index serves these (disabling is
		// rare; every exchange would pay for one), so they scan; family
		// tokens are found by family.
		for _, q := range []string{
			"UPDATE token_families SET revoked_at = $3 WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL",
			"UPDATE refresh_tokens SET revoked_at = $3 WHERE revoked_at IS NULL" +
				" AND family_id IN (SELECT id FROM token_families WHERE tenant_id = $1 AND user_id = $2)",
			"UPDATE web_sessions SET revoked_at = $3 WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL",
		} {
			if _, err := tx.exec(ctx, q, tenantID, userID, s.ts(now)); err != nil {
				return fmt.Errorf("revoke a disabled user's sessions: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return "", false, err
	}
	return userID, changed, nil
}

// GetTenant returns a tenant; ErrNotFound if absent.
func (s *Store) GetTenant(ctx context.Context, tenantID string) (mobileauth.Tenant, error) {
	defer s.track("GetTenant", time.Now())
	var (
		t    = mobileauth.Tenant{ID: tenantID}
		plan sql.NullString
	)
	if err := s.readRow(ctx, "SELECT plan FROM tenants WHERE id = $1", tenantID).Scan(&plan); err != nil {
		return mobileauth.Tenant{}, notFound("get tenant", err)
	}
	t.Plan = tierOf(plan)
	return t, nil
}

// GetMember reads a user and their tenant's plan in one query; only when
// the user is absent does it take a second, for the tenant alone.
func (s *Store) GetMember(ctx context.Context, tenantID, userID string) (mobileauth.Member, error) {
	defer s.track("GetMember", time.Now())
	var plan sql.NullString
	u, err := scanUser(s.readRow(ctx, "SELECT "+prefixed("u.", userColumns)+", t.plan"+
		" FROM users u LEFT JOIN tenants t ON t.id = u.tenant_id WHERE u.tenant_id = $1 AND u.id = $2",
		tenantID, userID), &plan)
	if errors.Is(err, sql.ErrNoRows) {
		t, err := s.GetTenant(ctx, tenantID)
		if err != nil && !errors.Is(err, mobileauth.ErrNotFound) {
			return mobileauth.Member{}, fmt.Errorf("get member: %w", err)
		}
		t.ID = tenantID
		return mobileauth.Member{Tenant: t}, nil
	}
	if err != nil {
		return mobileauth.Member{}, fmt.Errorf("get member: %w", err)
	}
	return mobileauth.Member{User: &u, Tenant: mobileauth.Tenant{ID: tenantID, Plan: tierOf(plan)}}, nil
}

// SetTenantPlan sets an existing tenant's plan; the empty tier clears it
// (NULL, read as pro by the hosted gate). ErrNotFound if the tenant does
// not exist: tenants come into being with their first user, so a typo in
// an id is reported rather than silently creating a tenant.
func (s *Store) SetTenantPlan(ctx context.Context, tenantID string, plan mobileauth.Tier) error {
	defer s.track("SetTenantPlan", time.Now())
	var p any
	if plan != "" {
		p = string(plan)
	}
	res, err := s.exec(ctx, "UPDATE tenants SET plan = $2 WHERE id = $1", tenantID, p)
	if err != nil {
		return fmt.Errorf("set tenant plan: %w", err)
	}
	return rowsAffectedErr("set tenant plan", res)
}

func (s *Store) queryUsers(ctx context.Context, query string, args ...any) ([]mobileauth.User, error) {
	rows, err := s.read(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var users []mobileauth.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// scanUser reads userColumns, then extra destinations for columns that
// follow them.
func scanUser(row rowScanner, extra ...any) (mobileauth.User, error) {
	var (
		u        mobileauth.User
		userType string
		created  dbTime
	)
	dest := append([]any{&u.TenantID, &u.ID, &u.Email, &u.FirstName, &u.LastName, &userType, &u.Active, &created}, extra...)
	if err := row.Scan(dest...); err != nil {
		return u, err
	}
	u.Type, u.CreatedAt = mobileauth.UserType(userType), created.t
	return u, nil
}

// prefixed qualifies every column of a comma-separated list with prefix.
func prefixed(prefix, columns string) string {
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		cols[i] = prefix + c
	}
	return strings.Join(cols, ", ")
}

// tierOf reads a nullable plan column: nil when unset.
func tierOf(plan sql.NullString) *mobileauth.Tier {
	if !plan.Valid {
		return nil
	}
	t := mobileauth.Tier(plan.String)
	return &t
}
