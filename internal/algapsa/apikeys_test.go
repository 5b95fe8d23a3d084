package algapsa_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa"
	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

const ttl = 900 * time.Second

var phone = mobileauth.Device{Platform: "ios", AppVersion: "1.2.3", BuildVersion: "45", DeviceID: "dev-1"}

// accepted asks the stub of AlgaPSA's API check about key.
func accepted(t *testing.T, sdb *algapsatest.DB, key, tenant string) bool {
	t.Helper()
	_, err := sdb.CheckAPIKey(context.Background(), key, tenant)
	return err == nil
}

func TestMintAPIKeyRow(t *testing.T) {
	sdb, db := standIn(t)
	ctx := context.Background()
	u := sdb.AddUser(t, algapsatest.User{Email: "ann@example.com"})

	k, err := db.MintAPIKey(ctx, u.TenantID, u.ID, "fam-1", phone, ttl)
	require.NoError(t, err)
	assert.Regexp(t, "^[0-9a-f]{64}$", k.Key)
	assert.Equal(t, u.TenantID, k.TenantID)
	assert.Equal(t, u.ID, k.UserID)
	assert.Equal(t, "fam-1", k.FamilyID)

	row := sdb.APIKeyRow(t, k.ID)
	assert.Equal(t, k.ID, row.ID)
	assert.Equal(t, algapsatest.SHA256Hex(k.Key), row.APIKey, "api_key is the SHA-256 hex of the key")
	assert.Equal(t, u.TenantID, row.TenantID)
	assert.Equal(t, u.ID, row.UserID)
	assert.Equal(t, ptr("Mobile session"), row.Description)
	assert.Equal(t, "mobile_session", row.Purpose)
	assert.Equal(t, map[string]any{"issuer": "alga-mobile-auth", "familyId": "fam-1",
		"device": map[string]any{"platform": "ios", "appVersion": "1.2.3", "buildVersion": "45", "deviceId": "dev-1"}}, row.Metadata)
	assert.Nil(t, row.UsageLimit)
	assert.Equal(t, int32(0), row.UsageCount)
	assert.True(t, row.Active)
	require.NotNil(t, row.ExpiresAt)
	assert.Equal(t, ttl, row.ExpiresAt.Sub(row.CreatedAt), "expires_at = now + the access lifetime")
	assert.True(t, k.ExpiresAt.Equal(*row.ExpiresAt))
	assert.Nil(t, row.LastUsedAt)
	assert.Equal(t, row.CreatedAt, row.UpdatedAt)
	assert.WithinDuration(t, sdb.Now(t), row.CreatedAt, time.Minute)

	t.Run("AlgaPSA's API accepts it in its tenant only", func(t *testing.T) {
		id, err := sdb.CheckAPIKey(ctx, k.Key, u.TenantID)
		require.NoError(t, err)
		assert.Equal(t, algapsatest.APIIdentity{KeyID: k.ID, TenantID: u.TenantID, UserID: u.ID}, id)
		assert.True(t, accepted(t, sdb, k.Key, ""), "without x-tenant-id AlgaPSA searches every tenant")
		assert.False(t, accepted(t, sdb, k.Key, sdb.AddTenant(t, nil)), "x-tenant-id of another tenant")
		assert.False(t, accepted(t, sdb, strings.ToUpper(k.Key), u.TenantID))
	})

	t.Run("without a device the metadata says null", func(t *testing.T) {
		k2, err := db.MintAPIKey(ctx, u.TenantID, u.ID, "fam-2", mobileauth.Device{}, ttl)
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"issuer": "alga-mobile-auth", "familyId": "fam-2", "device": nil}, sdb.APIKeyRow(t, k2.ID).Metadata)
	})

	t.Run("the key is the injected randomness in hex", func(t *testing.T) {
		seed := bytes.Repeat([]byte{0xab}, 32)
		db2, err := algapsa.Open(ctx, sdb.AppURL, algapsa.Options{Rand: bytes.NewReader(seed)})
		require.NoError(t, err)
		defer db2.Close()
		k3, err := db2.MintAPIKey(ctx, u.TenantID, u.ID, "fam-3", phone, ttl)
		require.NoError(t, err)
		assert.Equal(t, hex.EncodeToString(seed), k3.Key)
	})

	t.Run("a failing random source mints nothing", func(t *testing.T) {
		db2, err := algapsa.Open(ctx, sdb.AppURL, algapsa.Options{Rand: iotest.ErrReader(errors.New("entropy gone"))})
		require.NoError(t, err)
		defer db2.Close()
		_, err = db2.MintAPIKey(ctx, u.TenantID, u.ID, "fam-4", phone, ttl)
		require.Error(t, err)
		assert.Empty(t, sdb.APIKeyRows(t, "metadata->>'familyId' = 'fam-4'"))
	})
}

