package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allVars lists every variable Load reads, so each test starts clean.
var allVars = []string{"NEXTAUTH_URL", "EDITION", "NEXT_PUBLIC_EDITION", "ALGA_LICENSE", "ALGA_LICENSE_FILE",
	"ALGA_LICENSE_PUBLIC_KEYS", "ALGA_TRIAL_STARTED_AT", "GOOGLE_OAUTH_CLIENT_ID", "GOOGLE_OAUTH_CLIENT_SECRET",
	"GOOGLE_OAUTH_CLIENT_ID_FILE", "GOOGLE_OAUTH_CLIENT_SECRET_FILE",
	"MICROSOFT_OAUTH_CLIENT_ID", "MICROSOFT_OAUTH_CLIENT_SECRET", "MICROSOFT_OAUTH_TENANT_ID", "MICROSOFT_OAUTH_AUTHORITY",
	"GOOGLE_OAUTH_ISSUER", "ALGA_MOBILE_HOST_ALLOWLIST", "ALGA_MOBILE_OTT_TTL_SEC", "ALGA_MOBILE_ACCESS_TTL_SEC",
	"ALGA_MOBILE_REFRESH_TTL_SEC", "ALGA_MOBILE_REFRESH_GRACE_SEC", "ALGA_MOBILE_SESSION_TTL_SEC",
	"ALGA_MOBILE_DATABASE_URL", "ALGA_MOBILE_DATABASE_URL_FILE", "ALGA_MOBILE_LISTEN_ADDR", "ALGA_MOBILE_METRICS_ADDR",
	"ALGA_MOBILE_TRUSTED_PROXIES", "ALGA_MOBILE_REDIS_URL", "ALGA_MOBILE_DEV_IDP", "ALGA_MOBILE_DEV_IDP_ADDR",
	"ALGA_MOBILE_LOG_FORMAT", "ALGA_MOBILE_LOG_LEVEL", "ALGA_MOBILE_SHUTDOWN_DRAIN_SEC",
	"ALGA_MOBILE_SHUTDOWN_TIMEOUT_SEC", "ALGA_MOBILE_ACCESS_AUDIENCE", "SECRET_FS_BASE_PATH", "ALGA_MOBILE_SECRET_KEY",
	"ALGA_PSA_DATABASE_URL", "ALGA_PSA_DATABASE_URL_FILE", "DB_HOST", "DB_PORT", "DB_NAME_SERVER", "DB_USER_SERVER",
	"DB_PASSWORD_SERVER", "DB_PASSWORD_SERVER_FILE", "NEXTAUTH_SECRET", "NEXTAUTH_SECRET_FILE", "ALGA_MOBILE_AUTHJS_COOKIE",
	"ALGA_MOBILE_MICROSOFT_TENANTS"}

// cleanEnv unsets every variable and points the secrets directory at an
// empty temp dir, so /run/secrets on the test machine cannot interfere.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, v := range allVars {
		t.Setenv(v, "")
		require.NoError(t, os.Unsetenv(v))
	}
	t.Setenv("SECRET_FS_BASE_PATH", t.TempDir())
}

func load(t *testing.T, env map[string]string) (*Config, Problems) {
	t.Helper()
	cleanEnv(t)
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := Load()
	require.NotNil(t, cfg)
	var ps Problems
	if err != nil {
		require.True(t, errors.As(err, &ps), "error is Problems: %v", err)
	}
	return cfg, ps
}

func vars(ps Problems) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Var)
	}
	return out
}

