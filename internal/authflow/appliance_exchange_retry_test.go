package authflow_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// resetOnceGetFamily fails the first GetFamily (the exchange's re-check
// after the mint) with a connection reset, as a blip of the own store would.
type resetOnceGetFamily struct {
	mobileauth.RefreshStore
	failed atomic.Bool
}

func (s *resetOnceGetFamily) GetFamily(ctx context.Context, id string) (mobileauth.TokenFamily, error) {
	if s.failed.CompareAndSwap(false, true) {
		return mobileauth.TokenFamily{}, fmt.Errorf("store: %w", syscall.ECONNRESET)
	}
	return s.RefreshStore.GetFamily(ctx, id)
}

// TestApplianceExchangeRetryAfterMintLeavesOneKey: an exchange that fails
// with a 503 after it minted a key gives the OTT back (the phone retries),
// and ends the family and key it made, so that after the retry the user
// has exactly one active key: the one handed out.
func TestApplianceExchangeRetryAfterMintLeavesOneKey(t *testing.T) {
	f := newApplianceFixture(t)
	w := &resetOnceGetFamily{}
	svc, _, _, _ := f.replicaWrapped(wrappers{refresh: func(st mobileauth.RefreshStore) mobileauth.RefreshStore {
		w.RefreshStore = st
		return w
	}})
	u := f.user()
	c, _ := f.webSignIn(u)
	ott := f.ott(c)

	_, err := svc.Exchange(f.ctx, exchangeReq(ott, "st", "198.51.100.7"))
	require.Error(t, err)
	assert.True(t, mobileauth.Unavailable(err), "a 503: %v", err)

	res, err := svc.Exchange(f.ctx, exchangeReq(ott, "st", "198.51.100.7"))
	require.NoError(t, err, "the retry finds the OTT")
	rows := f.psa.APIKeyRows(t, "user_id = $1 AND metadata->>'issuer' = $2 AND active", u.ID, algapsa.KeyIssuer)
	require.Len(t, rows, 1, "only the key handed out is active")
	require.NoError(t, f.accepted(res.AccessToken, res.TenantID))
	var live int
	require.NoError(t, f.store.DB().QueryRowContext(f.ctx,
		"SELECT COUNT(*) FROM token_families WHERE user_id = $1 AND revoked_at IS NULL", u.ID).Scan(&live))
	assert.Equal(t, 1, live, "one live family")
}