func TestMintDeactivatesThePreviousKey(t *testing.T) {
	sdb, db := standIn(t)
	ctx := context.Background()
	u := sdb.AddUser(t, algapsatest.User{Email: "ann@example.com"})
	other, err := db.MintAPIKey(ctx, u.TenantID, u.ID, "other-family", phone, ttl)
	require.NoError(t, err)

	first, err := db.MintAPIKey(ctx, u.TenantID, u.ID, "fam", phone, ttl)
	require.NoError(t, err)
	require.True(t, accepted(t, sdb, first.Key, u.TenantID))
	before := sdb.APIKeyRow(t, first.ID)

	second, err := db.MintAPIKey(ctx, u.TenantID, u.ID, "fam", phone, ttl)
	require.NoError(t, err)
	assert.NotEqual(t, first.Key, second.Key)
	assert.False(t, accepted(t, sdb, first.Key, u.TenantID), "refused after the next mint for the family")
	assert.True(t, accepted(t, sdb, second.Key, u.TenantID))
	assert.True(t, accepted(t, sdb, other.Key, u.TenantID), "another family's key is untouched")

	after := sdb.APIKeyRow(t, first.ID)
	assert.False(t, after.Active)
	assert.False(t, after.UpdatedAt.Before(before.UpdatedAt), "updated_at is now")
	after.Active, after.UpdatedAt, after.LastUsedAt = before.Active, before.UpdatedAt, before.LastUsedAt
	assert.Equal(t, before, after, "only active and updated_at change")
	assert.Len(t, sdb.APIKeyRows(t, "metadata->>'familyId' = 'fam' AND active"), 1)
}

func TestMintRefusesIneligibleOwners(t *testing.T) {
	sdb, db := standIn(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(t *testing.T, u algapsatest.User) (tenant, user string)
	}{
		{"inactive user", func(t *testing.T, u algapsatest.User) (string, string) {
			sdb.SetUserInactive(t, u.TenantID, u.ID, true)
			return u.TenantID, u.ID
		}},
		{"client user", func(t *testing.T, u algapsatest.User) (string, string) {
			sdb.SetUserType(t, u.TenantID, u.ID, "client")
			return u.TenantID, u.ID
		}},
		{"suspended tenant", func(t *testing.T, u algapsatest.User) (string, string) {
			sdb.SetSuspended(t, u.TenantID, true)
			return u.TenantID, u.ID
		}},
		{"unknown user", func(*testing.T, algapsatest.User) (string, string) { return uuid.NewString(), uuid.NewString() }},
		{"ids that are not uuids", func(*testing.T, algapsatest.User) (string, string) { return "t", "u" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := sdb.AddUser(t, algapsatest.User{Email: "x@example.com"})
			prev, err := db.MintAPIKey(ctx, u.TenantID, u.ID, "fam-"+tt.name, phone, ttl)
			require.NoError(t, err)
			tenant, user := tt.change(t, u)
			_, err = db.MintAPIKey(ctx, tenant, user, "fam-"+tt.name, phone, ttl)
			assert.ErrorIs(t, err, mobileauth.ErrNotFound)
			rows := sdb.APIKeyRows(t, "metadata->>'familyId' = $1", "fam-"+tt.name)
			require.Len(t, rows, 1, "no key minted")
			if tenant == u.TenantID {
				assert.False(t, sdb.APIKeyRow(t, prev.ID).Active, "the family's previous key is deactivated all the same")
			}
		})
	}
	t.Run("bad arguments", func(t *testing.T) {
		u := sdb.AddUser(t, algapsatest.User{Email: "y@example.com"})
		_, err := db.MintAPIKey(ctx, u.TenantID, u.ID, "", phone, ttl)
		assert.Error(t, err)
		_, err = db.MintAPIKey(ctx, u.TenantID, u.ID, "f", phone, 0)
		assert.Error(t, err)
	})
}