func TestDefaults(t *testing.T) {
	cfg, ps := load(t, map[string]string{"NEXTAUTH_URL": "https://psa.example.com"})
	require.Empty(t, ps)
	assert.Equal(t, "https://psa.example.com", cfg.Origin())
	assert.Equal(t, "psa.example.com", cfg.OwnHost())
	assert.Equal(t, 60*time.Second, cfg.OTTTTL)
	assert.Equal(t, 900*time.Second, cfg.AccessTTL)
	assert.Equal(t, 2592000*time.Second, cfg.RefreshTTL)
	assert.Equal(t, 10*time.Second, cfg.RefreshGrace)
	assert.Equal(t, "sqlite:./data/mobile-auth.db", cfg.DatabaseURL.Value())
	assert.Equal(t, ":8080", cfg.ListenAddr)
	assert.Equal(t, "common", cfg.MicrosoftTenant)
	assert.Empty(t, cfg.HostAllowlist)
	assert.False(t, cfg.DevIDP)
	assert.Equal(t, "json", cfg.LogFormat)
	require.Len(t, cfg.TrustedProxies, 2, "loopback v4 and v6 by default")
	assert.False(t, cfg.SelfHostLicensing())
}

func TestNextAuthURL(t *testing.T) {
	tests := []struct {
		name, value, origin string
		ok                  bool
	}{
		{"https origin", "https://psa.example.com", "https://psa.example.com", true},
		{"trailing slash is the root", "https://psa.example.com/", "https://psa.example.com", true},
		{"port kept", "http://localhost:3000", "http://localhost:3000", true},
		{"host lower-cased", "https://PSA.Example.com", "https://psa.example.com", true},
		{"default https port dropped", "https://psa.example.com:443", "https://psa.example.com", true},
		{"default http port dropped", "http://localhost:80/", "http://localhost", true},
		{"other port kept", "https://psa.example.com:8443", "https://psa.example.com:8443", true},
		{"path refused", "https://psa.example.com/app", "", false},
		{"query refused", "https://psa.example.com/?a=1", "", false},
		{"fragment refused", "https://psa.example.com/#x", "", false},
		{"relative refused", "psa.example.com", "", false},
		{"ftp refused", "ftp://psa.example.com", "", false},
		{"user info refused", "https://u:p@psa.example.com", "", false},
		{"garbage refused", "::::", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ps := load(t, map[string]string{"NEXTAUTH_URL": tt.value})
			if tt.ok {
				require.Empty(t, ps)
				assert.Equal(t, tt.origin, cfg.Origin())
				return
			}
			assert.Equal(t, []string{"NEXTAUTH_URL"}, vars(ps))
			assert.Nil(t, cfg.PublicURL)
		})
	}
	t.Run("missing is not a load problem but serve requires it", func(t *testing.T) {
		cfg, ps := load(t, nil)
		assert.Empty(t, ps)
		err := cfg.RequirePublicURL()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "NEXTAUTH_URL")
	})
}

func TestNumericVariables(t *testing.T) {
	names := []string{"ALGA_MOBILE_OTT_TTL_SEC", "ALGA_MOBILE_ACCESS_TTL_SEC", "ALGA_MOBILE_REFRESH_TTL_SEC",
		"ALGA_MOBILE_REFRESH_GRACE_SEC", "ALGA_MOBILE_SESSION_TTL_SEC", "ALGA_MOBILE_SHUTDOWN_DRAIN_SEC", "ALGA_MOBILE_SHUTDOWN_TIMEOUT_SEC"}
	for _, name := range names {
		for _, bad := range []string{"abc", "0", "-5", "1.5", "10s", "999999999999"} {
			t.Run(name+"="+bad, func(t *testing.T) {
				_, ps := load(t, map[string]string{"NEXTAUTH_URL": "https://a.example", name: bad})
				assert.Contains(t, vars(ps), name)
			})
		}
	}
	t.Run("valid values and surrounding spaces", func(t *testing.T) {
		cfg, ps := load(t, map[string]string{"ALGA_MOBILE_OTT_TTL_SEC": " 30 ", "ALGA_MOBILE_ACCESS_TTL_SEC": "600", "ALGA_MOBILE_REFRESH_TTL_SEC": "86400"})
		require.Empty(t, ps)
		assert.Equal(t, 30*time.Second, cfg.OTTTTL)
		assert.Equal(t, 600*time.Second, cfg.AccessTTL)
		assert.Equal(t, 86400*time.Second, cfg.RefreshTTL)
	})
	t.Run("set but empty means default", func(t *testing.T) {
		cfg, ps := load(t, map[string]string{"ALGA_MOBILE_OTT_TTL_SEC": ""})
		require.Empty(t, ps)
		assert.Equal(t, DefaultOTTTTL, cfg.OTTTTL)
	})
	t.Run("refresh must outlive access", func(t *testing.T) {
		_, ps := load(t, map[string]string{"ALGA_MOBILE_ACCESS_TTL_SEC": "900", "ALGA_MOBILE_REFRESH_TTL_SEC": "600"})
		assert.Equal(t, []string{"ALGA_MOBILE_REFRESH_TTL_SEC"}, vars(ps))
	})
}

