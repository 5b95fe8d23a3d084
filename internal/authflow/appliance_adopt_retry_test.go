package authflow_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// algaHook runs before, once, in place of the next claim of an
// AlgaPSA-issued token: what it does lands between the adoption's read and
// its claim; an error it returns is the claim's.
type algaHook struct {
	algaVia
	before func(h mobileauth.Hash) error
}

func (a *algaHook) AdoptAlgaRefreshToken(ctx context.Context, h mobileauth.Hash) (mobileauth.AdoptedRefreshToken, error) {
	if hook := a.before; hook != nil {
		a.before = nil
		if err := hook(h); err != nil {
			return mobileauth.AdoptedRefreshToken{}, err
		}
	}
	return a.AlgaRefreshTokens.AdoptAlgaRefreshToken(ctx, h)
}

// failingMint fails the next fail mints, as an api_keys outage would.
type failingMint struct {
	authflow.AccessCredentials
	fail int
}

func (m *failingMint) Issue(ctx context.Context, u mobileauth.User, familyID string, dev mobileauth.Device) (authflow.AccessToken, error) {
	if m.fail > 0 {
		m.fail--
		return authflow.AccessToken{}, errors.New("api_keys: connection reset by peer")
	}
	return m.AccessCredentials.Issue(ctx, u, familyID, dev)
}

// AppliesOwnerRule: the wrapped credentials are API keys, which do.
func (*failingMint) AppliesOwnerRule() {}

// adoptedFamily is the family that adopted tok here.
func (f *applianceFixture) adoptedFamily(tok algapsatest.AlgaToken) mobileauth.TokenFamily {
	f.t.Helper()
	rt, err := f.store.GetRefreshToken(f.ctx, token.HashOf(tok.Token))
	require.NoError(f.t, err, "the adopted token is recorded here")
	fam, err := f.store.GetFamily(f.ctx, rt.FamilyID)
	require.NoError(f.t, err)
	return fam
}

// reuseAudits are the theft-detection audit events of family.
func (f *applianceFixture) reuseAudits(family string) []mobileauth.AuditEvent {
	f.t.Helper()
	all, err := f.store.ListAudit(f.ctx, mobileauth.AuditFilter{Limit: 1000})
	require.NoError(f.t, err)
	var out []mobileauth.AuditEvent
	for _, e := range all {
		if e.Operation == mobileauth.AuditRefreshReuse && e.RecordID == family {
			out = append(out, e)
		}
	}
	return out
}

// TestApplianceAdoptionRetry: an adopted AlgaPSA-issued token follows
// §3.5's rules like any rotated token (SPEC §8.5): a retry inside the grace
// period gets the same successor and a fresh key (the family keeping one
// active key), a replay after it, or after the successor was used, is theft.
func TestApplianceAdoptionRetry(t *testing.T) {
	eachLicensing(t, func(t *testing.T, f *applianceFixture) {

		t.Run("retries inside the grace period get the same successor, one key stays active", func(t *testing.T) {
			u := f.user()
			tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
			first, err := f.refresh(tok.Token)
			require.NoError(t, err)
			fam := f.adoptedFamily(tok).ID
			keys := []string{first.AccessToken}
			for range 3 {
				f.clock.Advance(grace / 4)
				r, err := f.refresh(tok.Token)
				require.NoError(t, err)
				assert.Equal(t, first.RefreshToken, r.RefreshToken)
				keys = append(keys, r.AccessToken)
			}
			assert.Len(t, f.keyRows(fam), 4, "one key per answer")
			assert.Equal(t, 1, f.activeKeys(fam), "one active key per family (SPEC §8.4)")
			for i, k := range keys {
				if i == len(keys)-1 {
					assert.NoError(t, f.accepted(k, u.TenantID), "the last key works")
				} else {
					assert.Error(t, f.accepted(k, u.TenantID), "key %d was deactivated by the next", i)
				}
			}
			assert.Empty(t, f.reuseAudits(fam))
			next, err := f.refresh(first.RefreshToken)
			require.NoError(t, err)
			require.NoError(t, f.accepted(next.AccessToken, u.TenantID))
		})
		t.Run("a retry after the grace period is theft", func(t *testing.T) {
			u := f.user()
			tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
			first, err := f.refresh(tok.Token)
			require.NoError(t, err)
			fam := f.adoptedFamily(tok).ID
			f.clock.Advance(grace + time.Second)
			_, err = f.refresh(tok.Token)
			assertCode(t, err, mobileauth.CodeUnauthorized)
			assert.NotNil(t, f.adoptedFamily(tok).RevokedAt, "the family is revoked")
			assert.Zero(t, f.activeKeys(fam))
			assert.Error(t, f.accepted(first.AccessToken, u.TenantID))
			_, err = f.refresh(first.RefreshToken)
			assertCode(t, err, mobileauth.CodeUnauthorized)
			audits := f.reuseAudits(fam)
			require.Len(t, audits, 1)
			assert.Equal(t, "after_grace", audits[0].Details["reason"])
			assert.Equal(t, 1, f.events.count("refresh_reuse_detected/after_grace"))
		})
		t.Run("a retry after the successor was used is theft", func(t *testing.T) {
			u := f.user()
			tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
			first, err := f.refresh(tok.Token)
			require.NoError(t, err)
			fam := f.adoptedFamily(tok).ID
			next, err := f.refresh(first.RefreshToken)
			require.NoError(t, err)
			_, err = f.refresh(tok.Token)
			assertCode(t, err, mobileauth.CodeUnauthorized)
			assert.NotNil(t, f.adoptedFamily(tok).RevokedAt)
			assert.Zero(t, f.activeKeys(fam))
			assert.Error(t, f.accepted(next.AccessToken, u.TenantID))
			_, err = f.refresh(next.RefreshToken)
			assertCode(t, err, mobileauth.CodeUnauthorized)
			audits := f.reuseAudits(fam)
			require.Len(t, audits, 1)
			assert.Equal(t, "successor_used", audits[0].Details["reason"])
		})
	})
}
