package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// ListSigningKeys returns every signing key, newest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]mobileauth.SigningKey, error) {
	defer s.track("ListSigningKeys", time.Now())
	rows, err := s.read(ctx, "SELECT kid, algorithm, private_der, public_der, created_at, retired_at"+
		" FROM signing_keys ORDER BY created_at DESC, kid DESC")
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	defer rows.Close()
	var keys []mobileauth.SigningKey
	for rows.Next() {
		var (
			k                mobileauth.SigningKey
			created, retired dbTime
		)
		if err := rows.Scan(&k.KID, &k.Algorithm, &k.PrivateDER, &k.PublicDER, &created, &retired); err != nil {
			return nil, fmt.Errorf("list signing keys: %w", err)
		}
		k.CreatedAt, k.RetiredAt = created.t, retired.ptr()
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	return keys, nil
}

// AddSigningKey stores k and, in the same transaction, retires every other
// active key at k.CreatedAt; ErrConflict if the kid exists.
func (s *Store) AddSigningKey(ctx context.Context, k mobileauth.SigningKey) error {
	defer s.track("AddSigningKey", time.Now())
	return s.inTx(ctx, func(tx *txn) error {
		if _, err := tx.exec(ctx, "UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL AND kid <> $2",
			s.ts(k.CreatedAt), k.KID); err != nil {
			return fmt.Errorf("retire signing keys: %w", err)
		}
		_, err := tx.exec(ctx, "INSERT INTO signing_keys"+
			" (kid, algorithm, private_der, public_der, created_at, retired_at) VALUES ($1, $2, $3, $4, $5, $6)",
			k.KID, k.Algorithm, k.PrivateDER, k.PublicDER, s.ts(k.CreatedAt), s.tsPtr(k.RetiredAt))
		if err != nil {
			return conflict("add signing key", err)
		}
		return nil
	})
}

// ServerSecret returns the named secret, creating it with gen on first use.
// The insert does nothing when another replica got there first, and the
// value is read back afterwards, so every replica converges on the first
// writer's secret. The secret never appears in an error.
func (s *Store) ServerSecret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error) {
	defer s.track("ServerSecret", time.Now())
	v, err := s.readSecret(ctx, name)
	if err == nil || !errors.Is(err, mobileauth.ErrNotFound) {
		return v, err
	}
	fresh, err := gen()
	if err != nil {
		return nil, fmt.Errorf("generate server secret %q: %w", name, err)
	}
	if len(fresh) == 0 {
		return nil, fmt.Errorf("generate server secret %q: empty", name)
	}
	if _, err := s.exec(ctx, "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3)"+
		" ON CONFLICT (name) DO NOTHING", name, fresh, s.ts(s.now())); err != nil {
		return nil, fmt.Errorf("store server secret %q: %w", name, err)
	}
	return s.readSecret(ctx, name)
}

func (s *Store) readSecret(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	if err := s.readRow(ctx, "SELECT value FROM server_secrets WHERE name = $1", name).Scan(&v); err != nil {
		return nil, notFound(fmt.Sprintf("read server secret %q", name), err)
	}
	return v, nil
}

// ReplaceSigningKeyPrivate swaps kid's private half from old to new, only
// while it still is old, so that replicas re-sealing at the same time
// seal each key once. It reports whether this call changed the row.
func (s *Store) ReplaceSigningKeyPrivate(ctx context.Context, kid string, old, new []byte) (bool, error) {
	defer s.track("ReplaceSigningKeyPrivate", time.Now())
	res, err := s.exec(ctx, "UPDATE signing_keys SET private_der = $1 WHERE kid = $2 AND private_der = $3", new, kid, old)
	if err != nil {
		return false, fmt.Errorf("replace signing key %s: %w", kid, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("replace signing key %s: %w", kid, err)
	}
	return n == 1, nil
}

// CountServerSecrets reports how many server secrets are stored.
func (s *Store) CountServerSecrets(ctx context.Context) (int, error) {
	var n int
	if err := s.readRow(ctx, "SELECT COUNT(*) FROM server_secrets").Scan(&n); err != nil {
		return 0, fmt.Errorf("count server secrets: %w", err)
	}
	return n, nil
}

// DeleteServerSecrets deletes every stored server secret (once
// ALGA_MOBILE_SECRET_KEY is set they are derived from it instead) and
// reports how many there were.
func (s *Store) DeleteServerSecrets(ctx context.Context) (int, error) {
	defer s.track("DeleteServerSecrets", time.Now())
	res, err := s.exec(ctx, "DELETE FROM server_secrets")
	if err != nil {
		return 0, fmt.Errorf("delete server secrets: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete server secrets: %w", err)
	}
	return int(n), nil
}
