package authflow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// AccessToken is an access credential just issued for a token family.
type AccessToken struct {
	Token string
	TTL   time.Duration
}

// ErrInvalidAccess: the presented access credential is not valid (401).
// Any other error from AccessCredentials.Check is an outage (503).
var ErrInvalidAccess = errors.New("access credential invalid")

// AccessCredentials are the access tokens the exchange and every refresh
// hand out, one kind per mode: signed JWTs in standalone mode (SPEC §3.7),
// AlgaPSA API keys in appliance mode (SPEC §8.4). Whatever the kind,
// Service.Verify then applies the same family rules (revoked families,
// family owner) to what Check returns.
type AccessCredentials interface {
	// Issue makes the family's next access credential for owner. A kind that
	// keeps state ends the family's previous credential at the same time.
	// An error wrapping mobileauth.ErrNotFound means the owner may not have
	// one (a refusal, not an outage).
	Issue(ctx context.Context, owner mobileauth.User, familyID string, dev mobileauth.Device) (AccessToken, error)
	// Check returns whom raw speaks for; ErrInvalidAccess when it is not a
	// valid credential of this kind.
	Check(ctx context.Context, raw string) (Principal, error)
	// RevokeFamily ends every credential of the family at once (revoke,
	// theft detection).
	RevokeFamily(ctx context.Context, tenantID, userID, familyID string) error
	// RevokeUser ends every credential of the user (who lost mobile access).
	RevokeUser(ctx context.Context, tenantID, userID string) error
}

// firstIssuer is AccessCredentials that can issue a family's first
// credential more cheaply than Issue, knowing there is no previous one to
// end (API keys: no deactivation). Credentials without it use Issue.
type firstIssuer interface {
	IssueFirst(ctx context.Context, owner mobileauth.User, familyID string, dev mobileauth.Device) (AccessToken, error)
}

// ownerRuleIssuer is AccessCredentials whose Issue applies the owner rule
// itself, in the statement that mints (API keys: the key's INSERT selects
// only an owner AlgaPSA's own issuance accepts, SPEC §8.4): a missing,
// inactive or client user, or one of a suspended tenant, gets ErrNotFound
// and no credential, however recently that changed.
type ownerRuleIssuer interface{ AppliesOwnerRule() }

// issueFirst issues the first access credential of a family created a
// moment ago, whose tokens nobody holds yet.
func (s *Service) issueFirst(ctx context.Context, u mobileauth.User, familyID string, dev mobileauth.Device) (AccessToken, error) {
	if f, ok := s.access.(firstIssuer); ok {
		return f.IssueFirst(ctx, u, familyID, dev)
	}
	return s.access.Issue(ctx, u, familyID, dev)
}

// jwtAccess issues and checks signed access JWTs. Revocation needs nothing
// here: the service's revocation view refuses a revoked family's tokens.
type jwtAccess struct {
	issuer   *token.Issuer
	verifier *token.Verifier
}

// NewJWTAccess is the standalone mode's access tokens: JWTs signed by
// issuer and checked by verifier.
func NewJWTAccess(issuer *token.Issuer, verifier *token.Verifier) (AccessCredentials, error) {
	if issuer == nil || verifier == nil {
		return nil, errors.New("authflow: JWT access tokens need an Issuer and a Verifier")
	}
	return jwtAccess{issuer: issuer, verifier: verifier}, nil
}

func (j jwtAccess) Issue(_ context.Context, u mobileauth.User, familyID string, _ mobileauth.Device) (AccessToken, error) {
	raw, ttl, err := j.issuer.Issue(token.AccessClaims{Subject: u.ID, TenantID: u.TenantID, FamilyID: familyID, Email: u.Email})
	if err != nil {
		return AccessToken{}, fmt.Errorf("issue access token: %w", err)
	}
	return AccessToken{Token: raw, TTL: ttl}, nil
}

func (j jwtAccess) Check(_ context.Context, raw string) (Principal, error) {
	c, err := j.verifier.Verify(raw)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalidAccess, err)
	}
	return Principal{UserID: c.Subject, TenantID: c.TenantID, Email: c.Email, SessionID: c.FamilyID}, nil
}