// foreignKeys seeds keys this service did not create for u: AlgaPSA's own
// mobile key (same purpose, no marker) and a general key, one expired and
// active, one inactive and old.
func foreignKeys(t *testing.T, sdb *algapsatest.DB, u algapsatest.User) []string {
	t.Helper()
	a, _ := sdb.AddAPIKey(t, algapsatest.APIKey{TenantID: u.TenantID, UserID: u.ID, Description: "Mobile session",
		Purpose: "mobile_session", Metadata: map[string]any{"device": nil}, TTL: time.Hour})
	b, _ := sdb.AddAPIKey(t, algapsatest.APIKey{TenantID: u.TenantID, UserID: u.ID, Description: "CI"})
	c, _ := sdb.AddAPIKey(t, algapsatest.APIKey{TenantID: u.TenantID, UserID: u.ID, Purpose: "mobile_session",
		Metadata: map[string]any{"familyId": "fam"}, TTL: -time.Hour})
	d, _ := sdb.AddAPIKey(t, algapsatest.APIKey{TenantID: u.TenantID, UserID: u.ID, Purpose: "mobile_session", Inactive: true,
		Metadata: map[string]any{"issuer": "someone-else", "familyId": "fam"}})
	sdb.Exec(t, "UPDATE api_keys SET created_at = now() - interval '30 days' WHERE api_key_id = $1", d)
	return []string{a, b, c, d}
}

func snapshot(t *testing.T, sdb *algapsatest.DB, ids []string) []algapsatest.APIKeyRow {
	var out []algapsatest.APIKeyRow
	for _, id := range ids {
		out = append(out, sdb.APIKeyRow(t, id))
	}
	return out
}

func TestRevokeFamilyKeys(t *testing.T) {
	sdb, db := standIn(t)
	ctx := context.Background()
	u := sdb.AddUser(t, algapsatest.User{Email: "ann@example.com"})
	foreign := foreignKeys(t, sdb, u)
	before := snapshot(t, sdb, foreign)
	k, err := db.MintAPIKey(ctx, u.TenantID, u.ID, "fam", phone, ttl)
	require.NoError(t, err)
	keep, err := db.MintAPIKey(ctx, u.TenantID, u.ID, "fam-2", phone, ttl)
	require.NoError(t, err)

	n, err := db.RevokeFamilyKeys(ctx, u.TenantID, u.ID, "fam")
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	assert.False(t, accepted(t, sdb, k.Key, u.TenantID), "refused after family deactivation")
	assert.True(t, accepted(t, sdb, keep.Key, u.TenantID))
	assert.Equal(t, before, snapshot(t, sdb, foreign), "keys this service did not create are untouched")

	n, err = db.RevokeFamilyKeys(ctx, u.TenantID, u.ID, "fam")
	require.NoError(t, err)
	assert.Equal(t, int64(0), n, "idempotent")
	n, err = db.RevokeFamilyKeys(ctx, "bad", u.ID, "fam")
	require.NoError(t, err)
	assert.Equal(t, int64(0), n)
}

