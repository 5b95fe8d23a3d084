package authflow_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa"
	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// algaHook runs before, once, in place of the next claim of an
// AlgaPSA-issued token: what it does lands between the adoption's read and
// its claim; an error it returns is the claim's.
type algaHook struct {
	authflow.AlgaRefreshTokens
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
	f := newApplianceFixture(t)

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
}

// TestApplianceAdoptionFailures: what a failure at each step of an adoption
// leaves behind. A mint failing after the claim leaves the phone its retry;
// AlgaPSA taking its token back between the read and the claim leaves no
// live family here; a claim whose fate is unknown (outage) leaves nothing
// here, so the retry adopts; a family its creator left pending is waited
// for (503, retry) and, once stale, abandoned and adopted again.
func TestApplianceAdoptionFailures(t *testing.T) {
	f := newApplianceFixture(t)
	hook := &algaHook{}
	mint := &failingMint{}
	svc, _, _, _ := f.replicaWrapped(wrappers{
		alga:   func(a authflow.AlgaRefreshTokens) authflow.AlgaRefreshTokens { hook.AlgaRefreshTokens = a; return hook },
		access: func(a authflow.AccessCredentials) authflow.AccessCredentials { mint.AccessCredentials = a; return mint },
	})
	refresh := func(rt string) (authflow.RefreshResult, error) {
		return svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: rt, ClientIP: "198.51.100.8"})
	}

	t.Run("mint failing after the claim: the retry gets the successor", func(t *testing.T) {
		u := f.user()
		tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
		mint.fail = 1
		_, err := refresh(tok.Token)
		assertCode(t, err, mobileauth.CodeInternal)
		assert.NotNil(t, f.psa.RefreshTokenRow(t, tok.ID).RevokedAt, "AlgaPSA's row was claimed")
		fam := f.adoptedFamily(tok)
		assert.False(t, fam.AdoptionPending, "the adoption was confirmed before the mint")
		assert.Nil(t, fam.RevokedAt)

		r, err := refresh(tok.Token)
		require.NoError(t, err, "the phone's retry")
		require.NoError(t, f.accepted(r.AccessToken, u.TenantID))
		again, err := f.refresh(tok.Token)
		require.NoError(t, err)
		assert.Equal(t, r.RefreshToken, again.RefreshToken, "the family's one successor")
		assert.Equal(t, 1, f.activeKeys(fam.ID))
	})
	t.Run("AlgaPSA takes the token back between read and claim: 401, no live family", func(t *testing.T) {
		u := f.user()
		tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
		hook.before = func(h mobileauth.Hash) error {
			found, err := f.db.RevokeAlgaRefreshToken(f.ctx, h) // AlgaPSA's own endpoint, meanwhile
			require.True(t, found)
			return err
		}
		_, err := refresh(tok.Token)
		assertCode(t, err, mobileauth.CodeUnauthorized)
		require.Nil(t, hook.before, "the hook ran")
		fam := f.adoptedFamily(tok)
		assert.NotNil(t, fam.RevokedAt, "the family begun for it is revoked")
		assert.Empty(t, f.psa.APIKeyRows(t, "user_id = $1 AND metadata->>'issuer' = $2", u.ID, algapsa.KeyIssuer), "no key minted")
		_, err = refresh(tok.Token)
		assertCode(t, err, mobileauth.CodeUnauthorized)
		_, err = f.refresh(tok.Token)
		assertCode(t, err, mobileauth.CodeUnauthorized)
	})
	t.Run("claim outage: nothing left here, the retry adopts", func(t *testing.T) {
		u := f.user()
		tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
		hook.before = func(mobileauth.Hash) error { return errors.New("AlgaPSA database: connection refused") }
		_, err := refresh(tok.Token)
		assertCode(t, err, mobileauth.CodeInternal)
		_, err = f.store.GetRefreshToken(f.ctx, token.HashOf(tok.Token))
		assert.ErrorIs(t, err, mobileauth.ErrNotFound, "the family was abandoned")
		assert.Nil(t, f.psa.RefreshTokenRow(t, tok.ID).RevokedAt)

		r, err := refresh(tok.Token)
		require.NoError(t, err)
		require.NoError(t, f.accepted(r.AccessToken, u.TenantID))
		assert.NotNil(t, f.psa.RefreshTokenRow(t, tok.ID).RevokedAt)
	})
	t.Run("a family left pending: waited for, then abandoned and adopted again", func(t *testing.T) {
		u := f.user()
		tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
		// A creator that died after creating the family, before claiming.
		deriver, err := token.NewDeriver(f.secret)
		require.NoError(t, err)
		succ := token.HashOf(deriver.Successor(tok.Token))
		now := f.clock.Now()
		require.NoError(t, f.store.CreateAdoptedFamily(f.ctx,
			mobileauth.TokenFamily{ID: "dead-creator-" + u.ID[:8], TenantID: u.TenantID, UserID: u.ID, CreatedAt: now, AdoptionPending: true},
			mobileauth.RefreshToken{Hash: token.HashOf(tok.Token), CreatedAt: now, ExpiresAt: now.Add(time.Hour), RotatedAt: &now, ReplacedBy: &succ},
			mobileauth.RefreshToken{Hash: succ, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))

		svc.SetAdoptionWaitForTest(30 * time.Millisecond)
		_, err = refresh(tok.Token)
		assertCode(t, err, mobileauth.CodeServiceUnavailable)
		assert.Nil(t, f.psa.RefreshTokenRow(t, tok.ID).RevokedAt, "nothing claimed while waiting")

		f.clock.Advance(2 * time.Minute)
		r, err := refresh(tok.Token)
		require.NoError(t, err, "the stale family is abandoned and the token adopted again")
		require.NoError(t, f.accepted(r.AccessToken, u.TenantID))
		assert.NotEqual(t, "dead-creator-"+u.ID[:8], f.adoptedFamily(tok).ID)
		assert.NotNil(t, f.psa.RefreshTokenRow(t, tok.ID).RevokedAt)
	})
}

