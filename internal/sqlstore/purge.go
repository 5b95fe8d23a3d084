package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// FamilyRetention is how long a token family with no refresh tokens left is
// kept after its revocation (or creation): longer than any access token
// lives, so that a verifier rebuilding its revocation view still learns of
// a revoked family whose access tokens have not expired.
const FamilyRetention = 24 * time.Hour

// PurgeExpired deletes rows that can no longer matter at now: one-time
// tokens and web sessions past expiry, refresh tokens past expiry (until
// then a rotated token is kept, since presenting it again is how theft is
// detected), families left without tokens once FamilyRetention has passed since
// their revocation (or creation), and
// rate-limit rows whose window and block are over. It returns how many
// rows went. Safe to run on every replica at any time.
func (s *Store) PurgeExpired(ctx context.Context, now time.Time) (int64, error) {
	defer s.track("PurgeExpired", time.Now())
	at, old := s.ts(now), s.ts(now.Add(-FamilyRetention))
	steps := []struct {
		what, query string
		arg         any
	}{
		{"one-time tokens", "DELETE FROM one_time_tokens WHERE expires_at < $1", at},
		{"web sessions", "DELETE FROM web_sessions WHERE expires_at < $1", at},
		{"refresh tokens", "DELETE FROM refresh_tokens WHERE expires_at < $1", at},
		{"token families", "DELETE FROM token_families WHERE COALESCE(revoked_at, created_at) < $1" +
			" AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = token_families.id)", old},
		{"rate limits", "DELETE FROM rate_limits WHERE expires_at < $1", at},
	}
	var total int64
	for _, st := range steps {
		res, err := s.exec(ctx, st.query, st.arg)
		if err != nil {
			return total, fmt.Errorf("purge %s: %w", st.what, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("purge %s: %w", st.what, err)
		}
		total += n
	}
	return total, nil
}
