package algapsa

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// What the API keys this service creates look like (SPEC §8.4). AlgaPSA's
// own mobile endpoints also create keys with purpose mobile_session, but
// never with metadata.issuer, which is how ours are told apart: every
// statement below that reads or changes keys requires both.
const (
	KeyPurpose     = "mobile_session"
	KeyDescription = "Mobile session"
	KeyIssuer      = "alga-mobile-auth"
	// KeyRetention is how long SweepAPIKeys keeps inactive keys (by age,
	// as AlgaPSA's own cleanup counts it), for incident and audit context.
	KeyRetention = 7 * 24 * time.Hour
)

// ours is the condition that selects this service's keys (table alias k).
const ours = "k.purpose = '" + KeyPurpose + "' AND k.metadata->>'issuer' = '" + KeyIssuer + "'"

// oursOfOwner is ours for statements that name the key's owner (tenant $1,
// user $2): the same rows, but written so that only AlgaPSA's user_id
// index can serve them, and a statement reads only the owner's keys (one
// user's, at most a few hundred). The planner would otherwise pick an index
// that holds other users' keys whenever the table's statistics are young
// or missing (we may neither ANALYZE nor index AlgaPSA's tables, and a
// table that grows from empty, a fresh appliance's or the benchmark's, has
// none):
//   - the purpose is compared as an expression (k.purpose joined to an
//     empty string, equal to k.purpose for the NOT NULL column) that the
//     (purpose, expires_at) index cannot serve: through it a family's
//     deactivation read every mobile_session key of every user (6,800 rows
//     where the user had 36);
//   - the tenant is compared with IS NOT DISTINCT FROM (equality for the
//     NOT NULL column), which no index serves: with tenant = $1 the planner
//     ANDed the tenant index's bitmap, every key of the tenant (of the whole
//     table on a single-tenant appliance), with the user's, and a refresh's
//     deactivation cost a millisecond of database CPU, growing with the
//     table. user_id values are UUIDs, so the user's index entries are the
//     owner's keys plus, at most, a namesake in another tenant, which the
//     tenant condition filters out.
const oursOfOwner = "k.user_id = $2 AND k.tenant IS NOT DISTINCT FROM $1::uuid" +
	" AND (k.purpose || '') = '" + KeyPurpose + "' AND k.metadata->>'issuer' = '" + KeyIssuer + "'"

// keyMetadata is api_keys.metadata of a key this service created.
type keyMetadata struct {
	Issuer   string             `json:"issuer"`
	FamilyID string             `json:"familyId"`
	Device   *mobileauth.Device `json:"device"`
}

// lockFamily serialises, across replicas, the transactions that change one
// family's keys, with a transaction-scoped advisory lock: it creates
// nothing in AlgaPSA's database and is released at commit. Without it two
// racing mints could each deactivate the other's predecessor but not the
// other's (still uncommitted) new key, leaving two active keys. The lock
// must be its own statement, before the ones that read the family's keys:
// at READ COMMITTED each statement sees what was committed when it began,
// so only a statement that begins after the lock is granted sees the key
// of the mint that held it.
const lockFamilySQL = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"

// mintLockSQL is lockFamilySQL for a mint's batch, which it also sets to
// commit without waiting for its WAL to reach the disk
// (synchronous_commit off for this transaction only: set_config's third
// argument; the connection keeps the server's setting for everything
// else). A mint only creates a key and ends the family's previous one;
// PostgreSQL still commits it atomically, makes it visible at once, and
// writes the WAL in order within a fraction of a second, so what a crash
// of AlgaPSA's database can lose is the last moment's mints, whole: the
// family keeps its previous key (still at most one active) and the phone's
// new key is unknown, so AlgaPSA answers it 401 and the phone refreshes.
// Nothing that takes access away is relaxed: RevokeFamilyKeys,
// RevokeUserKeys and the sweep commit as the server is configured, and
// their flush also flushes every earlier mint's WAL. On a loaded server
// the flush wait is part of every request's latency (the exchange's other
// commits are the own store's); a single-connection timing put the
// refresh's mint at 130-150 µs of database CPU instead of 240-260 µs.
const mintLockSQL = lockFamilySQL + ", set_config('synchronous_commit', 'off', true)"

