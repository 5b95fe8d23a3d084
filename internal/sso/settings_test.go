package sso

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfiguredNeedsBothIDAndSecret(t *testing.T) {
	tests := []struct {
		name   string
		google ClientSettings
		ms     ClientSettings
		want   map[string]bool
	}{
		{"nothing set", ClientSettings{}, ClientSettings{}, map[string]bool{"google": false, "microsoft": false}},
		{"google id only", ClientSettings{ClientID: "id"}, ClientSettings{}, map[string]bool{"google": false, "microsoft": false}},
		{"google secret only", ClientSettings{ClientSecret: "s"}, ClientSettings{}, map[string]bool{"google": false, "microsoft": false}},
		{"google both", ClientSettings{ClientID: "id", ClientSecret: "s"}, ClientSettings{}, map[string]bool{"google": true, "microsoft": false}},
		{"microsoft both", ClientSettings{}, ClientSettings{ClientID: "id", ClientSecret: "s"}, map[string]bool{"google": false, "microsoft": true}},
		{"both providers", ClientSettings{ClientID: "a", ClientSecret: "b"}, ClientSettings{ClientID: "c", ClientSecret: "d"}, map[string]bool{"google": true, "microsoft": true}},
		{"whitespace-only secret", ClientSettings{ClientID: "id", ClientSecret: " \t\n"}, ClientSettings{}, map[string]bool{"google": false, "microsoft": false}},
		{"whitespace-only id", ClientSettings{}, ClientSettings{ClientID: "  ", ClientSecret: "s"}, map[string]bool{"google": false, "microsoft": false}},
		{"issuer alone configures nothing", ClientSettings{Issuer: "https://x"}, ClientSettings{Issuer: "https://y"}, map[string]bool{"google": false, "microsoft": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Configured(Settings{Google: tt.google, Microsoft: tt.ms})
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDefaultIssuers(t *testing.T) {
	tests := []struct {
		name   string
		id     ID
		tenant string
		want   string
	}{
		{"google", Google, "", "https://accounts.google.com"},
		{"google ignores tenant", Google, "contoso", "https://accounts.google.com"},
		{"microsoft defaults to common", Microsoft, "", "https://login.microsoftonline.com/common/v2.0"},
		{"microsoft blank tenant is common", Microsoft, "  ", "https://login.microsoftonline.com/common/v2.0"},
		{"microsoft organizations", Microsoft, "organizations", "https://login.microsoftonline.com/organizations/v2.0"},
		{"microsoft tenant guid", Microsoft, "72f988bf-86f1-41af-91ab-2d7cd011db47", "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"},
		{"microsoft tenant is path-escaped", Microsoft, "a/b", "https://login.microsoftonline.com/a%2Fb/v2.0"},
		{"dev has no default", Dev, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, DefaultIssuer(tt.id, tt.tenant))
		})
	}
}

func TestNewProvidersBuildsOnlyConfiguredOnesInOrder(t *testing.T) {
	s := Settings{
		PublicOrigin:    "https://psa.example.com/",
		Google:          ClientSettings{ClientID: " gid ", ClientSecret: "gs"},
		Microsoft:       ClientSettings{ClientID: "mid", ClientSecret: "ms", Issuer: "https://login.microsoftonline.us/common/v2.0"},
		MicrosoftTenant: "organizations",
		Dev:             &ClientSettings{ClientID: "did", ClientSecret: "ds", Issuer: "http://127.0.0.1:1/oidc"},
	}
	ps := NewProviders(s)
	require.Len(t, ps, 3)

	assert.Equal(t, Google, ps[0].ID())
	assert.Equal(t, "Google", ps[0].DisplayName())
	assert.Equal(t, "https://accounts.google.com", ps[0].Issuer())
	assert.Equal(t, "https://psa.example.com/api/auth/callback/google", ps[0].CallbackURL())
	assert.Equal(t, "gid", ps[0].clientID, "client id is trimmed")
	assert.False(t, ps[0].multiTenant)

	assert.Equal(t, Microsoft, ps[1].ID())
	assert.Equal(t, "Microsoft", ps[1].DisplayName())
	assert.Equal(t, "https://login.microsoftonline.us/common/v2.0", ps[1].Issuer(), "authority override wins")
	assert.Equal(t, "https://psa.example.com/api/auth/callback/azure-ad", ps[1].CallbackURL())
	assert.True(t, ps[1].multiTenant)

	assert.Equal(t, Dev, ps[2].ID())
	assert.Equal(t, "Development sign-in", ps[2].DisplayName())
	assert.Equal(t, "https://psa.example.com/api/auth/callback/dev", ps[2].CallbackURL())

	p, err := ByID(ps, Microsoft)
	require.NoError(t, err)
	assert.Same(t, ps[1], p)
	_, err = ByID(ps, "github")
	assert.ErrorIs(t, err, ErrUnknownProvider)
}

func TestNewProvidersSkipsUnconfigured(t *testing.T) {
	tests := []struct {
		name string
		s    Settings
		want []ID
	}{
		{"none", Settings{}, nil},
		{"google secret blank", Settings{Google: ClientSettings{ClientID: "a", ClientSecret: " "}}, nil},
		{"microsoft only", Settings{Microsoft: ClientSettings{ClientID: "a", ClientSecret: "b"}}, []ID{Microsoft}},
		{"dev without issuer", Settings{Dev: &ClientSettings{ClientID: "a", ClientSecret: "b"}}, nil},
		{"dev with issuer", Settings{Dev: &ClientSettings{ClientID: "a", ClientSecret: "b", Issuer: "http://127.0.0.1:9/oidc"}}, []ID{Dev}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []ID
			for _, p := range NewProviders(tt.s) {
				got = append(got, p.ID())
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestMicrosoftTenantModes(t *testing.T) {
	tests := []struct {
		tenant string
		multi  bool
	}{
		{"", true}, {"common", true}, {"Organizations", true}, {"consumers", true},
		{"72f988bf-86f1-41af-91ab-2d7cd011db47", false}, {"contoso.onmicrosoft.com", false},
	}
	for _, tt := range tests {
		t.Run("tenant "+tt.tenant, func(t *testing.T) {
			assert.Equal(t, tt.multi, isMultiTenant(tt.tenant))
		})
	}
}

func TestLooksLikeEmail(t *testing.T) {
	good := []string{"a@example.com", "first.last+tag@sub.example.co.uk", "UPPER@Example.COM"}
	bad := []string{"", "plain", "@example.com", "a@", "a@localhost", "a@b@example.com", "A <a@example.com>",
		"a@example.com ", "a@.example.com", "a@example.com.", "a b@example.com", "a@[127.0.0.1]"}
	for _, s := range good {
		assert.True(t, looksLikeEmail(s), s)
	}
	for _, s := range bad {
		assert.False(t, looksLikeEmail(s), s)
	}
}
