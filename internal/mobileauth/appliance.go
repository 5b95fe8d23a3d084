package mobileauth

import "time"

// The types below belong to appliance mode (SPEC §8), where access tokens
// are API keys in AlgaPSA's own database and refresh tokens that AlgaPSA
// issued may be taken over. internal/algapsa produces them.

// MintedAPIKey is an AlgaPSA API key just created for a token family. Key
// is the clear key, handed to the app as its access token; only its
// SHA-256 is stored, so it exists nowhere else.
type MintedAPIKey struct {
	ID        string // api_keys.api_key_id
	Key       string // 64 lower-case hex characters
	TenantID  string
	UserID    string
	FamilyID  string
	ExpiresAt time.Time
}

// APIKeyHolder is whom a presented API key belongs to, as /verify needs it.
type APIKeyHolder struct {
	KeyID     string
	TenantID  string
	UserID    string
	Email     string
	FamilyID  string
	ExpiresAt time.Time
}

// AdoptedRefreshToken is a refresh token that AlgaPSA's own mobile-auth
// endpoints issued, claimed (revoked) by this service so that a family of
// its own can replace it. APIKeyID is the AlgaPSA API key that came with
// it (now deactivated); empty when the row named none.
type AdoptedRefreshToken struct {
	ID       string // mobile_refresh_tokens.mobile_refresh_token_id
	TenantID string
	UserID   string
	APIKeyID string
}
