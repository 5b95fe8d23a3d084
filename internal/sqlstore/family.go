package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// CreateFamily stores a new family and its first refresh token in one
// transaction. first inherits the family's id, tenant and user when they
// are empty; ErrConflict if the family id or the token hash exists.
func (s *Store) CreateFamily(ctx context.Context, f mobileauth.TokenFamily, first mobileauth.RefreshToken) error {
	defer s.track("CreateFamily", time.Now())
	var err error
	if first.FamilyID, err = inheritFrom("family", first.FamilyID, f.ID); err != nil {
		return err
	}
	if first.TenantID, err = inheritFrom("tenant", first.TenantID, f.TenantID); err != nil {
		return err
	}
	if first.UserID, err = inheritFrom("user", first.UserID, f.UserID); err != nil {
		return err
	}
	device, err := json.Marshal(f.Device)
	if err != nil {
		return fmt.Errorf("encode device: %w", err)
	}
	if s.dialect == DialectPostgres {
		// One statement instead of BEGIN, two INSERTs and COMMIT: a
		// data-modifying CTE is atomic on its own, and on a busy
		// PostgreSQL the round trips are a large part of an exchange.
		_, err := s.exec(ctx, "WITH f AS (INSERT INTO token_families"+
			" (id, tenant_id, user_id, session_hash, device, created_at, revoked_at)"+
			" VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id)"+
			" INSERT INTO refresh_tokens ("+refreshColumns+")"+
			" SELECT $8, f.id, $9, $10, $11, $12, $13, $14, $15 FROM f",
			f.ID, f.TenantID, f.UserID, hashArg(f.SessionHash), string(device), s.ts(f.CreatedAt), s.tsPtr(f.RevokedAt),
			hashArg(first.Hash), first.TenantID, first.UserID, s.ts(first.CreatedAt), s.ts(first.ExpiresAt),
			s.tsPtr(first.RotatedAt), hashPtrArg(first.ReplacedBy), s.tsPtr(first.RevokedAt))
		if err != nil {
			return conflict("create token family", err)
		}
		return nil
	}
	return s.inTx(ctx, func(tx *txn) error {
		_, err := tx.exec(ctx, "INSERT INTO token_families"+
			" (id, tenant_id, user_id, session_hash, device, created_at, revoked_at)"+
			" VALUES ($1, $2, $3, $4, $5, $6, $7)",
			f.ID, f.TenantID, f.UserID, hashArg(f.SessionHash), string(device), s.ts(f.CreatedAt), s.tsPtr(f.RevokedAt))
		if err != nil {
			return conflict("create token family", err)
		}
		return s.insertRefresh(ctx, tx, first)
	})
}

// inheritFrom is inherit for the first token of a family.
func inheritFrom(what, got, want string) (string, error) {
	if got == "" || got == want {
		return want, nil
	}
	return "", fmt.Errorf("first refresh token: %s differs from its family's", what)
}

// GetFamily returns the family whatever its state; ErrNotFound if absent.
func (s *Store) GetFamily(ctx context.Context, id string) (mobileauth.TokenFamily, error) {
	defer s.track("GetFamily", time.Now())
	var (
		f                mobileauth.TokenFamily
		session          dbHash
		device           string
		created, revoked dbTime
	)
	var pending int64
	err := s.readRow(ctx, "SELECT id, tenant_id, user_id, session_hash, device, created_at, revoked_at,"+
		" CASE WHEN adoption = '"+adoptionPending+"' THEN 1 ELSE 0 END"+
		" FROM token_families WHERE id = $1", id).
		Scan(&f.ID, &f.TenantID, &f.UserID, &session, &device, &created, &revoked, &pending)
	if err != nil {
		return mobileauth.TokenFamily{}, notFound("get token family", err)
	}
	if err := json.Unmarshal([]byte(device), &f.Device); err != nil {
		return mobileauth.TokenFamily{}, fmt.Errorf("get token family: decode device: %w", err)
	}
	f.SessionHash = session.h
	f.CreatedAt, f.RevokedAt = created.t, revoked.ptr()
	f.AdoptionPending = pending == 1
	return f, nil
}

// RevokeFamily revokes the family and every token in it. Idempotent: the
// first revocation time is kept. ErrNotFound if the family is unknown.
func (s *Store) RevokeFamily(ctx context.Context, familyID string, now time.Time) error {
	defer s.track("RevokeFamily", time.Now())
	return s.inTx(ctx, func(tx *txn) error {
		// The family first: its stamp is what rotation and reads check, so
		// it must not lag behind the tokens'.
		res, err := tx.exec(ctx, "UPDATE token_families SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
			familyID, s.ts(now))
		if err != nil {
			return fmt.Errorf("revoke token family: %w", err)
		}
		if err := rowsAffectedErr("revoke token family", res); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, "UPDATE refresh_tokens SET revoked_at = $2"+
			" WHERE family_id = $1 AND revoked_at IS NULL", familyID, s.ts(now)); err != nil {
			return fmt.Errorf("revoke refresh tokens: %w", err)
		}
		return nil
	})
}

// RevokeSessionFamilies revokes every family born of the web session, and
// their tokens (idempotent; no error when there are none).
func (s *Store) RevokeSessionFamilies(ctx context.Context, sessionHash mobileauth.Hash, now time.Time) error {
	defer s.track("RevokeSessionFamilies", time.Now())
	return s.inTx(ctx, func(tx *txn) error {
		if _, err := tx.exec(ctx, "UPDATE token_families SET revoked_at = $2"+
			" WHERE session_hash = $1 AND revoked_at IS NULL", hashArg(sessionHash), s.ts(now)); err != nil {
			return fmt.Errorf("revoke session families: %w", err)
		}
		if _, err := tx.exec(ctx, "UPDATE refresh_tokens SET revoked_at = $2"+
			" WHERE revoked_at IS NULL AND family_id IN (SELECT id FROM token_families WHERE session_hash = $1)",
			hashArg(sessionHash), s.ts(now)); err != nil {
			return fmt.Errorf("revoke session refresh tokens: %w", err)
		}
		return nil
	})
}

// RevokedFamiliesSince lists families revoked at or after since. The stamp
// is the revoking replica's clock, so a poller should overlap its windows
// by the clock skew it tolerates.
func (s *Store) RevokedFamiliesSince(ctx context.Context, since time.Time) ([]string, error) {
	defer s.track("RevokedFamiliesSince", time.Now())
	rows, err := s.read(ctx, "SELECT id FROM token_families"+
		" WHERE revoked_at IS NOT NULL AND revoked_at >= $1 ORDER BY revoked_at, id", s.ts(since))
	if err != nil {
		return nil, fmt.Errorf("list revoked families: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list revoked families: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list revoked families: %w", err)
	}
	return ids, nil
}