func TestRevokeUserKeys(t *testing.T) {
	sdb, db := standIn(t)
	ctx := context.Background()
	u := sdb.AddUser(t, algapsatest.User{Email: "ann@example.com"})
	other := sdb.AddUser(t, algapsatest.User{TenantID: u.TenantID, Email: "bob@example.com"})
	foreign := foreignKeys(t, sdb, u)
	before := snapshot(t, sdb, foreign)
	k1, err := db.MintAPIKey(ctx, u.TenantID, u.ID, "fam-1", phone, ttl)
	require.NoError(t, err)
	k2, err := db.MintAPIKey(ctx, u.TenantID, u.ID, "fam-2", phone, ttl)
	require.NoError(t, err)
	ko, err := db.MintAPIKey(ctx, u.TenantID, other.ID, "fam-3", phone, ttl)
	require.NoError(t, err)

	sdb.SetUserInactive(t, u.TenantID, u.ID, true)
	assert.False(t, accepted(t, sdb, k1.Key, u.TenantID), "AlgaPSA refuses keys of an inactive user")
	n, err := db.RevokeUserKeys(ctx, u.TenantID, u.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
	sdb.SetUserInactive(t, u.TenantID, u.ID, false)
	assert.False(t, accepted(t, sdb, k1.Key, u.TenantID), "re-activating the user revives no key")
	assert.False(t, accepted(t, sdb, k2.Key, u.TenantID))
	assert.True(t, accepted(t, sdb, ko.Key, u.TenantID), "another user's key is untouched")
	assert.Equal(t, before, snapshot(t, sdb, foreign), "keys this service did not create are untouched")
}

func TestVerifyAPIKey(t *testing.T) {
	sdb, db := standIn(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T, u algapsatest.User, k mobileauth.MintedAPIKey) string // returns the key to present
		ok    bool
	}{
		{"valid key", func(_ *testing.T, _ algapsatest.User, k mobileauth.MintedAPIKey) string { return k.Key }, true},
		{"upper-case key", func(_ *testing.T, _ algapsatest.User, k mobileauth.MintedAPIKey) string {
			return strings.ToUpper(k.Key)
		}, false},
		{"not hex", func(*testing.T, algapsatest.User, mobileauth.MintedAPIKey) string { return strings.Repeat("z", 64) }, false},
		{"a JWT", func(*testing.T, algapsatest.User, mobileauth.MintedAPIKey) string {
			return "eyJhbGciOiJFZERTQSJ9.e30.sig"
		}, false},
		{"empty", func(*testing.T, algapsatest.User, mobileauth.MintedAPIKey) string { return "" }, false},
		{"unknown key", func(*testing.T, algapsatest.User, mobileauth.MintedAPIKey) string { return strings.Repeat("a", 64) }, false},
		{"AlgaPSA's own mobile key", func(t *testing.T, u algapsatest.User, _ mobileauth.MintedAPIKey) string {
			_, key := sdb.AddAPIKey(t, algapsatest.APIKey{TenantID: u.TenantID, UserID: u.ID, Purpose: "mobile_session", TTL: time.Hour})
			return key
		}, false},
		{"deactivated", func(t *testing.T, u algapsatest.User, k mobileauth.MintedAPIKey) string {
			_, err := db.RevokeFamilyKeys(ctx, u.TenantID, u.ID, k.FamilyID)
			require.NoError(t, err)
			return k.Key
		}, false},
		{"expired", func(t *testing.T, _ algapsatest.User, k mobileauth.MintedAPIKey) string {
			sdb.Exec(t, "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE api_key_id = $1", k.ID)
			return k.Key
		}, false},
		{"owner inactive", func(t *testing.T, u algapsatest.User, k mobileauth.MintedAPIKey) string {
			sdb.SetUserInactive(t, u.TenantID, u.ID, true)
			return k.Key
		}, false},
		{"owner became a client", func(t *testing.T, u algapsatest.User, k mobileauth.MintedAPIKey) string {
			sdb.SetUserType(t, u.TenantID, u.ID, "client")
			return k.Key
		}, false},
		{"tenant suspended", func(t *testing.T, u algapsatest.User, k mobileauth.MintedAPIKey) string {
			sdb.SetSuspended(t, u.TenantID, true)
			return k.Key
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := sdb.AddUser(t, algapsatest.User{Email: "ann@example.com"})
			k, err := db.MintAPIKey(ctx, u.TenantID, u.ID, "fam-"+uuid.NewString()[:8], phone, ttl)
			require.NoError(t, err)
			key := tt.setup(t, u, k)
			before := sdb.APIKeyRows(t, "tenant = $1", u.TenantID)
			h, err := db.VerifyAPIKey(ctx, key)
			assert.Equal(t, before, sdb.APIKeyRows(t, "tenant = $1", u.TenantID), "verify writes nothing")
			if !tt.ok {
				assert.ErrorIs(t, err, mobileauth.ErrNotFound)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, mobileauth.APIKeyHolder{KeyID: k.ID, TenantID: u.TenantID, UserID: u.ID, Email: "ann@example.com",
				FamilyID: k.FamilyID, ExpiresAt: k.ExpiresAt}, h)
		})
	}
}

