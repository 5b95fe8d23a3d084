package sqlstore

import (
	"context"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// CreateSession stores a browser session (by id hash); ErrConflict if the
// hash exists.
func (s *Store) CreateSession(ctx context.Context, ws mobileauth.WebSession) error {
	defer s.track("CreateSession", time.Now())
	_, err := s.exec(ctx, "INSERT INTO web_sessions"+
		" (id_hash, tenant_id, user_id, provider, created_at, expires_at, revoked_at)"+
		" VALUES ($1, $2, $3, $4, $5, $6, $7)",
		hashArg(ws.IDHash), ws.TenantID, ws.UserID, ws.Provider,
		s.ts(ws.CreatedAt), s.ts(ws.ExpiresAt), s.tsPtr(ws.RevokedAt))
	if err != nil {
		return conflict("create web session", err)
	}
	return nil
}

// GetSession returns the session whatever its state; ErrNotFound if absent.
func (s *Store) GetSession(ctx context.Context, idHash mobileauth.Hash) (mobileauth.WebSession, error) {
	defer s.track("GetSession", time.Now())
	var (
		ws                        mobileauth.WebSession
		hash                      dbHash
		created, expires, revoked dbTime
	)
	err := s.readRow(ctx, "SELECT id_hash, tenant_id, user_id, provider, created_at, expires_at, revoked_at"+
		" FROM web_sessions WHERE id_hash = $1", hashArg(idHash)).
		Scan(&hash, &ws.TenantID, &ws.UserID, &ws.Provider, &created, &expires, &revoked)
	if err != nil {
		return mobileauth.WebSession{}, notFound("get web session", err)
	}
	ws.IDHash = hash.h
	ws.CreatedAt, ws.ExpiresAt, ws.RevokedAt = created.t, expires.t, revoked.ptr()
	return ws, nil
}

// RevokeSession marks the session revoked at now, keeping the first
// revocation time when called again; ErrNotFound if absent. It does not
// touch token families: the caller decides (RevokeSessionFamilies).
func (s *Store) RevokeSession(ctx context.Context, idHash mobileauth.Hash, now time.Time) error {
	defer s.track("RevokeSession", time.Now())
	res, err := s.exec(ctx, "UPDATE web_sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE id_hash = $1",
		hashArg(idHash), s.ts(now))
	if err != nil {
		return notFound("revoke web session", err)
	}
	return rowsAffectedErr("revoke web session", res)
}