// missThen runs hook once, when a lookup in the own store misses: what it
// does lands between a refresh's look here and its look in AlgaPSA's
// database.
type missThen struct {
	mobileauth.RefreshStore
	hook func()
}

func (m *missThen) GetRefreshToken(ctx context.Context, h mobileauth.Hash) (mobileauth.RefreshToken, error) {
	rt, err := m.RefreshStore.GetRefreshToken(ctx, h)
	if errors.Is(err, mobileauth.ErrNotFound) && m.hook != nil {
		hook := m.hook
		m.hook = nil
		hook()
	}
	return rt, err
}

// TestApplianceAdoptionOvertaken: a presentation that missed the token in
// the own store, while another (on another instance) adopts it completely
// before this one reads AlgaPSA's row, finds that row claimed: it is
// answered from the adopted family, as a retry inside the grace period,
// not with a 401.
func TestApplianceAdoptionOvertaken(t *testing.T) {
	f := newApplianceFixture(t)
	hooked := &missThen{}
	second, _, _, _ := f.replicaWith(func(st mobileauth.RefreshStore) mobileauth.RefreshStore {
		hooked.RefreshStore = st
		return hooked
	})
	u := f.user()
	tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
	var first authflow.RefreshResult
	hooked.hook = func() {
		var err error
		first, err = f.refresh(tok.Token)
		require.NoError(t, err, "the other instance adopts it")
	}
	r, err := second.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "203.0.113.4"})
	require.Nil(t, hooked.hook, "the hook ran")
	require.NoError(t, err)
	assert.Equal(t, first.RefreshToken, r.RefreshToken, "the same successor")
	require.NoError(t, f.accepted(r.AccessToken, u.TenantID))
	assert.Equal(t, 1, f.activeKeys(f.adoptedFamily(tok).ID))
}

// pendingSeen closes seen the first time it reads a family whose adoption
// is pending: a presentation is then waiting for the adoption.
type pendingSeen struct {
	mobileauth.RefreshStore
	once sync.Once
	seen chan struct{}
}

func (p *pendingSeen) GetFamily(ctx context.Context, id string) (mobileauth.TokenFamily, error) {
	fam, err := p.RefreshStore.GetFamily(ctx, id)
	if err == nil && fam.AdoptionPending {
		p.once.Do(func() { close(p.seen) })
	}
	return fam, err
}

