package authflow_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/license"
)

// capabilities builds the service from gate options at the fake clock.
func capabilities(o license.Options, clock *fakeClock, providers map[string]bool, allowlist []string) *authflow.CapabilitiesService {
	o.Now = clock.Now
	return authflow.NewCapabilitiesService(license.NewGate(o), providers, allowlist, accessTTL, refreshTTL, ottTTL)
}

func TestCapabilitiesJSON(t *testing.T) {
	vendor := newLicenseSigner(t)
	stranger := newLicenseSigner(t)
	in30d := t0.Add(30 * 24 * time.Hour)
	activeTrial := t0.Add(-24 * time.Hour)
	endedTrial := t0.Add(-2 * license.TrialDuration)
	ee := license.Enterprise

	const ttls = `"accessTtlSec":900,"refreshTtlSec":2592000,"ottTtlSec":60`
	const noProviders = `"providers":{"google":false,"microsoft":false}`
	cases := []struct {
		name      string
		gate      license.Options
		providers map[string]bool
		allowlist []string
		want      string
	}{
		{name: "community is off for the edition", gate: license.Options{},
			want: `{"enabled":false,"reason":"edition",` + noProviders + `,` + ttls + `}`},
		{name: "community ignores a valid license, providers and allowlist",
			gate:      license.Options{Edition: license.Community, License: vendor.license(t, "pro", in30d), Keys: vendor.keys()},
			providers: map[string]bool{"google": true, "microsoft": true}, allowlist: []string{ownHost},
			want: `{"enabled":false,"reason":"edition","providers":{"google":true,"microsoft":true},"hostedDomainAllowlist":["psa.example.com"],` + ttls + `}`},
		{name: "hosted is on", gate: license.Options{Edition: ee},
			providers: map[string]bool{"microsoft": true},
			want:      `{"enabled":true,"providers":{"google":false,"microsoft":true},` + ttls + `}`},
		{name: "active trial is on, allowlist advertised", gate: license.Options{Edition: ee, TrialStartedAt: &activeTrial},
			providers: map[string]bool{"google": true}, allowlist: []string{"psa.example.com", "m.example.com"},
			want: `{"enabled":true,"providers":{"google":true,"microsoft":false},"hostedDomainAllowlist":["psa.example.com","m.example.com"],` + ttls + `}`},
		{name: "ended trial is off for the license", gate: license.Options{Edition: ee, TrialStartedAt: &endedTrial},
			want: `{"enabled":false,"reason":"license",` + noProviders + `,` + ttls + `}`},
		{name: "pro license is on", gate: license.Options{Edition: ee, License: vendor.license(t, "pro", in30d), Keys: vendor.keys()},
			want: `{"enabled":true,` + noProviders + `,` + ttls + `}`},
		{name: "premium license counts as pro", gate: license.Options{Edition: ee, License: vendor.license(t, "premium", in30d), Keys: vendor.keys()},
			want: `{"enabled":true,` + noProviders + `,` + ttls + `}`},
		{name: "solo license is on", gate: license.Options{Edition: ee, License: vendor.license(t, "solo", in30d), Keys: vendor.keys()},
			want: `{"enabled":true,` + noProviders + `,` + ttls + `}`},
		{name: "essentials license is off", gate: license.Options{Edition: ee, License: vendor.license(t, "essentials", in30d), Keys: vendor.keys()},
			want: `{"enabled":false,"reason":"license",` + noProviders + `,` + ttls + `}`},
		{name: "expired license is off", gate: license.Options{Edition: ee, License: vendor.license(t, "pro", t0.Add(-time.Hour)), Keys: vendor.keys()},
			want: `{"enabled":false,"reason":"license",` + noProviders + `,` + ttls + `}`},
		{name: "expired license during a trial is on",
			gate: license.Options{Edition: ee, License: vendor.license(t, "pro", t0.Add(-time.Hour)), Keys: vendor.keys(), TrialStartedAt: &activeTrial},
			want: `{"enabled":true,` + noProviders + `,` + ttls + `}`},
		{name: "license signed by an unknown key is off", gate: license.Options{Edition: ee, License: stranger.license(t, "pro", in30d), Keys: vendor.keys()},
			want: `{"enabled":false,"reason":"license",` + noProviders + `,` + ttls + `}`},
		{name: "empty allowlist is omitted and unknown providers dropped", gate: license.Options{Edition: ee},
			providers: map[string]bool{"apple": true, "google": true}, allowlist: []string{},
			want: `{"enabled":true,"providers":{"google":true,"microsoft":false},` + ttls + `}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := capabilities(tc.gate, newClock(), tc.providers, tc.allowlist).Capabilities()
			got, err := json.Marshal(c)
			require.NoError(t, err)
			assert.JSONEq(t, tc.want, string(got))

			var fields map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(got, &fields))
			_, hasReason := fields["reason"]
			assert.Equal(t, !c.Enabled, hasReason, "reason present exactly when disabled")
			_, hasAllowlist := fields["hostedDomainAllowlist"]
			assert.Equal(t, len(tc.allowlist) > 0, hasAllowlist, "allowlist omitted exactly when empty")
		})
	}
}

func TestCapabilitiesFollowTheClock(t *testing.T) {
	clock := newClock()
	start := t0.Add(-license.TrialDuration + time.Minute)
	svc := capabilities(license.Options{Edition: license.Enterprise, TrialStartedAt: &start}, clock, nil, nil)
	assert.True(t, svc.Capabilities().Enabled)
	clock.Advance(time.Minute)
	c := svc.Capabilities()
	assert.False(t, c.Enabled, "the trial ended while the service ran")
	assert.Equal(t, license.DecisionLicense, c.Reason)
}

func TestCapabilitiesProvidersAreNotTheCallersMap(t *testing.T) {
	providers := map[string]bool{"google": true}
	svc := capabilities(license.Options{Edition: license.Enterprise}, newClock(), providers, nil)
	providers["google"] = false
	providers["microsoft"] = true
	assert.Equal(t, map[string]bool{"google": true, "microsoft": false}, svc.Capabilities().Providers)
}
