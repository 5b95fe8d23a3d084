package authflow_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// revocationFreshness is the view's freshness period in these tests.
const revocationFreshness = time.Second

// familyWithAccess creates a token family for alice in the store directly
// (as another replica would) and signs an access token for it now.
func (f *fixture) familyWithAccess(id string) string {
	f.t.Helper()
	now := f.clock.Now()
	fam := mobileauth.TokenFamily{ID: id, TenantID: alice.TenantID, UserID: alice.ID,
		SessionHash: token.HashOf("sid-" + id), CreatedAt: now}
	first := mobileauth.RefreshToken{Hash: token.HashOf("rt-" + id), CreatedAt: now, ExpiresAt: now.Add(refreshTTL)}
	require.NoError(f.t, f.store.CreateFamily(f.ctx, fam, first))
	access, _, err := f.issuer.Issue(token.AccessClaims{Subject: alice.ID, TenantID: alice.TenantID, FamilyID: id, Email: alice.Email})
	require.NoError(f.t, err)
	return access
}

// verifyRefused counts the access tokens that Verify refuses as revoked.
func (f *fixture) verifyRefused(access []string) int {
	f.t.Helper()
	n := 0
	for _, a := range access {
		if _, err := f.svc.Verify(f.ctx, a); err != nil {
			assertError(f.t, err, mobileauth.CodeUnauthorized, msgInvalidToken)
			n++
		}
	}
	return n
}

// A replica must keep every revocation until the access tokens it covers
// have expired, however many there are: the view prunes only past 1,024
// entries, so a pruning bug shows only with more.
func TestRevocationViewForgetsNoLiveRevocationPast1024(t *testing.T) {
	const families = 1100
	f := newFixture(t, withSettings(func(s *authflow.Settings) { s.RevocationFreshness = revocationFreshness }))
	f.addUsers(alice)
	access := make([]string, families)
	for i := range access {
		access[i] = f.familyWithAccess(fmt.Sprintf("fam-%04d", i))
	}
	require.Zero(t, f.verifyRefused(access), "nothing is revoked yet")

	// Another replica revokes them all (straight in the store); this one
	// learns of them at its next sync.
	for i := range access {
		require.NoError(t, f.store.RevokeFamily(f.ctx, fmt.Sprintf("fam-%04d", i), f.clock.Now()))
	}
	f.clock.Advance(revocationFreshness)
	require.Equal(t, families, f.verifyRefused(access), "every revocation is seen after one freshness period")

	// Long after the sync's overlap window, and until the last of the
	// tokens has expired, nothing may be forgotten (each sync prunes).
	revokedAt := f.clock.Now().Add(-revocationFreshness)
	for _, d := range []time.Duration{2 * time.Minute, 5 * time.Minute, accessTTL - time.Minute, accessTTL + token.Leeway - time.Second} {
		f.clock.Advance(revokedAt.Add(d).Sub(f.clock.Now()))
		assert.Equal(t, families, f.verifyRefused(access), "%s after the revocation", d)
	}
}

// A revocation stamped before this replica's last sync began (its
// transaction committed late, or the revoking replica's clock runs behind)
// must still reach it within the freshness period: each sync re-reads an
// overlap window before its own start.
func TestRevocationViewSeesLateAndClockBehindRevocations(t *testing.T) {
	cases := []struct {
		name          string
		stampedBefore time.Duration // how far before "now" the revoking replica stamps it
	}{
		{"committed late", 500 * time.Millisecond},
		{"stamped by a clock 10 s behind", 10 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, withSettings(func(s *authflow.Settings) { s.RevocationFreshness = revocationFreshness }))
			f.addUsers(alice)
			access := f.familyWithAccess("fam-late")
			_, err := f.svc.Verify(f.ctx, access)
			require.NoError(t, err, "accepted before the revocation; the view has synced")

			f.clock.Advance(100 * time.Millisecond)
			require.NoError(t, f.store.RevokeFamily(f.ctx, "fam-late", f.clock.Now().Add(-tc.stampedBefore)))
			f.clock.Advance(revocationFreshness)
			_, err = f.svc.Verify(f.ctx, access)
			assertError(t, err, mobileauth.CodeUnauthorized, msgInvalidToken)
		})
	}
}

// Rotation must refuse a token whose family is revoked even when the
// token's own row is not (a successor inserted while another replica
// revoked the family can miss the token-level stamp): no successor, 401.
func TestRefreshRefusesATokenWhoseFamilyAloneIsRevoked(t *testing.T) {
	f := newFixture(t)
	f.addUsers(alice)
	s := f.session(alice.Email)
	fam := f.familyOf(s.AccessToken)
	_, err := f.store.DB().ExecContext(f.ctx, "UPDATE token_families SET revoked_at = created_at WHERE id = ?", fam)
	require.NoError(t, err)
	require.Zero(t, f.count("SELECT COUNT(*) FROM refresh_tokens WHERE family_id = ? AND revoked_at IS NOT NULL", fam),
		"the token rows are not revoked")

	assertError(t, f.refreshErr(s.RefreshToken), mobileauth.CodeUnauthorized, msgInvalidToken)
	assert.Equal(t, 1, f.count("SELECT COUNT(*) FROM refresh_tokens WHERE family_id = ?", fam), "no successor")
}
