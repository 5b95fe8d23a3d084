package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/qr"
)

func TestQRPrintsTheCodeAndItsPayload(t *testing.T) {
	tests := []struct {
		name, url, want string
		args            []string
	}{
		{"https origin", "https://psa.example.com", "alga://server?url=https%3A%2F%2Fpsa.example.com", nil},
		{"trailing slash and port", "https://PSA.example.com:8443/", "alga://server?url=https%3A%2F%2Fpsa.example.com%3A8443", nil},
		{"light terminal", "https://psa.example.com", "alga://server?url=https%3A%2F%2Fpsa.example.com", []string{"--light"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			adminEnv(t)
			t.Setenv("NEXTAUTH_URL", tt.url)
			r := adminRun(t, append([]string{"qr"}, tt.args...)...)
			require.Equal(t, ExitOK, r.code, r.stderr)
			assert.Empty(t, r.stderr)
			assert.True(t, strings.HasSuffix(r.stdout, "\n"+tt.want+"\n"), "payload on the last line:\n%s", r.stdout)
			art := qr.Terminal(tt.want)
			if len(tt.args) > 0 {
				art = qr.TerminalLight(tt.want)
			}
			require.NotEmpty(t, art)
			assert.True(t, strings.HasPrefix(r.stdout, art), "the code of exactly that payload is drawn first:\n%s", r.stdout)
		})
	}
}

func TestQRDrawsTheTwoPolaritiesDifferently(t *testing.T) {
	adminEnv(t)
	t.Setenv("NEXTAUTH_URL", "https://psa.example.com")
	dark, light := adminRun(t, "qr"), adminRun(t, "qr", "--light")
	require.Equal(t, ExitOK, dark.code)
	require.Equal(t, ExitOK, light.code)
	assert.NotEqual(t, dark.stdout, light.stdout)
}

func TestQRWarnsWhenTheAppWouldRefuseTheServer(t *testing.T) {
	adminEnv(t)
	t.Setenv("NEXTAUTH_URL", "http://psa.example.com")
	r := adminRun(t, "qr")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stderr, "warning: the mobile app will not accept this server")
	assert.Contains(t, r.stderr, "https")
}

func TestQRNeedsNextAuthURL(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"unset", "", "alga-mobile-auth qr: NEXTAUTH_URL is not set; set it to the appliance's public URL"},
		{"invalid", "psa.example.com", "alga-mobile-auth qr: NEXTAUTH_URL: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			adminEnv(t)
			t.Setenv("NEXTAUTH_URL", tt.url)
			r := adminRun(t, "qr")
			assert.Equal(t, ExitFail, r.code)
			assert.Empty(t, r.stdout)
			assert.True(t, strings.HasPrefix(r.stderr, tt.want), r.stderr)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
		})
	}
}

func TestQRIgnoresUnrelatedConfigurationProblems(t *testing.T) {
	adminEnv(t)
	t.Setenv("NEXTAUTH_URL", "https://psa.example.com")
	t.Setenv("ALGA_MOBILE_DATABASE_URL", "mysql://db")
	r := adminRun(t, "qr")
	assert.Equal(t, ExitOK, r.code, r.stderr)
}
