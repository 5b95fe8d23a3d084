package license

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

func tierPtr(t mobileauth.Tier) *mobileauth.Tier { return &t }
func timePtr(t time.Time) *time.Time             { return &t }

var (
	enabledPro  = Decision{Enabled: true, Tier: mobileauth.TierPro}
	enabledSolo = Decision{Enabled: true, Tier: mobileauth.TierSolo}
	offEdition  = Decision{Reason: DecisionEdition}
	offLicense  = Decision{Reason: DecisionLicense, Tier: mobileauth.TierEssentials}
)

func TestGateDecisions(t *testing.T) {
	vendor := newSigner(t, "v1")
	base := licenseClaimsAt(t0)
	lic := func(kv ...any) string { return vendor.sign(t, with(base, kv...)) }
	activeTrial := timePtr(t0.Add(-24 * time.Hour))
	expiredTrial := timePtr(t0.Add(-16 * 24 * time.Hour))
	futureTrial := timePtr(t0.Add(24 * time.Hour))
	const tenant, otherTenant = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"

	tests := []struct {
		name         string
		opts         Options
		mode         Mode
		capabilities Decision
		tenant       string
		plan         *mobileauth.Tier
		forTenant    Decision
	}{
		// Community: off whatever else is configured.
		{name: "community is off", opts: Options{Edition: Community},
			mode: ModeCommunity, capabilities: offEdition, forTenant: offEdition},
		{name: "community with a pro license and a trial is off", opts: Options{Edition: Community, License: lic(), Keys: vendor.keys(), TrialStartedAt: activeTrial},
			mode: ModeCommunity, capabilities: offEdition, forTenant: offEdition},
		{name: "an unknown edition is community", opts: Options{Edition: "ultimate", License: lic(), Keys: vendor.keys()},
			mode: ModeCommunity, capabilities: offEdition, forTenant: offEdition},

		// Hosted: the tenant plan decides.
		{name: "hosted with no plan is pro", opts: Options{Edition: Enterprise},
			mode: ModeHosted, capabilities: Decision{Enabled: true}, forTenant: enabledPro},
		{name: "hosted pro plan", opts: Options{Edition: Enterprise}, plan: tierPtr(mobileauth.TierPro),
			mode: ModeHosted, capabilities: Decision{Enabled: true}, forTenant: enabledPro},
		{name: "hosted solo plan", opts: Options{Edition: Enterprise}, plan: tierPtr(mobileauth.TierSolo),
			mode: ModeHosted, capabilities: Decision{Enabled: true}, forTenant: enabledSolo},
		{name: "hosted essentials plan is off", opts: Options{Edition: Enterprise}, plan: tierPtr(mobileauth.TierEssentials),
			mode: ModeHosted, capabilities: Decision{Enabled: true}, forTenant: offLicense},
		{name: "hosted unknown plan is off", opts: Options{Edition: Enterprise}, plan: tierPtr("gold"),
			mode: ModeHosted, capabilities: Decision{Enabled: true}, forTenant: Decision{Reason: DecisionLicense, Tier: "gold"}},

		// Self-host: license, then trial, then essentials.
		{name: "self-host pro license", opts: Options{Edition: Enterprise, License: lic(), Keys: vendor.keys()},
			mode: ModeSelfHost, capabilities: enabledPro, forTenant: enabledPro},
		{name: "self-host premium license is pro", opts: Options{Edition: Enterprise, License: lic("tier", "premium"), Keys: vendor.keys()},
			mode: ModeSelfHost, capabilities: enabledPro, forTenant: enabledPro},
		{name: "self-host solo license", opts: Options{Edition: Enterprise, License: lic("tier", "solo"), Keys: vendor.keys()},
			mode: ModeSelfHost, capabilities: enabledSolo, forTenant: enabledSolo},
		{name: "self-host essentials license is off", opts: Options{Edition: Enterprise, License: lic("tier", "essentials"), Keys: vendor.keys()},
			mode: ModeSelfHost, capabilities: offLicense, forTenant: offLicense},
		{name: "self-host essentials license wins over an active trial", opts: Options{Edition: Enterprise, License: lic("tier", "essentials"), Keys: vendor.keys(), TrialStartedAt: activeTrial},
			mode: ModeSelfHost, capabilities: offLicense, forTenant: offLicense},
		{name: "self-host ignores the hosted plan", opts: Options{Edition: Enterprise, License: lic(), Keys: vendor.keys()}, plan: tierPtr(mobileauth.TierEssentials),
			mode: ModeSelfHost, capabilities: enabledPro, forTenant: enabledPro},
		{name: "self-host expired license is off", opts: Options{Edition: Enterprise, License: lic("exp", t0.Add(-time.Hour).Unix()), Keys: vendor.keys()},
			mode: ModeSelfHost, capabilities: offLicense, forTenant: offLicense},
		{name: "self-host expired license falls back to an active trial", opts: Options{Edition: Enterprise, License: lic("exp", t0.Add(-time.Hour).Unix()), Keys: vendor.keys(), TrialStartedAt: activeTrial},
			mode: ModeSelfHost, capabilities: enabledPro, forTenant: enabledPro},
		{name: "self-host forged license is off", opts: Options{Edition: Enterprise, License: newSigner(t, "v1").sign(t, base), Keys: vendor.keys()},
			mode: ModeSelfHost, capabilities: offLicense, forTenant: offLicense},
		{name: "self-host license without keys is off", opts: Options{Edition: Enterprise, License: lic()},
			mode: ModeSelfHost, capabilities: offLicense, forTenant: offLicense},
		{name: "self-host garbage license is off", opts: Options{Edition: Enterprise, License: "garbage", Keys: vendor.keys()},
			mode: ModeSelfHost, capabilities: offLicense, forTenant: offLicense},
		{name: "self-host active trial is pro", opts: Options{Edition: Enterprise, TrialStartedAt: activeTrial},
			mode: ModeSelfHost, capabilities: enabledPro, forTenant: enabledPro},
		{name: "self-host expired trial is off", opts: Options{Edition: Enterprise, TrialStartedAt: expiredTrial},
			mode: ModeSelfHost, capabilities: offLicense, forTenant: offLicense},
		{name: "self-host trial starting tomorrow is off", opts: Options{Edition: Enterprise, TrialStartedAt: futureTrial},
			mode: ModeSelfHost, capabilities: offLicense, forTenant: offLicense},

		// Tenant binding (aud).
		{name: "bound license serves its tenant", opts: Options{Edition: Enterprise, License: lic("aud", tenant), Keys: vendor.keys()}, tenant: tenant,
			mode: ModeSelfHost, capabilities: enabledPro, forTenant: enabledPro},
		{name: "bound license matches the tenant id in any case", opts: Options{Edition: Enterprise, License: lic("aud", "AAAAAAAA-1111-4111-8111-111111111111"), Keys: vendor.keys()}, tenant: "aaaaaaaa-1111-4111-8111-111111111111",
			mode: ModeSelfHost, capabilities: enabledPro, forTenant: enabledPro},
		{name: "bound license gives another tenant essentials", opts: Options{Edition: Enterprise, License: lic("aud", tenant), Keys: vendor.keys()}, tenant: otherTenant,
			mode: ModeSelfHost, capabilities: enabledPro, forTenant: offLicense},
		// SPEC §5: the bound license grants the other tenant essentials; a
		// trial does not override a valid license.
		{name: "bound license gives another tenant essentials even during a trial", opts: Options{Edition: Enterprise, License: lic("aud", tenant), Keys: vendor.keys(), TrialStartedAt: activeTrial}, tenant: otherTenant,
			mode: ModeSelfHost, capabilities: enabledPro, forTenant: offLicense},
		{name: "unbound license serves every tenant", opts: Options{Edition: Enterprise, License: lic(), Keys: vendor.keys()}, tenant: otherTenant,
			mode: ModeSelfHost, capabilities: enabledPro, forTenant: enabledPro},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Now = func() time.Time { return t0 }
			g := NewGate(tc.opts)
			assert.Equal(t, tc.mode, g.Mode())
			assert.Equal(t, tc.capabilities, g.Capabilities(), "capabilities")
			tenantID := tc.tenant
			if tenantID == "" {
				tenantID = tenant
			}
			assert.Equal(t, tc.forTenant, g.ForTenant(tenantID, tc.plan), "for tenant")
			assert.Equal(t, tc.capabilities, g.Status().Capabilities, "status agrees with capabilities")
		})
	}
}