func (jwtAccess) RevokeFamily(context.Context, string, string, string) error { return nil }
func (jwtAccess) RevokeUser(context.Context, string, string) error           { return nil }

// APIKeyStore is what the API-key access credentials need of AlgaPSA's
// api_keys table (internal/algapsa implements it).
type APIKeyStore interface {
	// MintAPIKey creates the family's next key and deactivates its previous
	// one; ErrNotFound, and no key, when the owner may not have one
	// (missing, inactive, a client user, tenant suspended), decided in the
	// statement that inserts the key.
	MintAPIKey(ctx context.Context, tenantID, userID, familyID string, dev mobileauth.Device, ttl time.Duration) (mobileauth.MintedAPIKey, error)
	// MintFirstAPIKey is MintAPIKey for a family that has no key yet (one
	// just created): nothing to deactivate.
	MintFirstAPIKey(ctx context.Context, tenantID, userID, familyID string, dev mobileauth.Device, ttl time.Duration) (mobileauth.MintedAPIKey, error)
	RevokeFamilyKeys(ctx context.Context, tenantID, userID, familyID string) (int64, error)
	RevokeUserKeys(ctx context.Context, tenantID, userID string) (int64, error)
	// VerifyAPIKey returns a valid key's holder; ErrNotFound otherwise.
	VerifyAPIKey(ctx context.Context, key string) (mobileauth.APIKeyHolder, error)
}

// apiKeyAccess hands out AlgaPSA API keys as access tokens (SPEC §8.4), so
// that AlgaPSA's REST API accepts what the phone sends.
type apiKeyAccess struct {
	keys APIKeyStore
	ttl  time.Duration
}

// NewAPIKeyAccess is appliance mode's access tokens: a key of keys per
// family, living ttl.
func NewAPIKeyAccess(keys APIKeyStore, ttl time.Duration) (AccessCredentials, error) {
	if keys == nil || ttl <= 0 {
		return nil, errors.New("authflow: API-key access tokens need a key store and a positive lifetime")
	}
	return apiKeyAccess{keys: keys, ttl: ttl}, nil
}

func (a apiKeyAccess) Issue(ctx context.Context, u mobileauth.User, familyID string, dev mobileauth.Device) (AccessToken, error) {
	k, err := a.keys.MintAPIKey(ctx, u.TenantID, u.ID, familyID, dev, a.ttl)
	if err != nil {
		return AccessToken{}, fmt.Errorf("mint API key: %w", err)
	}
	return AccessToken{Token: k.Key, TTL: a.ttl}, nil
}

// AppliesOwnerRule: MintAPIKey decides the owner rule as it mints
// (ownerRuleIssuer).
func (apiKeyAccess) AppliesOwnerRule() {}

// IssueFirst is Issue for a family created a moment ago (firstIssuer).
func (a apiKeyAccess) IssueFirst(ctx context.Context, u mobileauth.User, familyID string, dev mobileauth.Device) (AccessToken, error) {
	k, err := a.keys.MintFirstAPIKey(ctx, u.TenantID, u.ID, familyID, dev, a.ttl)
	if err != nil {
		return AccessToken{}, fmt.Errorf("mint API key: %w", err)
	}
	return AccessToken{Token: k.Key, TTL: a.ttl}, nil
}

func (a apiKeyAccess) Check(ctx context.Context, raw string) (Principal, error) {
	h, err := a.keys.VerifyAPIKey(ctx, raw)
	if errors.Is(err, mobileauth.ErrNotFound) {
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalidAccess, err)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("verify API key: %w", err)
	}
	return Principal{UserID: h.UserID, TenantID: h.TenantID, Email: h.Email, SessionID: h.FamilyID}, nil
}

func (a apiKeyAccess) RevokeFamily(ctx context.Context, tenantID, userID, familyID string) error {
	_, err := a.keys.RevokeFamilyKeys(ctx, tenantID, userID, familyID)
	return err
}

func (a apiKeyAccess) RevokeUser(ctx context.Context, tenantID, userID string) error {
	_, err := a.keys.RevokeUserKeys(ctx, tenantID, userID)
	return err
}
