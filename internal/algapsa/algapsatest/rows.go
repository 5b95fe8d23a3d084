package algapsatest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// APIKeyRow is an api_keys row, every column, for column-by-column checks.
type APIKeyRow struct {
	ID          string
	APIKey      string // the stored SHA-256 hex
	TenantID    string
	UserID      string
	Description *string
	Purpose     string
	Metadata    map[string]any
	UsageLimit  *int32
	UsageCount  int32
	Active      bool
	ExpiresAt   *time.Time
	LastUsedAt  *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

//nolint:gosec // G101: a list of column names, no credential
const apiKeyRowColumns = `api_key_id::text, api_key, tenant::text, user_id::text, description, purpose, metadata,
	usage_limit, usage_count, active, expires_at, last_used_at, created_at, updated_at`

// APIKeyRows returns the api_keys rows matching where (SQL after WHERE,
// "true" for all), oldest first.
func (d *DB) APIKeyRows(t testing.TB, where string, args ...any) []APIKeyRow {
	t.Helper()
	rows, err := d.Admin.Query(context.Background(), "SELECT "+apiKeyRowColumns+" FROM api_keys WHERE "+where+" ORDER BY created_at, api_key_id", args...)
	require.NoError(t, err)
	defer rows.Close()
	var out []APIKeyRow
	for rows.Next() {
		var r APIKeyRow
		var meta []byte
		require.NoError(t, rows.Scan(&r.ID, &r.APIKey, &r.TenantID, &r.UserID, &r.Description, &r.Purpose, &meta,
			&r.UsageLimit, &r.UsageCount, &r.Active, &r.ExpiresAt, &r.LastUsedAt, &r.CreatedAt, &r.UpdatedAt))
		if meta != nil {
			require.NoError(t, json.Unmarshal(meta, &r.Metadata))
		}
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

// APIKeyRow returns the api_keys row with that id (the test fails if absent).
func (d *DB) APIKeyRow(t testing.TB, id string) APIKeyRow {
	t.Helper()
	rows := d.APIKeyRows(t, "api_key_id = $1", id)
	require.Len(t, rows, 1, "api_keys row %s", id)
	return rows[0]
}

// RefreshTokenRow is a mobile_refresh_tokens row, every column.
type RefreshTokenRow struct {
	ID           string
	TenantID     string
	UserID       string
	APIKeyID     *string
	TokenHash    string
	ExpiresAt    time.Time
	RevokedAt    *time.Time
	ReplacedByID *string
	LastUsedAt   *time.Time
}

// RefreshTokenRow returns the mobile_refresh_tokens row with that id.
func (d *DB) RefreshTokenRow(t testing.TB, id string) RefreshTokenRow {
	t.Helper()
	var r RefreshTokenRow
	err := d.Admin.QueryRow(context.Background(), `SELECT mobile_refresh_token_id::text, tenant::text, user_id::text,
		api_key_id::text, token_hash, expires_at, revoked_at, replaced_by_id::text, last_used_at
		FROM mobile_refresh_tokens WHERE mobile_refresh_token_id = $1`, id).
		Scan(&r.ID, &r.TenantID, &r.UserID, &r.APIKeyID, &r.TokenHash, &r.ExpiresAt, &r.RevokedAt, &r.ReplacedByID, &r.LastUsedAt)
	require.NoError(t, err)
	return r
}

// Now is the database's clock.
func (d *DB) Now(t testing.TB) time.Time {
	t.Helper()
	var now time.Time
	require.NoError(t, d.Admin.QueryRow(context.Background(), "SELECT now()").Scan(&now))
	return now
}