func TestGateFollowsTheClock(t *testing.T) {
	vendor := newSigner(t, "v1")
	exp := t0.Add(time.Hour)
	now := t0
	g := NewGate(Options{
		Edition: Enterprise,
		License: vendor.sign(t, with(licenseClaimsAt(t0), "exp", exp.Unix())),
		Keys:    vendor.keys(),
		Now:     func() time.Time { return now },
	})
	require.True(t, g.Capabilities().Enabled)

	now = exp.Add(Leeway - time.Second) // still within skew
	assert.True(t, g.Capabilities().Enabled)
	assert.True(t, g.ForTenant("t", nil).Enabled)

	now = exp.Add(Leeway) // the license expires while the service runs
	assert.Equal(t, offLicense, g.Capabilities())
	assert.Equal(t, offLicense, g.ForTenant("t", nil))
	assert.Equal(t, ReasonExpired, g.Status().Reason)
}

func TestGateTrialEndsWhileRunning(t *testing.T) {
	start := t0
	now := t0
	g := NewGate(Options{Edition: Enterprise, TrialStartedAt: &start, Now: func() time.Time { return now }})
	require.True(t, g.Capabilities().Enabled)

	now = t0.Add(TrialDuration - time.Nanosecond)
	assert.True(t, g.ForTenant("t", nil).Enabled)
	now = t0.Add(TrialDuration)
	assert.Equal(t, offLicense, g.ForTenant("t", nil))
}