func TestSweepAPIKeys(t *testing.T) {
	sdb, db := standIn(t)
	ctx := context.Background()
	u := sdb.AddUser(t, algapsatest.User{Email: "ann@example.com"})
	foreign := foreignKeys(t, sdb, u)
	before := snapshot(t, sdb, foreign)
	mint := func(fam string) mobileauth.MintedAPIKey {
		k, err := db.MintAPIKey(ctx, u.TenantID, u.ID, fam, phone, ttl)
		require.NoError(t, err)
		return k
	}
	live := mint("live")
	expired := mint("expired")
	sdb.Exec(t, "UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE api_key_id = $1", expired.ID)
	old := mint("old")
	sdb.Exec(t, "UPDATE api_keys SET active = false, created_at = now() - interval '8 days' WHERE api_key_id = $1", old.ID)
	recent := mint("recent")
	sdb.Exec(t, "UPDATE api_keys SET active = false, created_at = now() - interval '6 days' WHERE api_key_id = $1", recent.ID)
	oldExpired := mint("old-expired")
	sdb.Exec(t, "UPDATE api_keys SET expires_at = now() - interval '8 days', created_at = now() - interval '8 days' WHERE api_key_id = $1", oldExpired.ID)

	r, err := db.SweepAPIKeys(ctx)
	require.NoError(t, err)
	assert.Equal(t, algapsa.SweepResult{Deactivated: 2, Deleted: 2}, r)
	assert.True(t, sdb.APIKeyRow(t, live.ID).Active)
	assert.False(t, sdb.APIKeyRow(t, expired.ID).Active)
	assert.False(t, sdb.APIKeyRow(t, recent.ID).Active)
	assert.Empty(t, sdb.APIKeyRows(t, "api_key_id = ANY($1::uuid[])", []string{old.ID, oldExpired.ID}))
	assert.Equal(t, before, snapshot(t, sdb, foreign), "keys this service did not create are never touched")

	r, err = db.SweepAPIKeys(ctx)
	require.NoError(t, err)
	assert.Equal(t, algapsa.SweepResult{}, r)
}

// Many verifications at once share queries; each still gets its own key's
// answer, and a key deactivated before the calls is refused by all of them.
func TestVerifyAPIKeyConcurrently(t *testing.T) {
	sdb, db := standIn(t)
	ctx := context.Background()
	var valid, revoked []mobileauth.MintedAPIKey
	for i := range 8 {
		u := sdb.AddUser(t, algapsatest.User{Email: fmt.Sprintf("u%d@example.com", i)})
		k, err := db.MintAPIKey(ctx, u.TenantID, u.ID, "fam-"+uuid.NewString()[:8], phone, ttl)
		require.NoError(t, err)
		if i%2 == 0 {
			valid = append(valid, k)
			continue
		}
		_, err = db.RevokeFamilyKeys(ctx, u.TenantID, u.ID, k.FamilyID)
		require.NoError(t, err)
		revoked = append(revoked, k)
	}
	var wg sync.WaitGroup
	for i := range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				k := valid[i/2%len(valid)]
				h, err := db.VerifyAPIKey(ctx, k.Key)
				if assert.NoError(t, err) {
					assert.Equal(t, k.ID, h.KeyID)
					assert.Equal(t, k.UserID, h.UserID)
					assert.Equal(t, k.FamilyID, h.FamilyID)
				}
				return
			}
			_, err := db.VerifyAPIKey(ctx, revoked[i/2%len(revoked)].Key)
			assert.ErrorIs(t, err, mobileauth.ErrNotFound)
		}()
	}
	wg.Wait()
}