func TestEveryProblemIsReportedTogether(t *testing.T) {
	_, ps := load(t, map[string]string{
		"NEXTAUTH_URL":                "https://x.example/path",
		"ALGA_MOBILE_OTT_TTL_SEC":     "zero",
		"ALGA_MOBILE_HOST_ALLOWLIST":  "https://psa.example.com",
		"ALGA_TRIAL_STARTED_AT":       "yesterday",
		"ALGA_MOBILE_LOG_FORMAT":      "xml",
		"ALGA_MOBILE_DATABASE_URL":    "mysql://db",
		"ALGA_MOBILE_TRUSTED_PROXIES": "not-a-cidr",
		"ALGA_MOBILE_LISTEN_ADDR":     "8080",
		"ALGA_MOBILE_DEV_IDP":         "maybe",
	})
	assert.ElementsMatch(t, []string{"NEXTAUTH_URL", "ALGA_MOBILE_OTT_TTL_SEC", "ALGA_MOBILE_HOST_ALLOWLIST",
		"ALGA_TRIAL_STARTED_AT", "ALGA_MOBILE_LOG_FORMAT", "ALGA_MOBILE_DATABASE_URL", "ALGA_MOBILE_TRUSTED_PROXIES",
		"ALGA_MOBILE_LISTEN_ADDR", "ALGA_MOBILE_DEV_IDP"}, vars(ps))
	assert.Contains(t, ps.Error(), "ALGA_MOBILE_OTT_TTL_SEC")
}

func TestDevIDPOnlyOnLoopback(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://localhost:8080", true},
		{"http://127.0.0.1:8080", true},
		{"http://[::1]:8080", true},
		{"https://psa.example.com", false},
		{"http://10.0.0.1", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			cfg, ps := load(t, map[string]string{"NEXTAUTH_URL": tt.url, "ALGA_MOBILE_DEV_IDP": "true"})
			if tt.ok {
				assert.Empty(t, ps)
				assert.True(t, cfg.DevIDP)
			} else {
				assert.Contains(t, vars(ps), "ALGA_MOBILE_DEV_IDP")
			}
		})
	}
}

func TestProvidersConfiguredOnlyWithIDAndSecret(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		google, ms bool
	}{
		{"none", nil, false, false},
		{"google both", map[string]string{"GOOGLE_OAUTH_CLIENT_ID": "id", "GOOGLE_OAUTH_CLIENT_SECRET": "s"}, true, false},
		{"google id only", map[string]string{"GOOGLE_OAUTH_CLIENT_ID": "id"}, false, false},
		{"google secret whitespace", map[string]string{"GOOGLE_OAUTH_CLIENT_ID": "id", "GOOGLE_OAUTH_CLIENT_SECRET": "   "}, false, false},
		{"microsoft both", map[string]string{"MICROSOFT_OAUTH_CLIENT_ID": "id", "MICROSOFT_OAUTH_CLIENT_SECRET": "s"}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ps := load(t, tt.env)
			require.Empty(t, ps)
			assert.Equal(t, tt.google, cfg.Google.Configured())
			assert.Equal(t, tt.ms, cfg.Microsoft.Configured())
		})
	}
	t.Run("issuer overrides", func(t *testing.T) {
		cfg, ps := load(t, map[string]string{"GOOGLE_OAUTH_ISSUER": "http://127.0.0.1:9999/", "MICROSOFT_OAUTH_AUTHORITY": "https://login.microsoftonline.us/t/v2.0", "MICROSOFT_OAUTH_TENANT_ID": "organizations"})
		require.Empty(t, ps)
		assert.Equal(t, "http://127.0.0.1:9999", cfg.Google.Issuer)
		assert.Equal(t, "https://login.microsoftonline.us/t/v2.0", cfg.Microsoft.Issuer)
		assert.Equal(t, "organizations", cfg.MicrosoftTenant)
	})
	t.Run("bad issuer", func(t *testing.T) {
		_, ps := load(t, map[string]string{"GOOGLE_OAUTH_ISSUER": "accounts.google.com"})
		assert.Equal(t, []string{"GOOGLE_OAUTH_ISSUER"}, vars(ps))
	})
}