func familyLockKey(familyID string) string { return KeyIssuer + "/family/" + familyID }

func lockFamily(ctx context.Context, tx pgx.Tx, familyID string) error {
	_, err := tx.Exec(ctx, lockFamilySQL, familyLockKey(familyID))
	return err
}

// deactivateFamily is the UPDATE that ends a family's active keys.
const deactivateFamily = "UPDATE api_keys k SET active = false, updated_at = now()" +
	" WHERE " + oursOfOwner + " AND k.metadata->>'familyId' = $3 AND k.active"

// deactivateHinted is deactivateFamily for a mint, given $4, the family's
// last key as this replica remembers it (keyHints): when that key
// is still the family's active key, it alone is read, through the primary
// key; only otherwise does the scan of the owner's keys run (COALESCE
// evaluates its second sub-select only when the first found nothing).
// Both sub-selects see the statement's snapshot, taken after the family's
// lock, and one UPDATE ends what they found. Outside the primary key's
// first column, every column is compared in a form that no index serves,
// as in oursOfOwner: without statistics the planner otherwise read every
// mobile_session key through the (purpose, expires_at) index, or every key
// of the tenant through its index, to find the one.
const deactivateHinted = "UPDATE api_keys k SET active = false, updated_at = now()" +
	" WHERE k.api_key_id = ANY(COALESCE(" +
	"(SELECT ARRAY[h.api_key_id] FROM api_keys h WHERE h.api_key_id = $4::uuid" +
	" AND h.tenant IS NOT DISTINCT FROM $1::uuid AND h.user_id IS NOT DISTINCT FROM $2::uuid" +
	" AND (h.purpose || '') = '" + KeyPurpose + "' AND h.metadata->>'issuer' = '" + KeyIssuer + "'" +
	" AND h.metadata->>'familyId' = $3 AND h.active), " +
	"ARRAY(SELECT k.api_key_id FROM api_keys k WHERE " + oursOfOwner + " AND k.metadata->>'familyId' = $3 AND k.active)))" +
	" AND k.tenant IS NOT DISTINCT FROM $1::uuid AND k.active"

// deactivateUser is the UPDATE that ends all of a user's active keys.
const deactivateUser = "UPDATE api_keys k SET active = false, updated_at = now() WHERE " + oursOfOwner + " AND k.active"

// MintAPIKey creates the family's next access key (SPEC §8.4): 32 random
// bytes as 64 lower-case hex characters, stored as their SHA-256 hex with
// description "Mobile session", purpose mobile_session, metadata {issuer,
// familyId, device}, active, usage_count 0 and expires_at = now + ttl. In
// the same transaction, under the family's advisory lock, it deactivates
// the family's previous active key, so a family has at most one active key
// however many mints race. As AlgaPSA's own issuance does, it refuses an
// owner who is missing, inactive or not internal, or whose tenant is
// suspended (ErrNotFound); the previous key is deactivated all the same.
func (d *DB) MintAPIKey(ctx context.Context, tenantID, userID, familyID string, dev mobileauth.Device, ttl time.Duration) (mobileauth.MintedAPIKey, error) {
	return d.mint(ctx, tenantID, userID, familyID, dev, ttl, true)
}

// MintFirstAPIKey is MintAPIKey for a family created a moment ago, whose
// first key this is (the exchange): there is no previous key, so it skips
// the deactivation, which finds nothing but still reads every key of the
// user. The family's lock is taken all the same, so a revocation of the
// family (RevokeFamilyKeys) is ordered with this mint exactly as with any
// other. The caller must know that no key of the family can exist yet: a
// family is new when its id was drawn for it and nothing else has minted
// for it (its refresh token is not out, so no refresh can).
func (d *DB) MintFirstAPIKey(ctx context.Context, tenantID, userID, familyID string, dev mobileauth.Device, ttl time.Duration) (mobileauth.MintedAPIKey, error) {
	return d.mint(ctx, tenantID, userID, familyID, dev, ttl, false)
}

