package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/qr"
)

// qrEnv is adminEnv on self-host licensing (Enterprise, a trial), where
// /mobile/connect exists and so qr prints the code.
func qrEnv(t *testing.T) {
	t.Helper()
	adminEnv(t)
	t.Setenv("EDITION", "ee")
	t.Setenv("NEXT_PUBLIC_EDITION", "")
	t.Setenv("ALGA_LICENSE", "")
	t.Setenv("ALGA_TRIAL_STARTED_AT", time.Now().UTC().Add(-time.Hour).Format(time.RFC3339))
}

// qr refuses where /mobile/connect is a 404: without self-host licensing.
func TestQRRefusesWhereTheConnectPageIsOff(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"hosted licensing", map[string]string{"ALGA_TRIAL_STARTED_AT": ""},
			"alga-mobile-auth qr: no connect QR on hosted licensing (no ALGA_LICENSE, ALGA_LICENSE_FILE or ALGA_TRIAL_STARTED_AT is set): /mobile/connect answers 404 too; give users the address https://psa.example.com to type, or configure the license\n"},
		{"community edition", map[string]string{"EDITION": "ce"},
			"alga-mobile-auth qr: no connect QR on Community Edition: mobile sign-in is off and /mobile/connect answers 404; set EDITION=ee\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			qrEnv(t)
			t.Setenv("NEXTAUTH_URL", "https://psa.example.com")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			r := adminRun(t, "qr")
			assert.Equal(t, ExitFail, r.code)
			assert.Empty(t, r.stdout)
			assert.Equal(t, tc.want, r.stderr)
		})
	}
}

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
			qrEnv(t)
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
	qrEnv(t)
	t.Setenv("NEXTAUTH_URL", "https://psa.example.com")
	dark, light := adminRun(t, "qr"), adminRun(t, "qr", "--light")
	require.Equal(t, ExitOK, dark.code)
	require.Equal(t, ExitOK, light.code)
	assert.NotEqual(t, dark.stdout, light.stdout)
}

func TestQRWarnsWhenTheAppWouldRefuseTheServer(t *testing.T) {
	qrEnv(t)
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
			qrEnv(t)
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
	qrEnv(t)
	t.Setenv("NEXTAUTH_URL", "https://psa.example.com")
	t.Setenv("ALGA_MOBILE_DATABASE_URL", "mysql://db")
	r := adminRun(t, "qr")
	assert.Equal(t, ExitOK, r.code, r.stderr)
}
