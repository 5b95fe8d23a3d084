package authflow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
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

// Adoption timing. A presentation of a token whose adoption is pending
// waits for the adoption's creator to settle it (one claim in AlgaPSA's
// database and one update here: milliseconds), polling, for at most
// adoptionWait, then answers 503 so the phone retries. A family pending for
// adoptionStale (its creator died, or lost a database, between creating and
// settling it) is abandoned by the next presentation, which starts the
// adoption again. The creator settles within adoptionSettle, whether or not
// its request is cancelled meanwhile (well under adoptionStale).
const (
	adoptionWait   = 5 * time.Second
	adoptionPoll   = 10 * time.Millisecond
	adoptionStale  = time.Minute
	adoptionSettle = 20 * time.Second
)

// errAdoptionMoved: the adoption this presentation met was won by another
// caller or abandoned; Refresh looks the token up again.
var errAdoptionMoved = errors.New("adoption moved on: look the token up again")

// adopt answers a refresh whose token this service does not know but
// AlgaPSA issued (SPEC §8.5). The token is read first and its owner checked
// (user, plan, suspension) without claiming it, so a refusal for the
// tenant's state (403) or an outage leaves it to the phone.
//
// The exactly-once point is this service's own store: a family is created
// (pending) with the presented token recorded as already rotated to the
// successor derived from it, as a refresh would have left it. Of any
// number of concurrent presentations on any replicas one creates it; the
// others (errAdoptionMoved) go the normal way of a rotated token, §3.5's:
// inside the grace period they get the same successor and an access token
// of their own, once the creator has settled the adoption. The creator then
// claims AlgaPSA's row (revoked, its key deactivated) and confirms the
// family, and only then mints: a mint that fails leaves a confirmed family
// whose retry, inside the grace period, gets the successor. The per-user
// rate limit is not applied to the creator: a 429 after the claim would
// lose it.
func (s *Service) adopt(ctx context.Context, req RefreshRequest, presented mobileauth.Hash) (RefreshResult, error) {
	a, err := s.alga.FindAlgaRefreshToken(ctx, presented)
	if errors.Is(err, mobileauth.ErrNotFound) {
		// Another presentation may have adopted it since this one looked
		// in the own store: its family is created before AlgaPSA's row is
		// claimed, so a claimed row whose token the own store now knows
		// sends this presentation back there.
		if _, gerr := s.st.Refresh.GetRefreshToken(ctx, presented); gerr == nil {
			return RefreshResult{}, errAdoptionMoved
		}
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
	// From the family's creation to its confirmation the adoption runs to
	// its end whatever happens to the request: a phone on a flaky network
	// that drops the connection (cancelling ctx) must not leave the family
	// pending, for its retry would wait for it, and a claim made but not
	// confirmed would in the end cost the session.
	settle, cancel := context.WithTimeout(context.WithoutCancel(ctx), adoptionSettle)
	defer cancel()
	fam, successor, err := s.createAdoptedFamily(settle, user, req, presented)
	if err != nil {
		return RefreshResult{}, err
	}
	if err := s.claimAlga(settle, fam, presented); err != nil {
		return RefreshResult{}, err
	}
	access, err := s.access.Issue(ctx, user, fam.ID, req.Device)
	if errors.Is(err, mobileauth.ErrNotFound) {
		// The owner lost mobile access a moment ago (the key store checks
		// the owner again as it mints).
		s.events.AuthEvent("refresh_rejected", "user")
		return RefreshResult{}, unauthorized(err)
	}
	if err != nil {
		// The family stands, confirmed: the phone's retry inside the grace
		// period gets the successor and a key.
		return RefreshResult{}, err
	}
	if err := s.confirmFamilyLive(ctx, user.TenantID, user.ID, fam.ID); err != nil {
		return RefreshResult{}, err
	}
	s.events.AuthEvent("refresh_adopted", "")
	details := deviceDetails(req.Device)
	details["adopted"] = a.ID
	s.audit(ctx, mobileauth.AuditEvent{TenantID: user.TenantID, UserID: user.ID, Operation: mobileauth.AuditRefresh,
		RecordID: fam.ID, ClientIP: req.ClientIP, Details: details})
	return RefreshResult{AccessToken: access.Token, RefreshToken: successor, ExpiresInSec: int(access.TTL.Seconds())}, nil
}

// createAdoptedFamily stores the adoption's pending family: the presented
// token rotated to its derived successor, and the successor.
// errAdoptionMoved when another caller stored it first.
func (s *Service) createAdoptedFamily(ctx context.Context, u mobileauth.User, req RefreshRequest, presented mobileauth.Hash) (mobileauth.TokenFamily, string, error) {
	id, err := token.NewOpaque(s.rand)
	if err != nil {
		return mobileauth.TokenFamily{}, "", err
	}
	now := s.now()
	successor := s.deriver.Successor(req.RefreshToken)
	succHash := token.HashOf(successor)
	fam := mobileauth.TokenFamily{ID: id[:22], TenantID: u.TenantID, UserID: u.ID, Device: req.Device, CreatedAt: now, AdoptionPending: true}
	adopted := mobileauth.RefreshToken{Hash: presented, CreatedAt: now, ExpiresAt: now.Add(s.set.RefreshTTL), RotatedAt: &now, ReplacedBy: &succHash}
	next := mobileauth.RefreshToken{Hash: succHash, CreatedAt: now, ExpiresAt: now.Add(s.set.RefreshTTL)}
	err = s.st.Adoptions.CreateAdoptedFamily(ctx, fam, adopted, next)
	if errors.Is(err, mobileauth.ErrConflict) {
		return mobileauth.TokenFamily{}, "", errAdoptionMoved
	}
	if err != nil {
		return mobileauth.TokenFamily{}, "", fmt.Errorf("create adopted token family: %w", err)
	}
	return fam, successor, nil
}

// claimAlga settles the pending family fam: AlgaPSA's row is claimed and
// the family confirmed. When AlgaPSA's own endpoints took the token since
// it was read (rotated or revoked it), the family is revoked and the answer
// is 401: the token was not adopted. When the claim's fate is unknown (an
// outage), the family is abandoned, so the phone's retry starts over.
func (s *Service) claimAlga(ctx context.Context, fam mobileauth.TokenFamily, presented mobileauth.Hash) error {
	_, err := s.alga.AdoptAlgaRefreshToken(ctx, presented)
	if errors.Is(err, mobileauth.ErrNotFound) {
		if rerr := s.revokeFamily(ctx, fam.TenantID, fam.UserID, fam.ID); rerr != nil {
			s.log.ErrorContext(ctx, "could not revoke the family of an adoption AlgaPSA took back", "family", fam.ID, "error", rerr)
		}
		s.events.AuthEvent("refresh_rejected", "unknown")
		return unauthorized(err)
	}
	if err != nil {
		if aerr := s.st.Adoptions.AbandonAdoption(ctx, fam.ID, fam.CreatedAt); aerr != nil {
			s.log.ErrorContext(ctx, "could not abandon an adoption whose claim failed", "family", fam.ID, "error", aerr)
		}
		return fmt.Errorf("adopt AlgaPSA refresh token: %w", err)
	}
	if err := s.st.Adoptions.ConfirmAdoption(ctx, fam.ID); err != nil {
		// AlgaPSA's row is claimed but the family stays pending: the
		// presentations that wait for it give up after adoptionStale.
		return fmt.Errorf("confirm adoption: %w", err)
	}
	return nil
}

// awaitAdoption waits, for a presentation of a token whose family is still
// pending, until the family's creator has settled the adoption: nil once
// confirmed, 401 once revoked (AlgaPSA took the token back),
// errAdoptionMoved once abandoned (the adoption starts again). A family
// pending for adoptionStale is abandoned here.
func (s *Service) awaitAdoption(ctx context.Context, familyID string) error {
	deadline := time.Now().Add(s.adoptionWait)
	for {
		fam, err := s.st.Refresh.GetFamily(ctx, familyID)
		switch {
		case errors.Is(err, mobileauth.ErrNotFound):
			return errAdoptionMoved
		case err != nil:
			return fmt.Errorf("read adopted token family: %w", err)
		case fam.RevokedAt != nil:
			s.events.AuthEvent("refresh_rejected", "revoked")
			return unauthorized(errors.New("adoption ended: AlgaPSA's token was taken back"))
		case !fam.AdoptionPending:
			return nil
		}
		if now := s.now(); now.Sub(fam.CreatedAt) >= adoptionStale {
			err := s.st.Adoptions.AbandonAdoption(ctx, familyID, now.Add(-adoptionStale))
			if err == nil {
				s.log.WarnContext(ctx, "abandoned an adoption left pending", "family", familyID)
				return errAdoptionMoved
			}
			if !errors.Is(err, mobileauth.ErrNotFound) {
				return fmt.Errorf("abandon adoption: %w", err)
			}
			continue // settled meanwhile: read it again
		}
		if time.Now().After(deadline) {
			return mobileauth.WrapError(mobileauth.CodeServiceUnavailable, "Service temporarily unavailable, please retry",
				errors.New("adoption still pending"))
		}
		t := time.NewTimer(adoptionPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
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
