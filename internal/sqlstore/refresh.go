package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// refreshColumns is the column list of refresh_tokens, in scanRefresh order.
const refreshColumns = "hash, family_id, tenant_id, user_id, created_at, expires_at, rotated_at, replaced_by, revoked_at"

// refreshSelect reads a token joined to its family, so that RevokedAt also
// reflects a revoked family (a successor inserted while its family was being
// revoked on another replica may miss the token-level stamp; the family's
// stamp is authoritative).
const refreshSelect = "SELECT " + refreshJoinedColumns + refreshJoin

// refreshJoinedColumns are refreshColumns as the family qualifies them,
// then whether the family's adoption is pending (1 or 0), in scanJoined
// order.
const refreshJoinedColumns = "t.hash, t.family_id, t.tenant_id, t.user_id, t.created_at, t.expires_at," +
	" t.rotated_at, t.replaced_by, COALESCE(t.revoked_at, f.revoked_at)," +
	" CASE WHEN f.adoption = '" + adoptionPending + "' THEN 1 ELSE 0 END"

const refreshJoin = " FROM refresh_tokens t JOIN token_families f ON f.id = t.family_id"

// rotateClaim is the conditional UPDATE that claims a token for rotation:
// it changes the row only if the token is not yet rotated, not revoked, not
// expired at $2, and its family is not revoked.
const rotateClaim = "UPDATE refresh_tokens SET rotated_at = $2, replaced_by = $3" +
	" WHERE hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > $2" +
	" AND NOT EXISTS (SELECT 1 FROM token_families f" +
	" WHERE f.id = refresh_tokens.family_id AND f.revoked_at IS NOT NULL)" +
	" RETURNING " + refreshColumns

// rotateStatement is, on PostgreSQL, the claim and the successor's insert
// as one data-modifying CTE: atomic on its own, and one round trip instead
// of four (BEGIN, UPDATE, INSERT, COMMIT) on the busiest write path. A
// clashing successor hash fails the whole statement, claim included.
const rotateStatement = "WITH claimed AS (" + rotateClaim + ")," +
	" successor AS (INSERT INTO refresh_tokens (hash, family_id, tenant_id, user_id, created_at, expires_at)" +
	" SELECT $3, family_id, tenant_id, user_id, $2, $4 FROM claimed)" +
	" SELECT " + refreshColumns + " FROM claimed"

// rotationState reads a token as refreshSelect does, plus whether its
// successor has been rotated or revoked since (or is gone, which only
// happens after it expired and was purged): 1 if so, 0 if not or if the
// token has no successor.
const rotationState = "SELECT " + refreshJoinedColumns + "," +
	" CASE WHEN t.replaced_by IS NULL THEN 0 WHEN s.hash IS NULL THEN 1" +
	" WHEN s.rotated_at IS NOT NULL OR s.revoked_at IS NOT NULL THEN 1 ELSE 0 END" +
	refreshJoin + " LEFT JOIN refresh_tokens s ON s.hash = t.replaced_by WHERE t.hash = $1"

// RotateRefreshToken replaces the token old by the token successor, created
// at now and expiring at expiresAt, atomically. One conditional UPDATE
// (rotateClaim) claims the old token, so among concurrent callers on any
// replica exactly one gets Outcome Rotated; the successor is inserted in
// the same statement (PostgreSQL) or transaction (SQLite), in old's family
// and for old's tenant and user.
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
func (s *Store) RotateRefreshToken(ctx context.Context, old, successor mobileauth.Hash, expiresAt, now time.Time) (mobileauth.RotateResult, error) {
	defer s.track("RotateRefreshToken", time.Now())
	var (
		cur mobileauth.RefreshToken
		err error
	)
	if s.dialect == DialectPostgres {
		cur, err = scanRefresh(s.queryRow(ctx, rotateStatement, hashArg(old), s.ts(now), hashArg(successor), s.ts(expiresAt)))
	} else {
		err = s.inTx(ctx, func(tx *txn) error {
			var err error
			if cur, err = scanRefresh(tx.queryRow(ctx, rotateClaim, hashArg(old), s.ts(now), hashArg(successor))); err != nil {
				return err
			}
			return s.insertRefresh(ctx, tx, mobileauth.RefreshToken{Hash: successor, FamilyID: cur.FamilyID,
				TenantID: cur.TenantID, UserID: cur.UserID, CreatedAt: now, ExpiresAt: expiresAt})
		})
	}
	switch {
	case err == nil:
		return mobileauth.RotateResult{Outcome: mobileauth.Rotated, Current: cur}, nil
	case !errors.Is(err, sql.ErrNoRows):
		return mobileauth.RotateResult{}, conflict("rotate refresh token", err)
	}
	// Not claimed: report the token as it stands now. The claim's losers
	// read after the winner committed (PostgreSQL re-checks the row once
	// the winner's lock is released; SQLite has one writer), so they see
	// its rotation — provided the read goes to the primary: on PostgreSQL
	// the read pool is the main pool, and must stay so (a lagging replica
	// would make a retry look revoked).
	var used int64
	cur, err = scanJoined(s.readRow(ctx, rotationState, hashArg(old)), &used)
	if err != nil {
		return mobileauth.RotateResult{}, notFound("rotate refresh token", err)
	}
	return mobileauth.RotateResult{Outcome: mobileauth.AlreadyRotated, Current: cur, SuccessorUsed: used == 1}, nil
}

// GetRefreshToken returns the token whatever its state (RevokedAt also set
// when only its family is revoked); ErrNotFound if absent.
func (s *Store) GetRefreshToken(ctx context.Context, hash mobileauth.Hash) (mobileauth.RefreshToken, error) {
	defer s.track("GetRefreshToken", time.Now())
	t, err := scanJoined(s.readRow(ctx, refreshSelect+" WHERE t.hash = $1", hashArg(hash)))
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

// scanRefresh reads refreshColumns, then extra destinations for columns
// that follow them.
func scanRefresh(row rowScanner, extra ...any) (mobileauth.RefreshToken, error) {
	var (
		t                                  mobileauth.RefreshToken
		hash, replacedBy                   dbHash
		created, expires, rotated, revoked dbTime
	)
	dest := append([]any{&hash, &t.FamilyID, &t.TenantID, &t.UserID, &created, &expires, &rotated, &replacedBy, &revoked}, extra...)
	err := row.Scan(dest...)
	if err != nil {
		return t, err
	}
	t.Hash, t.ReplacedBy = hash.h, replacedBy.ptr()
	t.CreatedAt, t.ExpiresAt = created.t, expires.t
	t.RotatedAt, t.RevokedAt = rotated.ptr(), revoked.ptr()
	return t, nil
}

// scanJoined reads refreshJoinedColumns, then extra destinations.
func scanJoined(row rowScanner, extra ...any) (mobileauth.RefreshToken, error) {
	var pending int64
	t, err := scanRefresh(row, append([]any{&pending}, extra...)...)
	t.AdoptionPending = pending == 1
	return t, err
}
