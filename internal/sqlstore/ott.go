package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

const ottColumns = "hash, tenant_id, user_id, session_hash, session_source, session_ref, state, code_challenge, created_at, expires_at, consumed_at"

// CreateOTT stores a one-time token (by hash); ErrConflict if the hash exists.
func (s *Store) CreateOTT(ctx context.Context, t mobileauth.OneTimeToken) error {
	defer s.track("CreateOTT", time.Now())
	_, err := s.exec(ctx, "INSERT INTO one_time_tokens ("+ottColumns+
		") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
		hashArg(t.Hash), t.TenantID, t.UserID, hashArg(t.SessionHash), t.SessionSource, t.SessionRef, t.State, t.CodeChallenge,
		s.ts(t.CreatedAt), s.ts(t.ExpiresAt), s.tsPtr(t.ConsumedAt))
	if err != nil {
		return conflict("create one-time token", err)
	}
	return nil
}

// ConsumeOTT marks the token consumed and returns it. One conditional UPDATE
// does it: under concurrency (on any replica) the row changes for exactly
// one caller; the others, and every caller once the token has expired or
// was consumed, get ErrNotFound. The issuing session's validity comes back
// from the same statement, so an exchange costs one round trip less.
func (s *Store) ConsumeOTT(ctx context.Context, hash mobileauth.Hash, now time.Time) (mobileauth.ConsumedOTT, error) {
	defer s.track("ConsumeOTT", time.Now())
	var c mobileauth.ConsumedOTT
	row := s.queryRow(ctx, "UPDATE one_time_tokens SET consumed_at = $2"+
		" WHERE hash = $1 AND consumed_at IS NULL AND expires_at > $2"+
		" RETURNING "+ottColumns+", EXISTS (SELECT 1 FROM web_sessions s"+
		" WHERE s.id_hash = one_time_tokens.session_hash AND s.revoked_at IS NULL AND s.expires_at > $2)",
		hashArg(hash), s.ts(now))
	var err error
	if c.OneTimeToken, err = scanOTT(row, &c.SessionValid); err != nil {
		return mobileauth.ConsumedOTT{}, notFound("consume one-time token", err)
	}
	return c, nil
}

// ReleaseOTT clears the consumption stamped consumedAt. The stamp is the
// consumer's own, so a release never undoes another caller's consumption.
func (s *Store) ReleaseOTT(ctx context.Context, hash mobileauth.Hash, consumedAt time.Time) error {
	defer s.track("ReleaseOTT", time.Now())
	res, err := s.exec(ctx, "UPDATE one_time_tokens SET consumed_at = NULL WHERE hash = $1 AND consumed_at = $2",
		hashArg(hash), s.ts(consumedAt))
	if err != nil {
		return fmt.Errorf("release one-time token: %w", err)
	}
	return rowsAffectedErr("release one-time token", res)
}

// scanOTT reads ottColumns, then extra destinations for columns that
// follow them.
func scanOTT(row rowScanner, extra ...any) (mobileauth.OneTimeToken, error) {
	var (
		t                          mobileauth.OneTimeToken
		hash, session              dbHash
		created, expires, consumed dbTime
	)
	dest := append([]any{&hash, &t.TenantID, &t.UserID, &session, &t.SessionSource, &t.SessionRef, &t.State, &t.CodeChallenge,
		&created, &expires, &consumed}, extra...)
	err := row.Scan(dest...)
	if err != nil {
		return t, err
	}
	t.Hash, t.SessionHash = hash.h, session.h
	t.CreatedAt, t.ExpiresAt, t.ConsumedAt = created.t, expires.t, consumed.ptr()
	return t, nil
}
