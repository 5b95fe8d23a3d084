package authflow_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// claimGate blocks the first AdoptAlgaRefreshToken until released.
type claimGate struct {
	algaVia
	entered, release chan struct{}
	used             bool
}

func (c *claimGate) AdoptAlgaRefreshToken(ctx context.Context, h mobileauth.Hash) (mobileauth.AdoptedRefreshToken, error) {
	if !c.used {
		c.used = true
		close(c.entered)
		<-c.release
	}
	return c.AlgaRefreshTokens.AdoptAlgaRefreshToken(ctx, h)
}

// TestApplianceAdoptionLateSettlerGetsNoSuccessor: a presentation that met
// the family pending but finishes after another presentation confirmed it,
// the phone used the successor and the grace period passed, gets no 200 and
// mints no key (which would deactivate the phone's current one).
func TestApplianceAdoptionLateSettlerGetsNoSuccessor(t *testing.T) {
	f := newApplianceFixture(t)
	gate := &claimGate{entered: make(chan struct{}), release: make(chan struct{})}
	slow := f.replicaVia(gate)
	u := f.user()
	tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)

	type out struct {
		r   authflow.RefreshResult
		err error
	}
	done := make(chan out, 1)
	go func() { // P1: the creator, whose claim is slow (AlgaPSA pool busy)
		r, err := slow.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "198.51.100.8"})
		done <- out{r, err}
	}()
	<-gate.entered // family created (pending), claim not yet run

	// P2: the phone's retry on the other replica settles the family.
	r2, err := f.svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "198.51.100.8"})
	require.NoError(t, err)
	// The phone goes on with the successor.
	f.clock.Advance(15 * time.Second)
	r3, err := f.refresh(r2.RefreshToken)
	require.NoError(t, err)
	require.NoError(t, f.accepted(r3.AccessToken, u.TenantID), "the phone's current key works")

	close(gate.release) // P1 finishes, past the grace period and after the successor was used
	p1 := <-done
	t.Logf("late creator: err=%v code=%s successor-returned=%v", p1.err, mobileauth.ErrorCode(p1.err), p1.r.RefreshToken == r2.RefreshToken)
	assert.Error(t, p1.err, "SPEC 3.5: after the grace period / after the successor was used, no 200")
	assert.NoError(t, f.accepted(r3.AccessToken, u.TenantID), "the phone's current key must not be deactivated by a stale presentation")
}

// TestApplianceAdoptionSettlesRowRevokedWithoutLastUsed: a family left pending by a claim outage, whose AlgaPSA row is
// then revoked by AlgaPSA without last_used_at (a bulk revoke, e.g. of a
// deactivated user's tokens; the row was never used, so last_used_at is
// NULL) settles as not ours: 401, not a 500 on every presentation (the
// claim test's expression was NULL, which does not scan into a bool).
func TestApplianceAdoptionSettlesRowRevokedWithoutLastUsed(t *testing.T) {
	f := newApplianceFixture(t)
	hook := &algaHook{}
	svc := f.replicaVia(hook)
	u := f.user()
	tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
	hook.before = func(mobileauth.Hash) error { return errors.New("AlgaPSA database: connection refused") }
	_, err := svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "198.51.100.8"})
	require.Error(t, err)
	require.True(t, f.adoptedFamily(tok).AdoptionPending)
	f.psa.Exec(t, `UPDATE mobile_refresh_tokens SET revoked_at = now() WHERE mobile_refresh_token_id = $1`, tok.ID)
	for i := 0; i < 3; i++ {
		_, err = svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "198.51.100.8"})
		t.Logf("presentation %d: code=%s err=%v", i, mobileauth.ErrorCode(err), err)
	}
	assertCode(t, err, mobileauth.CodeUnauthorized)
	assert.False(t, f.adoptedFamily(tok).AdoptionPending && f.adoptedFamily(tok).RevokedAt == nil, "settled one way or the other")
}

// lookupHook runs first() after the first GetRefreshToken, and fails the
// second with a transient own-store error.
type lookupHook struct {
	mobileauth.RefreshStore
	calls int
	first func()
}

func (l *lookupHook) GetRefreshToken(ctx context.Context, h mobileauth.Hash) (mobileauth.RefreshToken, error) {
	l.calls++
	switch l.calls {
	case 1:
		rt, err := l.RefreshStore.GetRefreshToken(ctx, h)
		l.first()
		return rt, err
	case 2:
		return mobileauth.RefreshToken{}, errors.New("own store: FATAL: sorry, too many clients already (SQLSTATE 53300)")
	}
	return l.RefreshStore.GetRefreshToken(ctx, h)
}

