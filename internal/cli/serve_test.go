package cli

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// syncBuffer is a bytes.Buffer that serve's log and the test may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveEnv is a configuration that can work, with env on top.
func serveEnv(t *testing.T, env map[string]string) {
	t.Helper()
	base := map[string]string{"NEXTAUTH_URL": "https://psa.example.com", "EDITION": "ee",
		"ALGA_TRIAL_STARTED_AT":  time.Now().UTC().Add(-time.Hour).Format(time.RFC3339),
		"GOOGLE_OAUTH_CLIENT_ID": "id", "GOOGLE_OAUTH_CLIENT_SECRET": "gs-9f8e7d",
		"ALGA_MOBILE_LISTEN_ADDR": "127.0.0.1:0", "ALGA_MOBILE_SHUTDOWN_DRAIN_SEC": "1"}
	for k, v := range env {
		base[k] = v
	}
	checkEnv(t, base)
	t.Setenv("ALGA_MOBILE_LISTEN_ADDR", base["ALGA_MOBILE_LISTEN_ADDR"])
	t.Setenv("ALGA_MOBILE_SHUTDOWN_DRAIN_SEC", base["ALGA_MOBILE_SHUTDOWN_DRAIN_SEC"])
}

// What can never work stops serve before it opens anything, in check's
// own words.
func TestServeRefusesWhatCanNeverWork(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"plain http on a public host", map[string]string{"NEXTAUTH_URL": "http://psa.example.com"},
			[]string{"[error]   NEXTAUTH_URL", "http://psa.example.com is plain http: the mobile app only connects to https servers", "fix: serve the appliance over https"}},
		{"no public URL", map[string]string{"NEXTAUTH_URL": ""},
			[]string{"[error]   NEXTAUTH_URL", "is not set"}},
		{"half-configured provider", map[string]string{"MICROSOFT_OAUTH_CLIENT_ID": "id"},
			[]string{"MICROSOFT_OAUTH_CLIENT_ID is set but MICROSOFT_OAUTH_CLIENT_SECRET is not"}},
		{"a variable that does not parse", map[string]string{"ALGA_MOBILE_OTT_TTL_SEC": "-1"},
			[]string{"[error]   ALGA_MOBILE_OTT_TTL_SEC"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			serveEnv(t, tc.env)
			r := adminRun(t, "serve")
			assert.Equal(t, ExitFail, r.code, r.stderr)
			assert.Contains(t, r.stderr, "refusing to start")
			for _, w := range tc.want {
				assert.Contains(t, r.stderr, w)
			}
			assert.Contains(t, r.stderr, "Run 'alga-mobile-auth check' for a full report.")
			assert.NotContains(t, r.stderr, "listening")
			assert.NotContains(t, r.stderr, "gs-9f8e7d")
		})
	}
}

// What the contract answers on purpose (capabilities tells the app) keeps
// serve running, logged once at start as a warning in check's words.
func TestServeRunsAndWarnsOnceOnStatedAnswers(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"community edition", map[string]string{"EDITION": "ce"},
			"EDITION: Community Edition: mobile sign-in is off whatever else is configured"},
		{"no provider", map[string]string{"GOOGLE_OAUTH_CLIENT_ID": "", "GOOGLE_OAUTH_CLIENT_SECRET": ""},
			"SSO: no provider is configured: nobody can sign in"},
		{"allowlist without the own host", map[string]string{"ALGA_MOBILE_HOST_ALLOWLIST": "other.example.com"},
			"does not include psa.example.com (the host of NEXTAUTH_URL): every phone will be blocked"},
		{"appliance mode without AlgaPSA's database password", map[string]string{"DB_HOST": "127.0.0.1", "DB_PORT": "1",
			"DB_PASSWORD_SERVER": "", "DB_PASSWORD_SERVER_FILE": "", "ALGA_PSA_DATABASE_URL": "", "ALGA_PSA_DATABASE_URL_FILE": "", "NEXTAUTH_SECRET": "web-secret"},
			"DB_PASSWORD_SERVER: not set (looked for in the DB_PASSWORD_SERVER variable, DB_PASSWORD_SERVER_FILE, and the files DB_PASSWORD_SERVER and db_password_server in "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			serveEnv(t, tc.env)
			log := serveBriefly(t)
			assert.Equal(t, 1, strings.Count(log, tc.want), "logged once: %s", log)
			for _, line := range strings.Split(log, "\n") {
				if strings.Contains(line, tc.want) {
					assert.Contains(t, line, `"level":"WARN"`)
					assert.Contains(t, line, `"fix":`)
				}
			}
			assert.NotContains(t, log, "gs-9f8e7d")
		})
	}
}
