package algapsatest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The stub below answers as AlgaPSA's REST API does when it checks an
// x-api-key (its ApiKeyService.validateApiKey and the controller's
// authenticate): the SHA-256 hex of the key looked up in api_keys, active,
// not expired by the database's clock, in the tenant of x-tenant-id when
// that header is sent, owned by a user that exists, is active and is
// internal (a client owner's key is also deactivated), in a tenant that is
// not suspended, within its usage limit; on success last_used_at and
// updated_at are set to now.

// Refusal reasons of CheckAPIKey.
var (
	ErrKeyUnknown      = errors.New("api key unknown, inactive, expired or of another tenant")
	ErrKeyUserInactive = errors.New("api key owner missing or inactive")
	ErrKeyClientOwner  = errors.New("api key owner is a client user")
	ErrKeySuspended    = errors.New("api key tenant is suspended")
	ErrKeyUsageLimit   = errors.New("api key usage limit reached")
)

// APIIdentity is who AlgaPSA's API takes the caller for.
type APIIdentity struct {
	KeyID, TenantID, UserID string
}

// CheckAPIKey is the stub of AlgaPSA's API-key check. tenantHeader is the
// x-tenant-id header ("" when absent).
func (d *DB) CheckAPIKey(ctx context.Context, key, tenantHeader string) (APIIdentity, error) {
	if key == "" {
		return APIIdentity{}, ErrKeyUnknown
	}
	if tenantHeader != "" {
		if _, err := uuid.Parse(tenantHeader); err != nil {
			return APIIdentity{}, ErrKeyUnknown
		}
	}
	var id APIIdentity
	var usageLimit *int32
	var usageCount int32
	err := d.Admin.QueryRow(ctx, `SELECT api_key_id::text, tenant::text, user_id::text, usage_limit, usage_count
		FROM api_keys
		WHERE api_key = $1 AND active AND (expires_at IS NULL OR expires_at > now())
		  AND ($2::uuid IS NULL OR tenant = $2::uuid)`, SHA256Hex(key), nullable(tenantHeader)).
		Scan(&id.KeyID, &id.TenantID, &id.UserID, &usageLimit, &usageCount)
	if errors.Is(err, pgx.ErrNoRows) {
		return APIIdentity{}, ErrKeyUnknown
	}
	if err != nil {
		return APIIdentity{}, fmt.Errorf("api key check: %w", err)
	}
	var inactive, found bool
	var userType string
	err = d.Admin.QueryRow(ctx, "SELECT coalesce(is_inactive, false), user_type FROM users WHERE tenant = $1 AND user_id = $2",
		id.TenantID, id.UserID).Scan(&inactive, &userType)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return APIIdentity{}, fmt.Errorf("api key check: %w", err)
	default:
		found = true
	}
	if !found || inactive {
		return APIIdentity{}, ErrKeyUserInactive
	}
	if userType == "client" {
		_, _ = d.Admin.Exec(ctx, "UPDATE api_keys SET active = false, updated_at = now() WHERE api_key_id = $1", id.KeyID)
		return APIIdentity{}, ErrKeyClientOwner
	}
	var suspended bool
	err = d.Admin.QueryRow(ctx, "SELECT suspended_at IS NOT NULL FROM tenants WHERE tenant = $1", id.TenantID).Scan(&suspended)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return APIIdentity{}, fmt.Errorf("api key check: %w", err)
	}
	if suspended {
		return APIIdentity{}, ErrKeySuspended
	}
	if usageLimit != nil && usageCount >= *usageLimit {
		_, _ = d.Admin.Exec(ctx, "UPDATE api_keys SET active = false, updated_at = now() WHERE api_key_id = $1", id.KeyID)
		return APIIdentity{}, ErrKeyUsageLimit
	}
	if _, err := d.Admin.Exec(ctx, "UPDATE api_keys SET last_used_at = now(), updated_at = now() WHERE api_key_id = $1", id.KeyID); err != nil {
		return APIIdentity{}, fmt.Errorf("api key check: %w", err)
	}
	return id, nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// APIHandler is a stub of AlgaPSA's REST API for end-to-end tests: every
// request is authenticated by CheckAPIKey from x-api-key and x-tenant-id;
// a valid key gets 200 with {"data":[],"userId":…,"tenantId":…}, anything
// else 401 with AlgaPSA's error shape.
func (d *DB) APIHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		key := r.Header.Get("x-api-key")
		if key == "" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"UNAUTHORIZED","message":"API key required"}}`))
			return
		}
		id, err := d.CheckAPIKey(r.Context(), key, r.Header.Get("x-tenant-id"))
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"UNAUTHORIZED","message":"Invalid API key"}}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"data": []any{}, "userId": id.UserID, "tenantId": id.TenantID})
	})
}
