package sqlstore

import (
	"context"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

const ottColumns = "hash, tenant_id, user_id, session_hash, state, code_challenge, created_at, expires_at, consumed_at"

// CreateOTT stores a one-time token (by hash); ErrConflict if the hash exists.
func (s *Store) CreateOTT(ctx context.Context, t mobileauth.OneTimeToken) error {
	defer s.track("CreateOTT", time.Now())
	_, err := s.exec(ctx, "INSERT INTO one_time_tokens ("+ottColumns+
		") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
		hashArg(t.Hash), t.TenantID, t.UserID, hashArg(t.SessionHash), t.State, t.CodeChallenge,
		s.ts(t.CreatedAt), s.ts(t.ExpiresAt), s.tsPtr(t.ConsumedAt))
	if err != nil {
		return conflict("create one-time token", err)
	}
	return nil
}

// ConsumeOTT marks the token consumed and returns it. One conditional UPDATE
// does it: under concurrency (on any replica) the row changes for exactly
// one caller; the others, and every caller once the token has expired or
// was consumed, get ErrNotFound.
func (s *Store) ConsumeOTT(ctx context.Context, hash mobileauth.Hash, now time.Time) (mobileauth.OneTimeToken, error) {
	defer s.track("ConsumeOTT", time.Now())
	row := s.queryRow(ctx, "UPDATE one_time_tokens SET consumed_at = $2"+
		" WHERE hash = $1 AND consumed_at IS NULL AND expires_at > $2"+
		" RETURNING "+ottColumns,
		hashArg(hash), s.ts(now))
	t, err := scanOTT(row)
	if err != nil {
		return mobileauth.OneTimeToken{}, notFound("consume one-time token", err)
	}
	return t, nil
}

func scanOTT(row rowScanner) (mobileauth.OneTimeToken, error) {
	var (
		t                          mobileauth.OneTimeToken
		hash, session              dbHash
		created, expires, consumed dbTime
	)
	err := row.Scan(&hash, &t.TenantID, &t.UserID, &session, &t.State, &t.CodeChallenge,
		&created, &expires, &consumed)
	if err != nil {
		return t, err
	}
	t.Hash, t.SessionHash = hash.h, session.h
	t.CreatedAt, t.ExpiresAt, t.ConsumedAt = created.t, expires.t, consumed.ptr()
	return t, nil
}
