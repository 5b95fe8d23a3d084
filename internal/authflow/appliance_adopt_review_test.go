package authflow_test

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// claimThen runs the real claim, then after() (which may replace its error).
type claimThen struct {
	algaVia
	after func(err error) error
}

func (c *claimThen) AdoptAlgaRefreshToken(ctx context.Context, h mobileauth.Hash) (mobileauth.AdoptedRefreshToken, error) {
	a, err := c.AlgaRefreshTokens.AdoptAlgaRefreshToken(ctx, h)
	if hook := c.after; hook != nil {
		c.after = nil
		err = hook(err)
	}
	return a, err
}

// REVIEW 1: the claim commits in AlgaPSA's database but its answer is lost
// (connection reset after COMMIT). Before the fix the family was abandoned
// and the phone's retry found AlgaPSA's row claimed and nothing here: 401.
// Now the family stays pending and the retry settles it (the row reads
// claimed by an adoption).
func TestReviewAdoptionClaimCommittedAnswerLost(t *testing.T) {
	f := newApplianceFixture(t)
	hook := &claimThen{}
	svc := f.replicaVia(hook)
	u := f.user()
	tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
	hook.after = func(err error) error {
		require.NoError(t, err, "the claim itself succeeded")
		return fmt.Errorf("AlgaPSA database: %w", syscall.ECONNRESET)
	}
	_, err := svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "198.51.100.8"})
	t.Logf("first presentation: code=%s err=%v", mobileauth.ErrorCode(err), err)
	require.Error(t, err)
	t.Logf("AlgaPSA row revoked_at=%v", f.psa.RefreshTokenRow(t, tok.ID).RevokedAt)
	_, gerr := f.store.GetRefreshToken(f.ctx, token.HashOf(tok.Token))
	t.Logf("own store has the token: %v", gerr == nil)
	r, err := svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "198.51.100.8"})
	t.Logf("retry: code=%s err=%v", mobileauth.ErrorCode(err), err)
	assert.NoError(t, err, "the phone's retry should keep the session (SPEC 8.5: taken over without signing anyone out)")
	_ = r
}

// REVIEW 2: the client goes away right after the claim committed (request
// context cancelled). Before the fix ConfirmAdoption ran with the cancelled
// context and failed; the family stayed pending with AlgaPSA's row claimed,
// retries got 503 for a minute, then the stale family was deleted and the
// phone got 401. Now the adoption is settled whatever the request's fate.
func TestReviewAdoptionClientGoneAfterClaim(t *testing.T) {
	f := newApplianceFixture(t)
	hook := &claimThen{}
	svc := f.replicaVia(hook)
	u := f.user()
	tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
	ctx, cancel := context.WithCancel(f.ctx)
	hook.after = func(err error) error { cancel(); return err } // client disconnects now
	_, err := svc.Refresh(ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "198.51.100.8"})
	t.Logf("first presentation: err=%v (context.Canceled: %v)", err, errors.Is(err, context.Canceled))
	fam := f.adoptedFamily(tok)
	t.Logf("family pending=%v revoked=%v; AlgaPSA row revoked_at=%v", fam.AdoptionPending, fam.RevokedAt, f.psa.RefreshTokenRow(t, tok.ID).RevokedAt)

	r, err := svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "198.51.100.8"})
	require.NoError(t, err, "the retry at once keeps the session")
	assert.False(t, f.adoptedFamily(tok).AdoptionPending, "the adoption was settled although the client went away")
	// (A replay of the adopted token past the grace period would be theft,
	// as for any rotated token; the phone goes on with the successor.)
	f.clock.Advance(2 * time.Minute)
	_, err = svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: r.RefreshToken, ClientIP: "198.51.100.8"})
	assert.NoError(t, err, "the phone should not be signed out")
}