func TestMicrosoftTenants(t *testing.T) {
	cfg, ps := load(t, nil)
	require.Empty(t, ps)
	assert.Empty(t, cfg.MicrosoftTenants)
	assert.True(t, cfg.MicrosoftMultiTenant(), "the default authority is common")
	cfg, ps = load(t, map[string]string{"ALGA_MOBILE_MICROSOFT_TENANTS": " 72F988BF-86F1-41AF-91AB-2D7CD011DB47, ,9f3c1e2a-5b6d-4c7e-8f90-1a2b3c4d5e6f "})
	require.Empty(t, ps)
	assert.Equal(t, []string{"72f988bf-86f1-41af-91ab-2d7cd011db47", "9f3c1e2a-5b6d-4c7e-8f90-1a2b3c4d5e6f"}, cfg.MicrosoftTenants)
	_, ps = load(t, map[string]string{"ALGA_MOBILE_MICROSOFT_TENANTS": "contoso.com"})
	assert.Equal(t, []string{"ALGA_MOBILE_MICROSOFT_TENANTS"}, vars(ps))
	cfg, _ = load(t, map[string]string{"MICROSOFT_OAUTH_TENANT_ID": "72f988bf-86f1-41af-91ab-2d7cd011db47"})
	assert.False(t, cfg.MicrosoftMultiTenant())
}

func TestSecretResolutionOrder(t *testing.T) {
	dir := t.TempDir()
	fileVar := filepath.Join(t.TempDir(), "secret.txt")
	require.NoError(t, os.WriteFile(fileVar, []byte("  from-file-var\n"), 0o600))

	t.Run("variable alone, trimmed", func(t *testing.T) {
		cfg, _ := load(t, map[string]string{"GOOGLE_OAUTH_CLIENT_SECRET": "  from-env \n"})
		assert.Equal(t, "from-env", cfg.Google.ClientSecret.Value())
	})
	t.Run("_FILE beats the variable", func(t *testing.T) {
		cfg, _ := load(t, map[string]string{"GOOGLE_OAUTH_CLIENT_SECRET": "from-env", "GOOGLE_OAUTH_CLIENT_SECRET_FILE": fileVar})
		assert.Equal(t, "from-file-var", cfg.Google.ClientSecret.Value())
	})
	t.Run("secrets directory beats both", func(t *testing.T) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "GOOGLE_OAUTH_CLIENT_SECRET"), []byte("from-dir\n"), 0o600))
		_, _ = load(t, map[string]string{"GOOGLE_OAUTH_CLIENT_SECRET": "from-env", "GOOGLE_OAUTH_CLIENT_SECRET_FILE": fileVar}) // sets the variables
		t.Setenv("SECRET_FS_BASE_PATH", dir)
		cfg, err := Load()
		require.NoError(t, err)
		assert.Equal(t, "from-dir", cfg.Google.ClientSecret.Value())
	})
	t.Run("unreadable _FILE is a problem naming the variable, not the content", func(t *testing.T) {
		_, ps := load(t, map[string]string{"ALGA_LICENSE_FILE": "/nonexistent/license.jwt"})
		require.Equal(t, []string{"ALGA_LICENSE"}, vars(ps))
		assert.Contains(t, ps[0].Message, "ALGA_LICENSE_FILE")
	})
	t.Run("license from ALGA_LICENSE_FILE", func(t *testing.T) {
		cfg, ps := load(t, map[string]string{"ALGA_LICENSE_FILE": fileVar})
		require.Empty(t, ps)
		assert.Equal(t, "from-file-var", cfg.License.Value())
		assert.Equal(t, FromFileVar, cfg.LicenseSource)
		assert.True(t, cfg.SelfHostLicensing())
	})
}