// TestApplianceAdoptionWaitsForTheClaim: a presentation that meets the
// adoption's family before AlgaPSA's row is claimed waits for the claim
// (no answer hands out a family whose claim may still fail): once the
// creator confirms, it gets the same successor; when AlgaPSA takes the
// token back before the claim, both get 401 and no key is left active.
func TestApplianceAdoptionWaitsForTheClaim(t *testing.T) {
	f := newApplianceFixture(t)
	for _, tc := range []struct {
		name     string
		takeBack bool
	}{{"claim succeeds", false}, {"AlgaPSA takes the token back", true}} {
		t.Run(tc.name, func(t *testing.T) {
			hook := &algaHook{}
			creator, _, _, _ := f.replicaWrapped(wrappers{
				alga: func(a authflow.AlgaRefreshTokens) authflow.AlgaRefreshTokens { hook.AlgaRefreshTokens = a; return hook },
			})
			watch := &pendingSeen{seen: make(chan struct{})}
			waiter, _, _, _ := f.replicaWith(func(st mobileauth.RefreshStore) mobileauth.RefreshStore {
				watch.RefreshStore = st
				return watch
			})
			u := f.user()
			tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
			var (
				wres authflow.RefreshResult
				werr error
				done = make(chan struct{})
			)
			hook.before = func(h mobileauth.Hash) error {
				go func() {
					defer close(done)
					wres, werr = waiter.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "203.0.113.5"})
				}()
				select {
				case <-watch.seen: // the waiter waits for this claim
				case <-done:
				}
				if tc.takeBack {
					_, err := f.db.RevokeAlgaRefreshToken(f.ctx, h)
					return err
				}
				return nil
			}
			res, err := creator.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "203.0.113.6"})
			<-done
			select {
			case <-watch.seen:
			default:
				t.Fatal("the waiter never met the pending family")
			}
			mine := f.psa.APIKeyRows(t, "user_id = $1 AND metadata->>'issuer' = $2 AND active", u.ID, algapsa.KeyIssuer)
			if tc.takeBack {
				assertCode(t, err, mobileauth.CodeUnauthorized)
				assertCode(t, werr, mobileauth.CodeUnauthorized)
				assert.NotNil(t, f.adoptedFamily(tok).RevokedAt)
				assert.Empty(t, mine, "no active key")
				return
			}
			require.NoError(t, err)
			require.NoError(t, werr)
			assert.Equal(t, res.RefreshToken, wres.RefreshToken, "the same successor")
			assert.Len(t, mine, 1, "one active key")
		})
	}
}

// TestApplianceRevokeDuringAdoption: /revoke of a token whose adoption is
// still pending (its claim may not have happened) revokes the family here
// and the token where AlgaPSA issued it, with its key.
func TestApplianceRevokeDuringAdoption(t *testing.T) {
	f := newApplianceFixture(t)
	u := f.user()
	tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
	deriver, err := token.NewDeriver(f.secret)
	require.NoError(t, err)
	succ := token.HashOf(deriver.Successor(tok.Token))
	now := f.clock.Now()
	require.NoError(t, f.store.CreateAdoptedFamily(f.ctx,
		mobileauth.TokenFamily{ID: "pending-" + u.ID[:8], TenantID: u.TenantID, UserID: u.ID, CreatedAt: now, AdoptionPending: true},
		mobileauth.RefreshToken{Hash: token.HashOf(tok.Token), CreatedAt: now, ExpiresAt: now.Add(time.Hour), RotatedAt: &now, ReplacedBy: &succ},
		mobileauth.RefreshToken{Hash: succ, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))

	require.NoError(t, f.svc.Revoke(f.ctx, authflow.RevokeRequest{RefreshToken: tok.Token, ClientIP: "198.51.100.9"}))
	assert.NotNil(t, f.adoptedFamily(tok).RevokedAt)
	assert.NotNil(t, f.psa.RefreshTokenRow(t, tok.ID).RevokedAt, "revoked where AlgaPSA issued it")
	assert.False(t, f.psa.APIKeyRow(t, tok.APIKeyID).Active)
	_, err = f.refresh(tok.Token)
	assertCode(t, err, mobileauth.CodeUnauthorized)
}

// TestApplianceAdoptionOutlivesADroppedConnection: the phone drops the
// connection (the request's context is cancelled) while its refresh is
// adopting the token, after the family was created: the adoption is still
// settled (claimed, confirmed), so the phone's retry gets the successor
// instead of waiting on a pending family.
func TestApplianceAdoptionOutlivesADroppedConnection(t *testing.T) {
	f := newApplianceFixture(t)
	hook := &algaHook{}
	svc, _, _, _ := f.replicaWrapped(wrappers{
		alga: func(a authflow.AlgaRefreshTokens) authflow.AlgaRefreshTokens { hook.AlgaRefreshTokens = a; return hook },
	})
	u := f.user()
	tok := f.psa.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)
	ctx, drop := context.WithCancel(f.ctx)
	hook.before = func(mobileauth.Hash) error {
		drop() // between the family's creation and the claim
		return nil
	}
	_, err := svc.Refresh(ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "203.0.113.7"})
	require.Error(t, err, "the dropped request itself fails (its mint)")
	fam := f.adoptedFamily(tok)
	assert.False(t, fam.AdoptionPending, "the adoption was settled all the same")
	assert.Nil(t, fam.RevokedAt)
	assert.NotNil(t, f.psa.RefreshTokenRow(t, tok.ID).RevokedAt)

	svc.SetAdoptionWaitForTest(30 * time.Millisecond)
	r, err := svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: tok.Token, ClientIP: "203.0.113.7"})
	require.NoError(t, err, "the retry")
	require.NoError(t, f.accepted(r.AccessToken, u.TenantID))
}