// mint is MintAPIKey, with the deactivation of the family's previous keys
// when replace is set.
func (d *DB) mint(ctx context.Context, tenantID, userID, familyID string, dev mobileauth.Device, ttl time.Duration, replace bool) (mobileauth.MintedAPIKey, error) {
	if !validUUID(tenantID) || !validUUID(userID) {
		return mobileauth.MintedAPIKey{}, notFound("mint AlgaPSA API key: owner")
	}
	if familyID == "" || ttl <= 0 {
		return mobileauth.MintedAPIKey{}, errors.New("mint AlgaPSA API key: a family id and a positive lifetime are required")
	}
	key, err := d.newKey()
	if err != nil {
		return mobileauth.MintedAPIKey{}, err
	}
	meta := keyMetadata{Issuer: KeyIssuer, FamilyID: familyID}
	if dev != (mobileauth.Device{}) {
		meta.Device = &dev
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return mobileauth.MintedAPIKey{}, fmt.Errorf("mint AlgaPSA API key: %w", err)
	}
	out := mobileauth.MintedAPIKey{Key: key, TenantID: canonicalUUID(tenantID), UserID: canonicalUUID(userID), FamilyID: familyID}
	// One round trip: the three statements go out as one pipelined batch,
	// which PostgreSQL runs as one implicit transaction (committed at its
	// end, rolled back whole on an error), each statement with its own
	// snapshot, so the lock still comes before what reads the keys. It was
	// BEGIN, lock, UPDATE, INSERT, COMMIT: five round trips holding one of
	// the pool's few connections.
	eligible := false
	b := &pgx.Batch{}
	b.Queue(mintLockSQL, familyLockKey(familyID))
	if replace {
		if prev, ok := d.hints.get(familyID); ok {
			b.Queue(deactivateHinted, tenantID, userID, familyID, prev)
		} else {
			b.Queue(deactivateFamily, tenantID, userID, familyID)
		}
	}
	// The owner rule is part of the INSERT, so a user disabled a moment ago
	// cannot receive a key; an ineligible owner inserts nothing and the
	// deactivation still commits.
	b.Queue(mintKey, tenantID, userID, sha256Hex(key), KeyDescription, KeyPurpose, metaJSON, ttl.Seconds()).
		QueryRow(func(row pgx.Row) error {
			err := row.Scan(&out.ID, &out.ExpiresAt)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil // reported below
			}
			eligible = err == nil
			return err
		})
	if err := d.pool.SendBatch(ctx, b).Close(); err != nil {
		return mobileauth.MintedAPIKey{}, fmt.Errorf("mint AlgaPSA API key: %w", err)
	}
	if !eligible {
		d.hints.forget(familyID)
		return mobileauth.MintedAPIKey{}, notFound("mint AlgaPSA API key: owner missing, inactive, a client user, or tenant suspended")
	}
	d.hints.set(familyID, out.ID)
	return out, nil
}

// mintKey inserts a key for an owner AlgaPSA's own issuance would accept.
const mintKey = `INSERT INTO api_keys (api_key, tenant, user_id, description, purpose, metadata, active, usage_count, expires_at)
SELECT $3, u.tenant, u.user_id, $4, $5, $6, true, 0, now() + make_interval(secs => $7)
  FROM users u LEFT JOIN tenants t ON t.tenant = u.tenant
 WHERE u.tenant = $1 AND u.user_id = $2 AND NOT coalesce(u.is_inactive, false) AND u.user_type = 'internal'
   AND t.suspended_at IS NULL
RETURNING api_key_id::text, expires_at`