func TestGateStatus(t *testing.T) {
	vendor := newSigner(t, "v1")
	trial := t0.Add(-20 * 24 * time.Hour)

	t.Run("reports a valid license and an expired trial", func(t *testing.T) {
		g := NewGate(Options{Edition: Enterprise, License: vendor.sign(t, with(licenseClaimsAt(t0), "tier", "solo", "aud", "t1")),
			Keys: vendor.keys(), TrialStartedAt: &trial, Now: func() time.Time { return t0 }})
		s := g.Status()
		assert.Equal(t, Enterprise, s.Edition)
		assert.Equal(t, ModeSelfHost, s.Mode)
		assert.True(t, s.LicensePresent)
		assert.True(t, s.LicenseValid)
		assert.Equal(t, ReasonNone, s.Reason)
		assert.NoError(t, s.Err)
		assert.Equal(t, "t1", s.Claims.Audience)
		assert.Equal(t, 1, s.KeyCount)
		assert.Equal(t, mobileauth.TierSolo, s.Tier)
		assert.Equal(t, TrialStatus{Configured: true, StartedAt: trial, EndsAt: trial.Add(TrialDuration)}, s.Trial)
		assert.Equal(t, enabledSolo, s.Capabilities)
	})
	t.Run("reports why a license does not count, with its dates", func(t *testing.T) {
		exp := t0.Add(-time.Hour)
		g := NewGate(Options{Edition: Enterprise, License: vendor.sign(t, with(licenseClaimsAt(t0), "exp", exp.Unix())),
			Keys: vendor.keys(), Now: func() time.Time { return t0 }})
		s := g.Status()
		assert.True(t, s.LicensePresent)
		assert.False(t, s.LicenseValid)
		assert.Equal(t, ReasonExpired, s.Reason)
		assert.Error(t, s.Err)
		assert.Equal(t, exp, s.Claims.ExpiresAt.UTC())
		assert.Equal(t, mobileauth.TierEssentials, s.Tier)
		assert.False(t, s.Trial.Configured)
	})
	t.Run("reports no keys", func(t *testing.T) {
		g := NewGate(Options{Edition: Enterprise, License: vendor.sign(t, licenseClaimsAt(t0)), Now: func() time.Time { return t0 }})
		s := g.Status()
		assert.Equal(t, ReasonNoKeys, s.Reason)
		assert.Zero(t, s.KeyCount)
	})
	t.Run("verifies a license even on community, and gives no tier", func(t *testing.T) {
		g := NewGate(Options{Edition: Community, License: vendor.sign(t, licenseClaimsAt(t0)), Keys: vendor.keys(), Now: func() time.Time { return t0 }})
		s := g.Status()
		assert.Equal(t, ModeCommunity, s.Mode)
		assert.True(t, s.LicenseValid)
		assert.Empty(t, s.Tier)
		assert.Equal(t, offEdition, s.Capabilities)
	})
	t.Run("hosted has no installation tier", func(t *testing.T) {
		s := NewGate(Options{Edition: Enterprise, Now: func() time.Time { return t0 }}).Status()
		assert.Equal(t, ModeHosted, s.Mode)
		assert.False(t, s.LicensePresent)
		assert.Equal(t, ReasonNone, s.Reason)
		assert.Empty(t, s.Tier)
	})
}

func TestNewGate(t *testing.T) {
	t.Run("a zero Options grants nothing", func(t *testing.T) {
		g := NewGate(Options{})
		assert.Equal(t, ModeCommunity, g.Mode())
		assert.Equal(t, offEdition, g.Capabilities())
	})
	t.Run("later changes by the caller do not reach the gate", func(t *testing.T) {
		vendor := newSigner(t, "v1")
		start := t0
		keys := vendor.keys()
		g := NewGate(Options{Edition: Enterprise, License: vendor.sign(t, licenseClaimsAt(t0)), Keys: keys,
			TrialStartedAt: &start, Now: func() time.Time { return t0 }})
		start = t0.Add(-100 * 24 * time.Hour)
		delete(keys, "v1")
		s := g.Status()
		assert.True(t, s.Trial.Active)
		assert.True(t, s.LicenseValid)
	})
}

func TestGateIsSafeForConcurrentUse(t *testing.T) {
	vendor := newSigner(t, "v1")
	g := NewGate(Options{Edition: Enterprise, License: vendor.sign(t, licenseClaimsAt(t0)), Keys: vendor.keys(),
		Now: func() time.Time { return t0 }})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			assert.True(t, g.Capabilities().Enabled)
			assert.True(t, g.ForTenant("t", nil).Enabled)
			assert.True(t, g.Status().LicenseValid)
		})
	}
	wg.Wait()
}
