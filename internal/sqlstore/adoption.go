package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// token_families.adoption: empty for a family begun here, adoptionPending for
// one begun for a refresh token AlgaPSA issued whose row is not claimed
// yet, adoptionDone once it is.
const (
	adoptionPending  = "pending"
	adoptionDone     = "adopted"
	adoptionRejected = "rejected"
)

var _ mobileauth.AdoptionStore = (*Store)(nil)

// CreateAdoptedFamily stores a pending family, the adopted token already
// rotated to successor, and successor, in one transaction (SPEC §8.5). The
// adopted token's hash is the primary key of refresh_tokens, so among any
// number of concurrent callers on any replica exactly one inserts it; the
// others get ErrConflict (on PostgreSQL after the winner commits: a
// unique-index wait, under READ COMMITTED). The tokens inherit the family's
// id, tenant and user.
func (s *Store) CreateAdoptedFamily(ctx context.Context, f mobileauth.TokenFamily, adopted, successor mobileauth.RefreshToken) error {
	defer s.track("CreateAdoptedFamily", time.Now())
	if adopted.RotatedAt == nil || adopted.ReplacedBy == nil || *adopted.ReplacedBy != successor.Hash {
		return fmt.Errorf("create adopted family: the adopted token must be rotated to the successor")
	}
	device, err := json.Marshal(f.Device)
	if err != nil {
		return fmt.Errorf("encode device: %w", err)
	}
	for _, t := range []*mobileauth.RefreshToken{&adopted, &successor} {
		t.FamilyID, t.TenantID, t.UserID = f.ID, f.TenantID, f.UserID
	}
	return s.inTx(ctx, func(tx *txn) error {
		// The family first (its id is fresh: no clash), as the tokens
		// reference it; then the adopted token, whose hash is where
		// concurrent adoptions meet.
		if _, err := tx.exec(ctx, "INSERT INTO token_families"+
			" (id, tenant_id, user_id, session_hash, device, created_at, revoked_at, adoption)"+
			" VALUES ($1, $2, $3, $4, $5, $6, NULL, '"+adoptionPending+"')",
			f.ID, f.TenantID, f.UserID, hashArg(f.SessionHash), string(device), s.ts(f.CreatedAt)); err != nil {
			return conflict("create adopted family", err)
		}
		if err := s.insertRefresh(ctx, tx, adopted); err != nil {
			return err
		}
		return s.insertRefresh(ctx, tx, successor)
	})
}

// ConfirmAdoption marks a pending family adopted (AlgaPSA's row is
// claimed) and restamps its adopted token's rotation at now, so that §3.5's
// grace period counts from the confirmation, however long the family was
// pending.
func (s *Store) ConfirmAdoption(ctx context.Context, familyID string, now time.Time) error {
	defer s.track("ConfirmAdoption", time.Now())
	return s.inTx(ctx, func(tx *txn) error {
		res, err := tx.exec(ctx, "UPDATE token_families SET adoption = '"+adoptionDone+"'"+
			" WHERE id = $1 AND adoption = '"+adoptionPending+"'", familyID)
		if err != nil {
			return fmt.Errorf("confirm adoption: %w", err)
		}
		if err := rowsAffectedErr("confirm adoption", res); err != nil {
			return err
		}
		// The adopted token is the family's only rotated one until the
		// adoption is confirmed (nobody holds the successor before).
		if _, err := tx.exec(ctx, "UPDATE refresh_tokens SET rotated_at = $2"+
			" WHERE family_id = $1 AND rotated_at IS NOT NULL", familyID, s.ts(now)); err != nil {
			return fmt.Errorf("confirm adoption: restamp rotation: %w", err)
		}
		return nil
	})
}

// RejectAdoption revokes a pending family and its tokens: AlgaPSA's row was
// not claimed by the adoption. The family leaves the pending state in the
// same statement, so a confirmation and a rejection racing on it (two
// presentations that read AlgaPSA's row at different moments) settle it
// exactly once, whichever commits first; the other gets ErrNotFound.
func (s *Store) RejectAdoption(ctx context.Context, familyID string, now time.Time) error {
	defer s.track("RejectAdoption", time.Now())
	return s.inTx(ctx, func(tx *txn) error {
		res, err := tx.exec(ctx, "UPDATE token_families SET adoption = '"+adoptionRejected+"',"+
			" revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 AND adoption = '"+adoptionPending+"'",
			familyID, s.ts(now))
		if err != nil {
			return fmt.Errorf("reject adoption: %w", err)
		}
		if err := rowsAffectedErr("reject adoption", res); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, "UPDATE refresh_tokens SET revoked_at = $2"+
			" WHERE family_id = $1 AND revoked_at IS NULL", familyID, s.ts(now)); err != nil {
			return fmt.Errorf("reject adoption: revoke refresh tokens: %w", err)
		}
		return nil
	})
}