// TestApplianceAdoptionRelookupErrorIsRetryable: a presentation that missed
// the token here, then finds AlgaPSA's row claimed by a concurrent
// adoption, looks here again; a transient own-store error on that second
// look is a retryable error, not a 401 that signs the phone out.
func TestApplianceAdoptionRelookupErrorIsRetryable(t *testing.T) {
	f := newApplianceFixture(t)
	u := f.user()
	tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
	hook := &lookupHook{}
	hook.first = func() { // meanwhile another replica adopts the token
		_, err := f.refresh(tok.Token)
		require.NoError(t, err)
	}
	svc, _, _, _ := f.replicaWith(func(r mobileauth.RefreshStore) mobileauth.RefreshStore { hook.RefreshStore = r; return hook })
	_, err := svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "198.51.100.8"})
	t.Logf("code=%s err=%v", mobileauth.ErrorCode(err), err)
	require.Error(t, err)
	assert.NotEqual(t, mobileauth.CodeUnauthorized, mobileauth.ErrorCode(err), "a store outage must not sign the phone out")
}

// TestApplianceAdoptionPendingWhilePlanLapsed: a family left pending (claim
// outage) presented again while the tenant's plan has lapsed stays pending
// (403, nothing settled), so when the plan is back the phone's retry is
// adopted, as a live token keeps its session (the gate is checked before
// rotating); settling first would start the grace period and make the
// retry a minute later look like theft.
func TestApplianceAdoptionPendingWhilePlanLapsed(t *testing.T) {
	f := newApplianceFixture(t)
	hook := &algaHook{}
	svc := f.replicaVia(hook)
	u := f.user()
	tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
	hook.before = func(mobileauth.Hash) error { return errors.New("AlgaPSA database: connection refused") }
	_, err := svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "198.51.100.8"})
	require.Error(t, err)
	essentials := "essentials"
	f.psa.SetPlan(t, u.TenantID, &essentials)
	_, err = svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "198.51.100.8"})
	t.Logf("while the plan is lapsed: code=%s err=%v pending=%v", mobileauth.ErrorCode(err), err, f.adoptedFamily(tok).AdoptionPending)
	assertCode(t, err, mobileauth.CodeForbidden)
	assert.True(t, f.adoptedFamily(tok).AdoptionPending, "nothing settled while the refresh cannot be answered")
	f.psa.SetPlan(t, u.TenantID, nil)
	f.clock.Advance(time.Minute)
	_, err = svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "198.51.100.8"})
	t.Logf("plan back: code=%s err=%v", mobileauth.ErrorCode(err), err)
	assert.NoError(t, err, "the plan came back: the session should be kept, as for a live token")
}

// TestApplianceAdoptionLateSettlerCannotRejectAConfirmedFamily: a
// presentation whose claim runs late, after another presentation confirmed
// the family and AlgaPSA cleaned its row up, reads the row as not claimed;
// it must not revoke the family the phone now holds (review finding 5).
func TestApplianceAdoptionLateSettlerCannotRejectAConfirmedFamily(t *testing.T) {
	f := newApplianceFixture(t)
	gate := &claimGate{entered: make(chan struct{}), release: make(chan struct{})}
	slow := f.replicaVia(gate)
	u := f.user()
	tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)

	done := make(chan error, 1)
	go func() { // P1: creates the family, then its claim stalls
		_, err := slow.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "198.51.100.8"})
		done <- err
	}()
	<-gate.entered
	// P2: the phone's retry on the other replica claims and confirms.
	r2, err := f.svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "198.51.100.8"})
	require.NoError(t, err)
	require.False(t, f.adoptedFamily(tok).AdoptionPending, "confirmed by P2")
	// AlgaPSA removes its (revoked) row before P1's claim runs.
	f.psa.Exec(t, `DELETE FROM mobile_refresh_tokens WHERE mobile_refresh_token_id = $1`, tok.ID)

	close(gate.release)
	p1err := <-done
	t.Logf("late settler: code=%s err=%v", mobileauth.ErrorCode(p1err), p1err)
	assert.Nil(t, f.adoptedFamily(tok).RevokedAt, "a late settler must not revoke a family another presentation confirmed")
	f.clock.Advance(15 * time.Second)
	r3, err := f.refresh(r2.RefreshToken)
	require.NoError(t, err, "the phone's successor still refreshes")
	assert.NoError(t, f.accepted(r3.AccessToken, u.TenantID))
}
