package algapsa

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// claimAlgaToken revokes one mobile_refresh_tokens row and deactivates the
// API key issued with it, in one statement. The row is claimed by a
// conditional UPDATE (revoked_at IS NULL, plus the extra condition): among
// any number of concurrent callers on any replicas exactly one changes it
// and gets it back; under READ COMMITTED the others re-check the condition
// after the winner commits and find nothing.
const claimAlgaToken = `WITH claimed AS (
  UPDATE mobile_refresh_tokens
     SET revoked_at = now(), last_used_at = now()
   WHERE token_hash = $1 AND revoked_at IS NULL %s
  RETURNING mobile_refresh_token_id, tenant, user_id, api_key_id
), key AS (
  UPDATE api_keys k SET active = false, updated_at = now()
    FROM claimed c
   WHERE k.api_key_id = c.api_key_id AND k.tenant = c.tenant AND k.active
  RETURNING k.api_key_id
)
SELECT mobile_refresh_token_id::text, tenant::text, user_id::text, coalesce(api_key_id::text, '') FROM claimed`

// AdoptAlgaRefreshToken takes over a refresh token that AlgaPSA's own
// mobile endpoints issued (SPEC §8.5): hash is the SHA-256 of the presented
// token (mobileauth.Hash, stored by AlgaPSA as lower-case hex). A row that
// is not revoked and not expired is claimed exactly once: revoked_at and
// last_used_at become now and its API key is deactivated. ErrNotFound when
// no such row qualifies (unknown, revoked, expired, or claimed by a
// concurrent call).
func (d *DB) AdoptAlgaRefreshToken(ctx context.Context, hash mobileauth.Hash) (mobileauth.AdoptedRefreshToken, error) {
	return d.claim(ctx, hash, "AND expires_at > now()", "adopt AlgaPSA refresh token")
}

// FindAlgaRefreshToken reads, without changing it, the adoptable refresh
// token AlgaPSA issued with this hash: not revoked and not expired (the
// same rule AdoptAlgaRefreshToken claims by). The caller checks the owner
// before claiming, so a refusal (plan, suspension) or an outage leaves the
// token to the phone. ErrNotFound when no such row qualifies.
func (d *DB) FindAlgaRefreshToken(ctx context.Context, hash mobileauth.Hash) (mobileauth.AdoptedRefreshToken, error) {
	var a mobileauth.AdoptedRefreshToken
	err := d.pool.QueryRow(ctx, `SELECT mobile_refresh_token_id::text, tenant::text, user_id::text, coalesce(api_key_id::text, '')
  FROM mobile_refresh_tokens
 WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now()`, hex.EncodeToString(hash[:])).
		Scan(&a.ID, &a.TenantID, &a.UserID, &a.APIKeyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, notFound("find AlgaPSA refresh token")
	}
	if err != nil {
		return a, fmt.Errorf("find AlgaPSA refresh token: %w", err)
	}
	return a, nil
}

// AdoptionClaimed reports whether the token's row looks claimed by an
// adoption (AdoptAlgaRefreshToken): revoked, not replaced by a successor of
// AlgaPSA's (replaced_by_id NULL), and last_used_at equal to revoked_at (the
// claim sets both to the same now()). It is how an adoption whose claim's
// answer was lost learns whether the claim committed. An AlgaPSA rotation
// (replaced_by_id set) reads false; AlgaPSA's own revoke, which also sets
// both stamps at once, cannot be told apart and reads true. False when no
// row has the hash.
func (d *DB) AdoptionClaimed(ctx context.Context, hash mobileauth.Hash) (bool, error) {
	var claimed bool
	err := d.pool.QueryRow(ctx, `SELECT coalesce(revoked_at IS NOT NULL AND replaced_by_id IS NULL AND last_used_at = revoked_at, false)
  FROM mobile_refresh_tokens WHERE token_hash = $1`, hex.EncodeToString(hash[:])).Scan(&claimed)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read AlgaPSA refresh token claim: %w", err)
	}
	return claimed, nil
}

// RevokeAlgaRefreshToken is /revoke for a token AlgaPSA issued: the row,
// if not yet revoked (expired or not), gets revoked_at and last_used_at
// now and its API key is deactivated. found says whether there was one.
func (d *DB) RevokeAlgaRefreshToken(ctx context.Context, hash mobileauth.Hash) (found bool, err error) {
	_, err = d.claim(ctx, hash, "", "revoke AlgaPSA refresh token")
	if errors.Is(err, mobileauth.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (d *DB) claim(ctx context.Context, hash mobileauth.Hash, extra, what string) (mobileauth.AdoptedRefreshToken, error) {
	var a mobileauth.AdoptedRefreshToken
	err := d.pool.QueryRow(ctx, fmt.Sprintf(claimAlgaToken, extra), hex.EncodeToString(hash[:])).
		Scan(&a.ID, &a.TenantID, &a.UserID, &a.APIKeyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, notFound(what)
	}
	if err != nil {
		return a, fmt.Errorf("%s: %w", what, err)
	}
	return a, nil
}
