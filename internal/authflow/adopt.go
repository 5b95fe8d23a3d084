package authflow

import (
	"context"
	"errors"
	"fmt"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// AlgaRefreshTokens are the refresh tokens that AlgaPSA's own mobile-auth
// endpoints issued before this service took over (SPEC §8.5; appliance
// mode only, internal/algapsa implements it).
type AlgaRefreshTokens interface {
	// FindAlgaRefreshToken reads a live token by the SHA-256 of its clear
	// value without claiming it; ErrNotFound when no live token matches.
	FindAlgaRefreshToken(ctx context.Context, hash mobileauth.Hash) (mobileauth.AdoptedRefreshToken, error)
	// AdoptAlgaRefreshToken claims a live token by the SHA-256 of its clear
	// value, exactly once across replicas (it is revoked and its API key
	// deactivated); ErrNotFound when no live token matches or another
	// caller claimed it first.
	AdoptAlgaRefreshToken(ctx context.Context, hash mobileauth.Hash) (mobileauth.AdoptedRefreshToken, error)
	// RevokeAlgaRefreshToken revokes the token and deactivates its key.
	RevokeAlgaRefreshToken(ctx context.Context, hash mobileauth.Hash) (bool, error)
}

// adopt answers a refresh whose token this service does not know but
// AlgaPSA issued. The token is read first and its owner checked (user,
// plan, suspension) without claiming it, so a refusal for the tenant's
// state (403) or an outage leaves it to the phone; only then is it claimed
// (exactly one of any number of concurrent presentations wins; the others
// get 401, as for an unknown token) and a family of this service's starts
// for its owner, so the phone moves over without signing in again. The
// per-user rate limit is not applied: a 429 after the claim would lose it.
func (s *Service) adopt(ctx context.Context, req RefreshRequest, presented mobileauth.Hash) (RefreshResult, error) {
	a, err := s.alga.FindAlgaRefreshToken(ctx, presented)
	if errors.Is(err, mobileauth.ErrNotFound) {
		s.events.AuthEvent("refresh_rejected", "unknown")
		return RefreshResult{}, unauthorized(err)
	}
	if err != nil {
		return RefreshResult{}, fmt.Errorf("find AlgaPSA refresh token: %w", err)
	}
	m, err := s.loadMember(ctx, a.TenantID, a.UserID)
	if err != nil {
		return RefreshResult{}, err
	}
	user, err := m.activeInternal()
	if err != nil {
		// The owner lost mobile access: the token is over (SPEC §8.2), so it
		// is revoked with its key, and the user's keys here end too.
		if _, rerr := s.alga.RevokeAlgaRefreshToken(ctx, presented); rerr != nil {
			s.log.ErrorContext(ctx, "could not revoke the AlgaPSA refresh token of a disabled user", "error", rerr)
		}
		s.endUser(ctx, a.TenantID, a.UserID)
		s.events.AuthEvent("refresh_rejected", "user")
		return RefreshResult{}, unauthorized(err)
	}
	if err := s.refreshGate(m.gate); err != nil {
		return RefreshResult{}, err
	}
	claimed, err := s.alga.AdoptAlgaRefreshToken(ctx, presented)
	if errors.Is(err, mobileauth.ErrNotFound) {
		s.events.AuthEvent("refresh_rejected", "unknown")
		return RefreshResult{}, unauthorized(err)
	}
	if err != nil {
		return RefreshResult{}, fmt.Errorf("adopt AlgaPSA refresh token: %w", err)
	}
	a = claimed
	res, familyID, err := s.startFamily(ctx, user, mobileauth.Hash{}, req.Device)
	if err != nil {
		return RefreshResult{}, err
	}
	s.events.AuthEvent("refresh_adopted", "")
	details := deviceDetails(req.Device)
	details["adopted"] = a.ID
	s.audit(ctx, mobileauth.AuditEvent{TenantID: user.TenantID, UserID: user.ID, Operation: mobileauth.AuditRefresh,
		RecordID: familyID, ClientIP: req.ClientIP, Details: details})
	return RefreshResult{AccessToken: res.AccessToken, RefreshToken: res.RefreshToken, ExpiresInSec: res.ExpiresInSec}, nil
}

// revokeAlga is /revoke for a token this service does not know: when
// AlgaPSA issued it, it is revoked there and its key deactivated.
func (s *Service) revokeAlga(ctx context.Context, req RevokeRequest, hash mobileauth.Hash) error {
	if s.alga == nil {
		return nil
	}
	found, err := s.alga.RevokeAlgaRefreshToken(ctx, hash)
	if err != nil {
		return fmt.Errorf("revoke AlgaPSA refresh token: %w", err)
	}
	if found {
		s.events.AuthEvent("revoked", "algapsa")
		s.audit(ctx, mobileauth.AuditEvent{Operation: mobileauth.AuditRevoke, ClientIP: req.ClientIP,
			Details: map[string]string{"issuer": "algapsa"}})
	}
	return nil
}

// endUser deactivates every access credential of a user who lost mobile
// access (inactive, or now a client user). Best effort: the refusal stands
// either way, and a failure is logged.
func (s *Service) endUser(ctx context.Context, tenantID, userID string) {
	if err := s.access.RevokeUser(ctx, tenantID, userID); err != nil {
		s.log.ErrorContext(ctx, "could not end the access tokens of a user without mobile access",
			"tenant_id", tenantID, "user_id", userID, "error", err)
	}
}