// newKey draws 32 random bytes as 64 lower-case hex characters.
func (d *DB) newKey() (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(d.rand, b); err != nil {
		return "", fmt.Errorf("mint AlgaPSA API key: random source: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// RevokeFamilyKeys deactivates every active key of the family (revoke,
// theft detection) and returns how many it deactivated. It takes the
// family's lock, so a mint in flight either lands before it (and is
// deactivated) or after it.
func (d *DB) RevokeFamilyKeys(ctx context.Context, tenantID, userID, familyID string) (int64, error) {
	if !validUUID(tenantID) || !validUUID(userID) || familyID == "" {
		return 0, nil
	}
	var n int64
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if err := lockFamily(ctx, tx, familyID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, deactivateFamily, tenantID, userID, familyID)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("revoke AlgaPSA API keys of family: %w", err)
	}
	d.hints.forget(familyID)
	return n, nil
}

// RevokeUserKeys deactivates every active key this service created for the
// user (who AlgaPSA made inactive or a client user, SPEC §8.2) and returns
// how many.
func (d *DB) RevokeUserKeys(ctx context.Context, tenantID, userID string) (int64, error) {
	if !validUUID(tenantID) || !validUUID(userID) {
		return 0, nil
	}
	tag, err := d.pool.Exec(ctx, deactivateUser, tenantID, userID)
	if err != nil {
		return 0, fmt.Errorf("revoke AlgaPSA API keys of user: %w", err)
	}
	return tag.RowsAffected(), nil
}

// VerifyAPIKey finds whom a presented key belongs to (/verify): a key this
// service created, active and not expired by the database's clock, whose
// owner AlgaPSA's own check would still accept (present, active, internal,
// tenant not suspended). Anything else, including a key that is not 64
// lower-case hex characters, is ErrNotFound. It writes nothing, and caches
// nothing: concurrent look-ups share one query that starts after each of
// them was asked (keyLookups), so a key deactivated, or an owner disabled,
// before the call is refused.
func (d *DB) VerifyAPIKey(ctx context.Context, key string) (mobileauth.APIKeyHolder, error) {
	if !isKeyShaped(key) {
		return mobileauth.APIKeyHolder{}, notFound("AlgaPSA API key")
	}
	h, ok, err := d.lookups.find(ctx, sha256Hex(key))
	if err != nil {
		return mobileauth.APIKeyHolder{}, fmt.Errorf("AlgaPSA API key: %w", err)
	}
	if !ok {
		return mobileauth.APIKeyHolder{}, notFound("AlgaPSA API key")
	}
	return h, nil
}

// verifyKeys is keyLookups' query: the holders of the valid keys among
// hashes (SHA-256 hex), by hash.
func (d *DB) verifyKeys(ctx context.Context, hashes []string) (map[string]mobileauth.APIKeyHolder, error) {
	rows, err := d.pool.Query(ctx, `SELECT k.api_key, k.api_key_id::text, k.tenant::text, k.user_id::text, coalesce(u.email, ''),
       k.metadata->>'familyId', k.expires_at
  FROM api_keys k
  JOIN users u ON u.tenant = k.tenant AND u.user_id = k.user_id
  LEFT JOIN tenants t ON t.tenant = k.tenant
 WHERE k.api_key = ANY($1::text[]) AND `+ours+` AND k.active AND k.expires_at > now()
   AND NOT coalesce(u.is_inactive, false) AND u.user_type = 'internal' AND t.suspended_at IS NULL`, hashes)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]mobileauth.APIKeyHolder, len(hashes))
	for rows.Next() {
		var hash string
		var h mobileauth.APIKeyHolder
		if err := rows.Scan(&hash, &h.KeyID, &h.TenantID, &h.UserID, &h.Email, &h.FamilyID, &h.ExpiresAt); err != nil {
			return nil, err
		}
		out[hash] = h
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// isKeyShaped reports whether s could be a key this service minted.
func isKeyShaped(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// SweepResult is what SweepAPIKeys did.
type SweepResult struct {
	Deactivated int64 // expired keys marked inactive
	Deleted     int64 // inactive keys older than KeyRetention removed
}

// SweepAPIKeys is the housekeeping of SPEC §8.4, limited to keys this
// service created: expired ones are deactivated, and inactive ones created
// more than KeyRetention ago are deleted.
func (d *DB) SweepAPIKeys(ctx context.Context) (SweepResult, error) {
	var r SweepResult
	tag, err := d.pool.Exec(ctx, "UPDATE api_keys k SET active = false, updated_at = now() WHERE "+ours+
		" AND k.active AND k.expires_at <= now()")
	if err != nil {
		return r, fmt.Errorf("sweep AlgaPSA API keys: %w", err)
	}
	r.Deactivated = tag.RowsAffected()
	tag, err = d.pool.Exec(ctx, "DELETE FROM api_keys k WHERE "+ours+
		" AND NOT k.active AND k.created_at < now() - make_interval(secs => $1)", KeyRetention.Seconds())
	if err != nil {
		return r, fmt.Errorf("sweep AlgaPSA API keys: %w", err)
	}
	r.Deleted = tag.RowsAffected()
	return r, nil
}

// sha256Hex is how AlgaPSA stores API keys and refresh tokens.
func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
