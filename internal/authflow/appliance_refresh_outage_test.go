package authflow_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// storeGoesAwayAfterRotation is a refresh store that becomes unreachable
// right after a rotation commits: the next GetFamily (the re-check after
// the new access token) fails with a connection reset, as when PostgreSQL
// stops in the middle of a refresh.
type storeGoesAwayAfterRotation struct {
	mobileauth.RefreshStore
	rotated, failed atomic.Bool
}

func (s *storeGoesAwayAfterRotation) RotateRefreshToken(ctx context.Context, presented, successor mobileauth.Hash, expires, now time.Time) (mobileauth.RotateResult, error) {
	res, err := s.RefreshStore.RotateRefreshToken(ctx, presented, successor, expires, now)
	s.rotated.Store(err == nil)
	return res, err
}

func (s *storeGoesAwayAfterRotation) GetFamily(ctx context.Context, id string) (mobileauth.TokenFamily, error) {
	if s.rotated.Load() && s.failed.CompareAndSwap(false, true) {
		return mobileauth.TokenFamily{}, fmt.Errorf("store: %w", syscall.ECONNRESET)
	}
	return s.RefreshStore.GetFamily(ctx, id)
}

// TestRefreshCommittedBeforeAnOutageIsAnswered: once the rotation has
// committed, the store going away must not turn the answer into a 503:
// the phone would keep the rotated token, and its retry after the outage
// (longer than the grace period) would read as theft and sign it out.
func TestRefreshCommittedBeforeAnOutageIsAnswered(t *testing.T) {
	eachLicensing(t, func(t *testing.T, f *applianceFixture) {
		w := &storeGoesAwayAfterRotation{}
		svc, _, _, _ := f.replicaWrapped(wrappers{refresh: func(st mobileauth.RefreshStore) mobileauth.RefreshStore {
			w.RefreshStore = st
			return w
		}})
		u := f.user()
		c, _ := f.webSignIn(u)
		first, err := f.exchange(f.ott(c))
		require.NoError(t, err)

		res, err := svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: first.RefreshToken, ClientIP: "198.51.100.9"})
		require.NoError(t, err, "the rotation committed: answer it")
		assert.True(t, w.failed.Load(), "the re-check met the outage")
		require.NoError(t, f.accepted(res.AccessToken, u.TenantID))

		f.clock.Advance(time.Minute) // the outage outlasts the grace period
		next, err := f.refresh(res.RefreshToken)
		require.NoError(t, err, "the phone's token still refreshes")
		require.NoError(t, f.accepted(next.AccessToken, u.TenantID))
	})
}

// TestRefreshWhoseMintFailsLeavesTheTokenLive: the key mint is AlgaPSA's
// database, which can be down while this service's store is up (or go down
// between the two). A refresh whose mint fails must not have rotated the
// token, or the phone, answered 503, would hold a rotated token whose retry
// after an outage longer than the grace period reads as theft and signs it
// out (the reliability outage/algapsa scenario found this).
func TestRefreshWhoseMintFailsLeavesTheTokenLive(t *testing.T) {
	eachLicensing(t, func(t *testing.T, f *applianceFixture) {
		mint := &failingMint{}
		svc, _, _, _ := f.replicaWrapped(wrappers{
			access: func(a authflow.AccessCredentials) authflow.AccessCredentials { mint.AccessCredentials = a; return mint },
		})
		u := f.user()
		c, _ := f.webSignIn(u)
		first, err := f.exchange(f.ott(c))
		require.NoError(t, err)
		fam := f.familyOf(first.AccessToken)

		mint.fail = 1
		_, err = svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: first.RefreshToken, ClientIP: "198.51.100.9"})
		require.Error(t, err, "the mint failed")
		assert.Equal(t, 0, mint.fail, "the mint was tried")
		rt, err := f.store.GetRefreshToken(f.ctx, token.HashOf(first.RefreshToken))
		require.NoError(t, err)
		assert.Nil(t, rt.RotatedAt, "nothing rotated: the phone's token is still its current one")

		f.clock.Advance(time.Minute) // AlgaPSA's outage outlasts the grace period
		next, err := svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: first.RefreshToken, ClientIP: "198.51.100.9"})
		require.NoError(t, err, "the phone's retry after the outage")
		require.NoError(t, f.accepted(next.AccessToken, u.TenantID))
		assert.Equal(t, 1, f.activeKeys(fam), "the family keeps one active key")
		assert.Empty(t, f.reuseAudits(fam), "no theft detected")
		_, err = f.refresh(next.RefreshToken)
		require.NoError(t, err, "the successor works")
	})
}