func TestSecretsNeverPrinted(t *testing.T) {
	cfg, _ := load(t, map[string]string{"GOOGLE_OAUTH_CLIENT_SECRET": "hunter2", "ALGA_MOBILE_DATABASE_URL": "postgres://u:hunter2@db/x"})
	for _, s := range []string{cfg.Google.ClientSecret.String(), cfg.DatabaseURL.String()} {
		assert.NotContains(t, s, "hunter2")
	}
	printed := strings.Join([]string{
		strings.TrimSpace(fmt.Sprintf("%v", cfg.Google)), fmt.Sprintf("%+v", *cfg), fmt.Sprintf("%#v", cfg.Google.ClientSecret),
	}, " ")
	assert.NotContains(t, printed, "hunter2")
	_, ps := load(t, map[string]string{"ALGA_MOBILE_DATABASE_URL": "mysql://u:hunter2@db/x"})
	assert.NotContains(t, ps.Error(), "hunter2")
}

func TestTrialStartedAt(t *testing.T) {
	cfg, ps := load(t, map[string]string{"ALGA_TRIAL_STARTED_AT": "2026-11-01T09:00:00Z"})
	require.Empty(t, ps)
	require.NotNil(t, cfg.TrialStartedAt)
	assert.Equal(t, time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC), cfg.TrialStartedAt.UTC())
	assert.True(t, cfg.SelfHostLicensing())
}

// ALGA_TRIAL_STARTED_AT stays RFC 3339 (SPEC §2), but a value in
// PostgreSQL's text format (what psql prints for SELECT trial_started_at
// FROM license_state) is told so, with the query that prints RFC 3339;
// nothing beyond the clipped value is echoed.
func TestTrialStartedAtRefusals(t *testing.T) {
	tests := []struct {
		name, value string
		postgres    bool
	}{
		{"psql's timestamptz", "2026-12-01 12:34:56.789012+00", true},
		{"psql's timestamptz with a half-hour zone", "2026-12-01 12:34:56+05:30", true},
		{"psql's timestamp without zone", "2026-12-01 12:34:56", true},
		{"a date only", "2026-12-01", false},
		{"a word", "soon", false},
		{"a long value", "2026-12-01 12:34:56.789012+00 and then a lot more text", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ps := load(t, map[string]string{"ALGA_TRIAL_STARTED_AT": tt.value})
			require.Equal(t, []string{"ALGA_TRIAL_STARTED_AT"}, vars(ps))
			assert.Nil(t, cfg.TrialStartedAt)
			p := ps[0]
			assert.Contains(t, p.Message, "must be an RFC 3339 time such as 2026-11-01T09:00:00Z")
			assert.Contains(t, p.Message, fmt.Sprintf("%q", clip(tt.value)))
			if len(tt.value) > 40 {
				assert.NotContains(t, p.Message, tt.value[40:], "only the clipped value is echoed")
			}
			if tt.postgres {
				assert.Contains(t, p.Message, "PostgreSQL's own text format, as psql prints it")
				assert.Contains(t, p.Message, `SELECT to_char(trial_started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') FROM license_state`)
				assert.Contains(t, p.Fix, "set ALGA_TRIAL_STARTED_AT to what that query prints")
			} else {
				assert.NotContains(t, p.Message, "to_char")
				assert.Empty(t, p.Fix)
			}
		})
	}
}

func TestAllowlistVariable(t *testing.T) {
	cfg, ps := load(t, map[string]string{"ALGA_MOBILE_HOST_ALLOWLIST": " PSA.example.com, ,other.example.com "})
	require.Empty(t, ps)
	assert.Equal(t, []string{"psa.example.com", "other.example.com"}, cfg.HostAllowlist)
}

