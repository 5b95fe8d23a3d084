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
	// AdoptionClaimed reports whether the token's row looks claimed by an
	// adoption (revoked by AdoptAlgaRefreshToken, not rotated by AlgaPSA);
	// false when no row matches.
	AdoptionClaimed(ctx context.Context, hash mobileauth.Hash) (bool, error)
	// RevokeAlgaRefreshToken revokes the token and deactivates its key.
	RevokeAlgaRefreshToken(ctx context.Context, hash mobileauth.Hash) (bool, error)
}

// adoptionSettle bounds how long one presentation spends settling an
// adoption (claim, confirmation), on a context that the request's
// cancellation does not reach.
const adoptionSettle = 20 * time.Second

// errAdoptionMoved: the adoption this presentation met was won by another
// caller; Refresh looks the token up again.
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
// of their own. While the family is pending, whoever presents the token
// settles it (settleAdoption): AlgaPSA's row is claimed (revoked, its key
// deactivated), or found claimed, and the family confirmed, before anyone
// mints; so a mint that fails leaves a confirmed family whose retry gets
// the successor, and a claim whose answer was lost is settled by the
// retry. The per-user rate limit is not applied to the creator: a 429
// after the claim would lose it.
func (s *Service) adopt(ctx context.Context, req RefreshRequest, presented mobileauth.Hash) (RefreshResult, error) {
	a, err := s.alga.FindAlgaRefreshToken(ctx, presented)
	if errors.Is(err, mobileauth.ErrNotFound) {
		// Another presentation may have adopted it since this one looked
		// in the own store: its family is created before AlgaPSA's row is
		// claimed, so a claimed row whose token the own store now knows
		// sends this presentation back there.
		_, gerr := s.st.Refresh.GetRefreshToken(ctx, presented)
		if gerr == nil {
			return RefreshResult{}, errAdoptionMoved
		}
		if !errors.Is(gerr, mobileauth.ErrNotFound) {
			// A store outage is no reason to sign the phone out.
			return RefreshResult{}, fmt.Errorf("look up refresh token again: %w", gerr)
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
	// pending (its retry would have to settle it, and AlgaPSA's database
	// answer for it).
	settle, cancel := context.WithTimeout(context.WithoutCancel(ctx), adoptionSettle)
	defer cancel()
	fam, successor, err := s.createAdoptedFamily(settle, user, req, presented)
	if err != nil {
		return RefreshResult{}, err
	}
	if err := s.settleAdoption(settle, fam.ID, fam.TenantID, fam.UserID, presented); err != nil {
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

// settleAdoption settles the pending family familyID, adopted for the
// token presented: AlgaPSA's row is claimed and the family confirmed. Any
// presentation may run it, at once with others: the claim is one
// conditional UPDATE, and one that finds the row already revoked reads it
// to learn whether an adoption claimed it (a claim whose answer was lost, or
// another presentation's): then the family is confirmed all the same.
// When AlgaPSA's own endpoints took the token (rotated it), the family is
// revoked and the answer is 401: it was not adopted. While AlgaPSA's
// database does not answer the family stays pending (never deleted: the
// claim may have committed), and the error says to retry.
func (s *Service) settleAdoption(ctx context.Context, familyID, tenantID, userID string, presented mobileauth.Hash) error {
	_, err := s.alga.AdoptAlgaRefreshToken(ctx, presented)
	if errors.Is(err, mobileauth.ErrNotFound) {
		claimed, cerr := s.alga.AdoptionClaimed(ctx, presented)
		if cerr != nil {
			return fmt.Errorf("settle adoption: %w", cerr)
		}
		if !claimed {
			return s.rejectAdoption(ctx, familyID, tenantID, userID, presented, err)
		}
		err = nil
	}
	if err != nil {
		return fmt.Errorf("adopt AlgaPSA refresh token: %w", err)
	}
	err = s.st.Adoptions.ConfirmAdoption(ctx, familyID, s.now())
	if !errors.Is(err, mobileauth.ErrNotFound) {
		if err != nil {
			return fmt.Errorf("confirm adoption: %w", err)
		}
		return nil
	}
	return s.settledElsewhere(ctx, familyID, presented)
}

// rejectAdoption ends a pending family whose AlgaPSA row was not claimed by
// the adoption (AlgaPSA rotated or removed it): 401. Only a family still
// pending is ended: a slow presentation that reads AlgaPSA's row after
// another one confirmed the family (and AlgaPSA then cleaned the row up)
// must not sign the phone out; it is judged as settled elsewhere.
func (s *Service) rejectAdoption(ctx context.Context, familyID, tenantID, userID string, presented mobileauth.Hash, cause error) error {
	err := s.st.Adoptions.RejectAdoption(ctx, familyID, s.now())
	if errors.Is(err, mobileauth.ErrNotFound) {
		return s.settledElsewhere(ctx, familyID, presented)
	}
	if err != nil {
		return fmt.Errorf("reject adoption: %w", err)
	}
	// The family is revoked; the rest of a revocation (this replica's view,
	// any access key) follows, idempotently.
	if rerr := s.revokeFamily(ctx, tenantID, userID, familyID); rerr != nil {
		return fmt.Errorf("revoke the family of an adoption AlgaPSA took back: %w", rerr)
	}
	s.events.AuthEvent("refresh_rejected", "unknown")
	return unauthorized(cause)
}

// settledElsewhere judges a presentation whose family another presentation
// settled meanwhile: confirmed (§3.5's grace rules, from the confirmation),
// or revoked (401).
func (s *Service) settledElsewhere(ctx context.Context, familyID string, presented mobileauth.Hash) error {
	fam, err := s.st.Refresh.GetFamily(ctx, familyID)
	if err != nil {
		return fmt.Errorf("re-read adopted token family: %w", err)
	}
	if fam.RevokedAt != nil {
		s.events.AuthEvent("refresh_rejected", "revoked")
		return unauthorized(errors.New("adopted token family revoked"))
	}
	// Confirmed by another presentation, maybe long ago: §3.5's rules apply
	// from the confirmation. Past the grace period, or once the successor
	// was used, this presentation gets 401 but revokes nothing: it arrived
	// while the family was pending, so it is no sign of theft.
	rt, err := s.st.Refresh.GetRefreshToken(ctx, presented)
	if err != nil {
		return fmt.Errorf("re-read adopted token: %w", err)
	}
	used := false
	if rt.ReplacedBy != nil {
		succ, err := s.st.Refresh.GetRefreshToken(ctx, *rt.ReplacedBy)
		if err != nil {
			return fmt.Errorf("re-read successor: %w", err)
		}
		used = succ.RotatedAt != nil
	}
	if used || rt.RotatedAt == nil || s.now().Sub(*rt.RotatedAt) > s.set.RefreshGrace {
		s.events.AuthEvent("refresh_rejected", "settled_elsewhere")
		return unauthorized(errors.New("adoption settled by another presentation; successor used or grace over"))
	}
	return nil
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
