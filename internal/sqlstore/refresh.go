package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// refreshColumns is the column list of refresh_tokens, in scanRefresh order.
const refreshColumns = "hash, family_id, tenant_id, user_id, created_at, expires_at, rotated_at, replaced_by, revoked_at"

// refreshSelect reads a token joined to its family, so that RevokedAt also
// reflects a revoked family (a successor inserted while its family was being
// revoked on another replica may miss the token-level stamp; the family's
// stamp is authoritative).
const refreshSelect = "SELECT t.hash, t.family_id, t.tenant_id, t.user_id, t.created_at, t.expires_at," +
	" t.rotated_at, t.replaced_by, COALESCE(t.revoked_at, f.revoked_at)" +
	" FROM refresh_tokens t JOIN token_families f ON f.id = t.family_id"

// RotateRefreshToken replaces the token old by successor, atomically. One
// conditional UPDATE claims the old token: it changes the row only if the
// token is not yet rotated, not revoked, not expired at now and its family
// is not revoked, so among concurrent callers on any replica exactly one
// gets Outcome Rotated; the successor is inserted in the same transaction.
// The successor inherits FamilyID, TenantID and UserID from old when they
// are empty (the caller knows only the presented token's hash).
//
// Every other caller gets Outcome AlreadyRotated with Current read after the
// claim failed, and must decide from it:
//   - Current.RotatedAt != nil: rotated before (ReplacedBy names the
//     successor; SuccessorUsed says whether that successor has been rotated
//     or revoked since, or no longer exists);
//   - Current.RotatedAt == nil: refused without rotation, because
//     Current.RevokedAt != nil (the token or its family is revoked) or
//     Current.ExpiresAt is not after now.
//
// ErrNotFound when old is unknown; ErrConflict when the successor's hash
// already exists (nothing is changed then).
func (s *Store) RotateRefreshToken(ctx context.Context, old mobileauth.Hash, successor mobileauth.RefreshToken, now time.Time) (mobileauth.RotateResult, error) {
	defer s.track("RotateRefreshToken", time.Now())
	var res mobileauth.RotateResult
	err := s.inTx(ctx, func(tx *txn) error {
		row := tx.queryRow(ctx, "UPDATE refresh_tokens SET rotated_at = $2, replaced_by = $3"+
			" WHERE hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > $2"+
			" AND NOT EXISTS (SELECT 1 FROM token_families f"+
			" WHERE f.id = refresh_tokens.family_id AND f.revoked_at IS NOT NULL)"+
			" RETURNING "+refreshColumns,
			hashArg(old), s.ts(now), hashArg(successor.Hash))
		cur, err := scanRefresh(row)
		switch {
		case err == nil:
			res = mobileauth.RotateResult{Outcome: mobileauth.Rotated, Current: cur}
			return s.insertSuccessor(ctx, tx, cur, successor)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("rotate refresh token: %w", err)
		}
		// Not claimed: report the token as it stands now.
		cur, err = scanRefresh(tx.queryRow(ctx, refreshSelect+" WHERE t.hash = $1", hashArg(old)))
		if err != nil {
			return notFound("rotate refresh token", err)
		}
		used, err := successorUsed(ctx, tx, cur.ReplacedBy)
		if err != nil {
			return err
		}
		res = mobileauth.RotateResult{Outcome: mobileauth.AlreadyRotated, Current: cur, SuccessorUsed: used}
		return nil
	})
	if err != nil {
		return mobileauth.RotateResult{}, err
	}
	return res, nil
}

// insertSuccessor stores the successor of cur, filling in what it inherits.
func (s *Store) insertSuccessor(ctx context.Context, tx *txn, cur, succ mobileauth.RefreshToken) error {
	var err error
	if succ.FamilyID, err = inherit("family", succ.FamilyID, cur.FamilyID); err != nil {
		return err
	}
	if succ.TenantID, err = inherit("tenant", succ.TenantID, cur.TenantID); err != nil {
		return err
	}
	if succ.UserID, err = inherit("user", succ.UserID, cur.UserID); err != nil {
		return err
	}
	return s.insertRefresh(ctx, tx, succ)
}

// inherit returns got, or want when got is empty; a different non-empty
// value is a caller bug.
func inherit(what, got, want string) (string, error) {
	if got == "" || got == want {
		return want, nil
	}
	return "", fmt.Errorf("successor refresh token: %s differs from the rotated token's", what)
}

// successorUsed reports whether the successor has been rotated or revoked
// (or is gone, which only happens after it expired and was purged).
func successorUsed(ctx context.Context, tx *txn, succ *mobileauth.Hash) (bool, error) {
	if succ == nil {
		return false, nil
	}
	var rotated, revoked dbTime
	err := tx.queryRow(ctx, "SELECT rotated_at, revoked_at FROM refresh_tokens WHERE hash = $1",
		hashArg(*succ)).Scan(&rotated, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("read successor refresh token: %w", err)
	}
	return rotated.valid || revoked.valid, nil
}

// GetRefreshToken returns the token whatever its state (RevokedAt also set
// when only its family is revoked); ErrNotFound if absent.
func (s *Store) GetRefreshToken(ctx context.Context, hash mobileauth.Hash) (mobileauth.RefreshToken, error) {
	defer s.track("GetRefreshToken", time.Now())
	t, err := scanRefresh(s.readRow(ctx, refreshSelect+" WHERE t.hash = $1", hashArg(hash)))
	if err != nil {
		return mobileauth.RefreshToken{}, notFound("get refresh token", err)
	}
	return t, nil
}

// insertRefresh stores one refresh token inside tx.
func (s *Store) insertRefresh(ctx context.Context, tx *txn, t mobileauth.RefreshToken) error {
	_, err := tx.exec(ctx, "INSERT INTO refresh_tokens ("+refreshColumns+
		") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
		hashArg(t.Hash), t.FamilyID, t.TenantID, t.UserID, s.ts(t.CreatedAt), s.ts(t.ExpiresAt),
		s.tsPtr(t.RotatedAt), hashPtrArg(t.ReplacedBy), s.tsPtr(t.RevokedAt))
	if err != nil {
		return conflict("insert refresh token", err)
	}
	return nil
}

func scanRefresh(row rowScanner) (mobileauth.RefreshToken, error) {
	var (
		t                                  mobileauth.RefreshToken
		hash, replacedBy                   dbHash
		created, expires, rotated, revoked dbTime
	)
	err := row.Scan(&hash, &t.FamilyID, &t.TenantID, &t.UserID, &created, &expires, &rotated, &replacedBy, &revoked)
	if err != nil {
		return t, err
	}
	t.Hash, t.ReplacedBy = hash.h, replacedBy.ptr()
	t.CreatedAt, t.ExpiresAt = created.t, expires.t
	t.RotatedAt, t.RevokedAt = rotated.ptr(), revoked.ptr()
	return t, nil
}