func TestSecretKey(t *testing.T) {
	cfg, ps := load(t, nil)
	require.Empty(t, ps)
	assert.Nil(t, cfg.MasterKey())
	cfg, ps = load(t, map[string]string{"ALGA_MOBILE_SECRET_KEY": strongKey})
	require.Empty(t, ps)
	assert.Len(t, cfg.MasterKey(), len(strongKey))
	_, ps = load(t, map[string]string{"ALGA_MOBILE_SECRET_KEY": "too-short-key"})
	assert.Equal(t, []string{"ALGA_MOBILE_SECRET_KEY"}, vars(ps))
	assert.NotContains(t, ps.Error(), "too-short-key")
}

// strongKey is the shape `openssl rand -base64 48` prints.
const strongKey = "q7Vx2LrN0pW9nB4tK8sD1fH6yJ3mC5gAZe+R/uTo1ic2Xb7hM4kPqS0wYd9aFg3L"

// Issue 11 item 5: weak or example keys are refused, whatever their length.
func TestSecretKeyRefusesWeakAndExampleValues(t *testing.T) {
	for _, tt := range []struct {
		name, key, says string
	}{
		{"32 × a", strings.Repeat("a", 32), "too predictable"},
		{"32 × k", strings.Repeat("k", 32), "too predictable"},
		{"the old Kubernetes example", "change-me-to-48-random-base64-characters-0123456789", "published example"},
		{"a placeholder", "please-CHANGE-ME-before-production-xyz", "placeholder"},
		{"a counting sequence", "abcdefghijklmnopqrstuvwxyz0123456789", "too predictable"},
		{"a short pattern repeated", strings.Repeat("Xy7!", 12), "too predictable"},
		{"hex digits counted twice", "0123456789abcdef0123456789abcdef", "too predictable"},
		{"a random block repeated", strings.Repeat("k3Vq8wY1sQ0bH7nR", 2), "too predictable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := load(t, map[string]string{"ALGA_MOBILE_SECRET_KEY": tt.key})
			require.Equal(t, []string{"ALGA_MOBILE_SECRET_KEY"}, vars(ps))
			assert.Contains(t, ps.Error(), tt.says)
			assert.Contains(t, ps.Error(), "openssl rand -base64 48")
			assert.NotContains(t, ps.Error(), tt.key, "the value itself is never printed")
		})
	}
	for _, key := range []string{strongKey, "k3Vq8wY1sQ0bH7nR2xL5pT9mC4fJ6dG8aE1zU3iO7yW2",
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", // openssl rand -hex 32
		"correct horse battery staple, then 3 more words: mauve quill fjord"} {
		_, ps := load(t, map[string]string{"ALGA_MOBILE_SECRET_KEY": key})
		assert.Empty(t, ps, "%s: %.0f bits", key, EstimateKeyBits(key))
	}
}

func TestMoreVariableRules(t *testing.T) {
	_, ps := load(t, map[string]string{"NEXTAUTH_URL": "http://localhost:8080", "ALGA_MOBILE_DEV_IDP": "true", "ALGA_MOBILE_DEV_IDP_ADDR": "0.0.0.0:8081"})
	assert.Equal(t, []string{"ALGA_MOBILE_DEV_IDP_ADDR"}, vars(ps), "the development provider listens on loopback only")

	_, ps = load(t, map[string]string{"ALGA_MOBILE_OTT_TTL_SEC": "99999999999999999999"})
	require.Len(t, ps, 1)
	assert.Contains(t, ps[0].Message, "too large")

	// An empty file in the secrets directory does not hide the variable.
	cleanEnv(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "GOOGLE_OAUTH_CLIENT_SECRET"), []byte("\n"), 0o600))
	t.Setenv("SECRET_FS_BASE_PATH", dir)
	t.Setenv("GOOGLE_OAUTH_CLIENT_SECRET", "from-env")
	cfg, err := Load()
	require.NoError(t, err)
	assert.Equal(t, "from-env", cfg.Google.ClientSecret.Value())
}
