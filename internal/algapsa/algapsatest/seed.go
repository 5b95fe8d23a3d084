package algapsatest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// Seeding writes rows as AlgaPSA would. Times are relative to the
// database's clock, which is the one AlgaPSA and the adapter compare with.

// User is a users row to seed. Empty TenantID, ID or Type get a new tenant,
// a new id and "internal"; the tenant is created when missing.
type User struct {
	TenantID  string
	ID        string
	Email     string
	FirstName string
	LastName  string
	Type      string // internal | client
	Inactive  bool
}

// AddTenant inserts a tenant with the given plan (nil = null) and returns
// its id.
func (d *DB) AddTenant(t testing.TB, plan *string) string {
	t.Helper()
	id := uuid.NewString()
	d.Exec(t, "INSERT INTO tenants (tenant, plan) VALUES ($1, $2)", id, plan)
	return id
}

// AddUser inserts a user (and its tenant if missing) and returns it with
// every default filled in.
func (d *DB) AddUser(t testing.TB, u User) User {
	t.Helper()
	if u.TenantID == "" {
		u.TenantID = d.AddTenant(t, nil)
	} else {
		d.Exec(t, "INSERT INTO tenants (tenant) VALUES ($1) ON CONFLICT DO NOTHING", u.TenantID)
	}
	if u.ID == "" {
		u.ID = uuid.NewString()
	}
	if u.Type == "" {
		u.Type = "internal"
	}
	d.Exec(t, `INSERT INTO users (tenant, user_id, username, hashed_password, email, first_name, last_name, user_type, is_inactive)
		VALUES ($1, $2, $3, 'not-a-real-hash', $4, $5, $6, $7, $8)`,
		u.TenantID, u.ID, "user-"+u.ID[:8], u.Email, u.FirstName, u.LastName, u.Type, u.Inactive)
	return u
}

// SetUserInactive sets users.is_inactive, as an AlgaPSA admin would.
func (d *DB) SetUserInactive(t testing.TB, tenantID, userID string, inactive bool) {
	t.Helper()
	d.Exec(t, "UPDATE users SET is_inactive = $3 WHERE tenant = $1 AND user_id = $2", tenantID, userID, inactive)
}

// SetUserType sets users.user_type (internal or client).
func (d *DB) SetUserType(t testing.TB, tenantID, userID, userType string) {
	t.Helper()
	d.Exec(t, "UPDATE users SET user_type = $3 WHERE tenant = $1 AND user_id = $2", tenantID, userID, userType)
}

// SetPlan sets tenants.plan (nil = null).
func (d *DB) SetPlan(t testing.TB, tenantID string, plan *string) {
	t.Helper()
	d.Exec(t, "UPDATE tenants SET plan = $2 WHERE tenant = $1", tenantID, plan)
}

// SetSuspended suspends (now) or resumes a tenant.
func (d *DB) SetSuspended(t testing.TB, tenantID string, suspended bool) {
	t.Helper()
	d.Exec(t, "UPDATE tenants SET suspended_at = CASE WHEN $2 THEN now() END WHERE tenant = $1", tenantID, suspended)
}

// AddSession inserts a web session of the user expiring ttl from now (a
// negative ttl gives an expired one) and returns its session_id.
func (d *DB) AddSession(t testing.TB, tenantID, userID string, ttl time.Duration) string {
	t.Helper()
	id := uuid.NewString()
	d.Exec(t, "INSERT INTO sessions (tenant, session_id, user_id, expires_at) VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
		tenantID, id, userID, ttl.Seconds())
	return id
}

// RevokeSession signs a web session out, as AlgaPSA's sign-out does.
func (d *DB) RevokeSession(t testing.TB, tenantID, sessionID string) {
	t.Helper()
	d.Exec(t, "UPDATE sessions SET revoked_at = now() WHERE tenant = $1 AND session_id = $2", tenantID, sessionID)
}

// AlgaToken is a refresh token issued by AlgaPSA's own mobile-auth
// endpoints, with the API key issued alongside it.
type AlgaToken struct {
	Token    string // the clear refresh token the phone holds
	ID       string // mobile_refresh_token_id
	APIKey   string // the clear API key
	APIKeyID string
}

// IssueAlgaRefreshToken does what AlgaPSA's exchange does: an API key
// (purpose mobile_session, description "Mobile session", metadata with the
// device, no marker of this service) and a mobile_refresh_tokens row whose
// token_hash is the SHA-256 hex of a random token, expiring ttl from now.
func (d *DB) IssueAlgaRefreshToken(t testing.TB, tenantID, userID string, ttl time.Duration) AlgaToken {
	t.Helper()
	var tok AlgaToken
	tok.APIKeyID, tok.APIKey = d.AddAPIKey(t, APIKey{TenantID: tenantID, UserID: userID, Description: "Mobile session",
		Purpose: "mobile_session", Metadata: map[string]any{"device": map[string]any{"platform": "ios"}}, TTL: 15 * time.Minute})
	tok.Token = randomHex(t, 32)
	tok.ID = uuid.NewString()
	d.Exec(t, `INSERT INTO mobile_refresh_tokens (mobile_refresh_token_id, tenant, user_id, api_key_id, token_hash, expires_at)
		VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))`,
		tok.ID, tenantID, userID, tok.APIKeyID, SHA256Hex(tok.Token), ttl.Seconds())
	return tok
}

// APIKey is an api_keys row to seed, as AlgaPSA (not this service)
// creates them. TTL 0 means no expiry.
type APIKey struct {
	TenantID, UserID     string
	Description, Purpose string
	Metadata             any
	TTL                  time.Duration
	Inactive             bool
}

// AddAPIKey inserts an AlgaPSA API key and returns its id and clear key.
func (d *DB) AddAPIKey(t testing.TB, k APIKey) (id, key string) {
	t.Helper()
	key = randomHex(t, 32)
	if k.Purpose == "" {
		k.Purpose = "general"
	}
	var meta []byte
	if k.Metadata != nil {
		var err error
		meta, err = json.Marshal(k.Metadata)
		require.NoError(t, err)
	}
	var ttl *float64
	if k.TTL != 0 {
		s := k.TTL.Seconds()
		ttl = &s
	}
	err := d.Admin.QueryRow(context.Background(), `INSERT INTO api_keys (api_key, tenant, user_id, description, purpose, metadata, active, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8)) RETURNING api_key_id::text`,
		SHA256Hex(key), k.TenantID, k.UserID, k.Description, k.Purpose, meta, !k.Inactive, ttl).Scan(&id)
	require.NoError(t, err)
	return id, key
}

// SHA256Hex is the lower-case hex SHA-256 of s: how AlgaPSA stores API keys
// and refresh tokens.
func SHA256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
