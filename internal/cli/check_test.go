package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkEnv clears every variable check reads, then sets env.
func checkEnv(t *testing.T, env map[string]string) {
	t.Helper()
	adminEnv(t)
	for _, k := range []string{"NEXTAUTH_URL", "EDITION", "NEXT_PUBLIC_EDITION", "ALGA_LICENSE", "ALGA_LICENSE_FILE",
		"ALGA_LICENSE_PUBLIC_KEYS", "ALGA_TRIAL_STARTED_AT", "GOOGLE_OAUTH_CLIENT_ID", "GOOGLE_OAUTH_CLIENT_SECRET",
		"MICROSOFT_OAUTH_CLIENT_ID", "MICROSOFT_OAUTH_CLIENT_SECRET", "ALGA_MOBILE_HOST_ALLOWLIST", "ALGA_MOBILE_DEV_IDP",
		"ALGA_MOBILE_REDIS_URL", "ALGA_MOBILE_SECRET_KEY", "MICROSOFT_OAUTH_TENANT_ID", "ALGA_MOBILE_MICROSOFT_TENANTS"} {
		t.Setenv(k, "")
		require.NoError(t, os.Unsetenv(k))
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// licenseFixture makes a P-256 key, publishes it as <kid>.pem in a fresh
// directory, and signs a license expiring at exp.
func licenseFixture(t *testing.T, exp time.Time) (keysDir, token string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	keysDir = t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(keysDir, "test-kid.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600))
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": "nineminds-license", "sub": "lic-1", "cust": "Acme MSP",
		"tier": "pro", "iat": exp.Add(-365 * 24 * time.Hour).Unix(), "exp": exp.Unix()})
	tok.Header["kid"] = "test-kid"
	token, err = tok.SignedString(key)
	require.NoError(t, err)
	return keysDir, token
}

// testSecretKey is a strong ALGA_MOBILE_SECRET_KEY (openssl rand -base64 48).
const testSecretKey = "q7Vx2LrN0pW9nB4tK8sD1fH6yJ3mC5gAZe+R/uTo1ic2Xb7hM4kPqS0wYd9aFg3L"

func TestCheckReports(t *testing.T) {
	keys, valid := licenseFixture(t, time.Now().Add(180*24*time.Hour))

	tests := []struct {
		name     string
		env      map[string]string
		code     int
		contains []string
	}{
		{"community install", map[string]string{"NEXTAUTH_URL": "https://psa.example.com",
			"GOOGLE_OAUTH_CLIENT_ID": "id", "GOOGLE_OAUTH_CLIENT_SECRET": "gs-9f8e7d"}, ExitFail,
			[]string{"[error]   EDITION", "Community Edition", "fix: set EDITION=ee"}},
		{"missing NEXTAUTH_URL and no provider", map[string]string{"EDITION": "ee"}, ExitFail,
			[]string{"[error]   NEXTAUTH_URL", "is not set", "[error]   SSO", "no provider is configured"}},
		{"half-configured provider", map[string]string{"NEXTAUTH_URL": "https://psa.example.com", "EDITION": "ee",
			"MICROSOFT_OAUTH_CLIENT_ID": "id"}, ExitFail,
			[]string{"MICROSOFT_OAUTH_CLIENT_ID is set but MICROSOFT_OAUTH_CLIENT_SECRET is not"}},
		{"allowlist excludes own host", map[string]string{"NEXTAUTH_URL": "https://psa.example.com", "EDITION": "ee",
			"GOOGLE_OAUTH_CLIENT_ID": "id", "GOOGLE_OAUTH_CLIENT_SECRET": "gs-9f8e7d", "ALGA_MOBILE_HOST_ALLOWLIST": "other.example.com"}, ExitFail,
			[]string{"[error]   ALGA_MOBILE_HOST_ALLOWLIST", "every phone will be blocked", "add psa.example.com"}},
		{"license without keys", map[string]string{"NEXTAUTH_URL": "https://psa.example.com", "EDITION": "ee",
			"GOOGLE_OAUTH_CLIENT_ID": "id", "GOOGLE_OAUTH_CLIENT_SECRET": "gs-9f8e7d", "ALGA_LICENSE": valid}, ExitFail,
			[]string{"reason: no_keys", "ALGA_LICENSE_PUBLIC_KEYS"}},
		{"fully configured enterprise", map[string]string{"NEXTAUTH_URL": "https://psa.example.com", "EDITION": "ee",
			"GOOGLE_OAUTH_CLIENT_ID": "id", "GOOGLE_OAUTH_CLIENT_SECRET": "gs-9f8e7d", "ALGA_LICENSE": valid,
			"ALGA_LICENSE_PUBLIC_KEYS": keys, "ALGA_MOBILE_SECRET_KEY": testSecretKey}, ExitOK,
			[]string{"[ok]      ALGA_LICENSE", "customer Acme MSP, tier pro", "No errors"}},
		{"http on a public host", map[string]string{"NEXTAUTH_URL": "http://psa.example.com", "EDITION": "ee",
			"GOOGLE_OAUTH_CLIENT_ID": "id", "GOOGLE_OAUTH_CLIENT_SECRET": "gs-9f8e7d", "ALGA_TRIAL_STARTED_AT": time.Now().UTC().Format(time.RFC3339)}, ExitFail,
			[]string{"[error]   NEXTAUTH_URL", "only connects to https"}},
		{"microsoft multi-tenant without a tenant list", map[string]string{"NEXTAUTH_URL": "https://psa.example.com", "EDITION": "ee",
			"MICROSOFT_OAUTH_CLIENT_ID": "id", "MICROSOFT_OAUTH_CLIENT_SECRET": "gs-9f8e7d", "MICROSOFT_OAUTH_TENANT_ID": "organizations", "ALGA_MOBILE_SECRET_KEY": testSecretKey}, ExitOK,
			[]string{"[warning] ALGA_MOBILE_MICROSOFT_TENANTS", "MICROSOFT_OAUTH_TENANT_ID is organizations", "fix: set ALGA_MOBILE_MICROSOFT_TENANTS"}},
		{"microsoft multi-tenant with a tenant list", map[string]string{"NEXTAUTH_URL": "https://psa.example.com", "EDITION": "ee",
			"MICROSOFT_OAUTH_CLIENT_ID": "id", "MICROSOFT_OAUTH_CLIENT_SECRET": "gs-9f8e7d", "ALGA_MOBILE_MICROSOFT_TENANTS": "72f988bf-86f1-41af-91ab-2d7cd011db47", "ALGA_MOBILE_SECRET_KEY": testSecretKey}, ExitOK,
			[]string{"[ok]      ALGA_MOBILE_MICROSOFT_TENANTS", "72f988bf-86f1-41af-91ab-2d7cd011db47"}},
		{"public install without a secret key", map[string]string{"NEXTAUTH_URL": "https://psa.example.com", "EDITION": "ee",
			"GOOGLE_OAUTH_CLIENT_ID": "id", "GOOGLE_OAUTH_CLIENT_SECRET": "gs-9f8e7d", "ALGA_LICENSE": valid,
			"ALGA_LICENSE_PUBLIC_KEYS": keys}, ExitFail,
			[]string{"[error]   ALGA_MOBILE_SECRET_KEY", "not set on a public install (https://psa.example.com)", "fix: set ALGA_MOBILE_SECRET_KEY to the output of `openssl rand -base64 48`"}},
		{"loopback install without a secret key", map[string]string{"NEXTAUTH_URL": "http://localhost:8080", "EDITION": "ee",
			"GOOGLE_OAUTH_CLIENT_ID": "id", "GOOGLE_OAUTH_CLIENT_SECRET": "gs-9f8e7d", "ALGA_LICENSE": valid,
			"ALGA_LICENSE_PUBLIC_KEYS": keys}, ExitOK,
			[]string{"[warning] ALGA_MOBILE_SECRET_KEY", "tolerated on a loopback test install only"}},
		{"weak secret key", map[string]string{"NEXTAUTH_URL": "https://psa.example.com", "EDITION": "ee",
			"GOOGLE_OAUTH_CLIENT_ID": "id", "GOOGLE_OAUTH_CLIENT_SECRET": "gs-9f8e7d", "ALGA_LICENSE": valid,
			"ALGA_LICENSE_PUBLIC_KEYS": keys, "ALGA_MOBILE_SECRET_KEY": strings.Repeat("a", 32)}, ExitFail,
			[]string{"[error]   ALGA_MOBILE_SECRET_KEY", "too predictable"}},
		{"bad variables all reported", map[string]string{"NEXTAUTH_URL": "https://psa.example.com/app", "EDITION": "ee",
			"ALGA_MOBILE_OTT_TTL_SEC": "-1", "ALGA_TRIAL_STARTED_AT": "soon"}, ExitFail,
			[]string{"NEXTAUTH_URL", "ALGA_MOBILE_OTT_TTL_SEC", "ALGA_TRIAL_STARTED_AT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkEnv(t, tt.env)
			r := adminRun(t, "check")
			assert.Equal(t, tt.code, r.code, r.stdout)
			for _, want := range tt.contains {
				assert.Contains(t, r.stdout, want)
			}
			assert.NotContains(t, r.stdout, "gs-9f8e7d")
			assert.NotContains(t, r.stdout, valid[:40], "the license itself is never printed")
		})
	}
	t.Run("expired enterprise license", func(t *testing.T) {
		expiredKeys, expiredTok := licenseFixture(t, time.Now().Add(-48*time.Hour))
		checkEnv(t, map[string]string{"NEXTAUTH_URL": "https://psa.example.com", "EDITION": "ee",
			"GOOGLE_OAUTH_CLIENT_ID": "id", "GOOGLE_OAUTH_CLIENT_SECRET": "gs-9f8e7d", "ALGA_LICENSE": expiredTok,
			"ALGA_LICENSE_PUBLIC_KEYS": expiredKeys})
		r := adminRun(t, "check")
		assert.Equal(t, ExitFail, r.code)
		assert.Contains(t, r.stdout, "(reason: expired)")
		assert.Contains(t, r.stdout, "[error]   license tier")
	})
	t.Run("check does not create the SQLite database", func(t *testing.T) {
		checkEnv(t, map[string]string{"NEXTAUTH_URL": "https://psa.example.com", "EDITION": "ee"})
		path := filepath.Join(t.TempDir(), "sub", "never.db")
		t.Setenv("ALGA_MOBILE_DATABASE_URL", "sqlite:"+path)
		r := adminRun(t, "check")
		assert.Contains(t, r.stdout, "will be created at first start")
		_, err := os.Stat(path)
		assert.True(t, os.IsNotExist(err))
	})
}

func TestBareCommandSaysWhatIsMissing(t *testing.T) {
	r := adminRun(t)
	assert.Equal(t, ExitUsage, r.code)
	assert.True(t, strings.HasPrefix(r.stderr, "alga-mobile-auth: missing command"), r.stderr)
	r = adminRun(t, "users")
	assert.Equal(t, ExitUsage, r.code)
	assert.True(t, strings.HasPrefix(r.stderr, "alga-mobile-auth users: missing command"), r.stderr)
}

func TestCheckExplainsTrustedProxiesInAContainer(t *testing.T) {
	tests := []struct {
		name      string
		proxies   string
		container bool
		want      []string
	}{
		{"default in a container", "", true, []string{"[warning] ALGA_MOBILE_TRUSTED_PROXIES", "loopback only, but this runs in a container",
			"bridge network's gateway (e.g. 172.17.0.1)", "one rate-limit bucket", "fix: set ALGA_MOBILE_TRUSTED_PROXIES to the address the proxy connects from"}},
		{"default on the host", "", false, []string{"[ok]      ALGA_MOBILE_TRUSTED_PROXIES", "loopback only: X-Forwarded-For is believed from a reverse proxy on this host"}},
		{"set", "172.18.0.1, 10.42.7.0/24", true, []string{"[ok]      ALGA_MOBILE_TRUSTED_PROXIES", "172.18.0.1,10.42.7.0/24"}},
		{"a whole private network", "172.18.0.1, 10.0.0.0/8", true, []string{"[warning] ALGA_MOBILE_TRUSTED_PROXIES",
			"10.0.0.0/8 is a whole network", "dodging the per-client rate limits", "fix: list the proxy's own address"}},
		{"a wide IPv6 range", "2001:db8::/48", false, []string{"[warning] ALGA_MOBILE_TRUSTED_PROXIES", "2001:db8::/48 is a whole network"}},
		{"an IPv6 subnet", "2001:db8:0:1::/64", false, []string{"[ok]      ALGA_MOBILE_TRUSTED_PROXIES", "2001:db8:0:1::/64"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkEnv(t, map[string]string{"NEXTAUTH_URL": "https://psa.example.com", "EDITION": "ee", "ALGA_MOBILE_TRUSTED_PROXIES": tc.proxies})
			saved := inContainer
			inContainer = func() bool { return tc.container }
			t.Cleanup(func() { inContainer = saved })
			r := adminRun(t, "check", "--offline")
			for _, w := range tc.want {
				assert.Contains(t, r.stdout, w)
			}
			if strings.HasPrefix(tc.want[0], "[ok]") {
				assert.NotContains(t, r.stdout, "[warning] ALGA_MOBILE_TRUSTED_PROXIES")
			}
		})
	}
}

// Issue 13 point 8: check's rough edges.
func TestCheckRoughEdges(t *testing.T) {
	key, err := newSecretKey(rand.Reader)
	require.NoError(t, err)
	base := map[string]string{"NEXTAUTH_URL": "https://psa.example.com", "EDITION": "ee",
		"GOOGLE_OAUTH_CLIENT_ID": "id", "GOOGLE_OAUTH_CLIENT_SECRET": "gs-9f8e7d", "ALGA_MOBILE_SECRET_KEY": key}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		env  map[string]string
		code int
		want []string
	}{
		{"an unknown edition is an error", with("EDITION", "enterprize"), ExitFail,
			[]string{`[error]   EDITION                      "enterprize" is not an edition: it means Community Edition`, "fix: set EDITION=ee for Enterprise Edition"}},
		{"a URL-shaped allowlist entry still reports the missing own host", with("ALGA_MOBILE_HOST_ALLOWLIST", "https://psa.example.com"), ExitFail,
			[]string{"is a URL; write only the host name", "no valid entry is psa.example.com (the host of NEXTAUTH_URL): every phone will be blocked",
				"fix: write host names only and include psa.example.com"}},
		{"enterprise without license or trial says hosted", with(), ExitOK,
			[]string{"[warning] licensing", "hosted: each tenant's plan decides", "fix: self-hosting? set ALGA_LICENSE_FILE"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkEnv(t, tc.env)
			r := adminRun(t, "check", "--offline")
			assert.Equal(t, tc.code, r.code, r.stdout)
			for _, w := range tc.want {
				assert.Contains(t, r.stdout, w)
			}
		})
	}
	t.Run("NEXT_PUBLIC_EDITION=enterprise wins over an empty EDITION", func(t *testing.T) {
		checkEnv(t, with("EDITION", "", "NEXT_PUBLIC_EDITION", "enterprise"))
		r := adminRun(t, "check", "--offline")
		assert.Contains(t, r.stdout, "[ok]      EDITION")
	})
	t.Run("a connection error is printed once", func(t *testing.T) {
		checkEnv(t, with("ALGA_MOBILE_DATABASE_URL", "postgres://u:pw-4c2d@127.0.0.1:1/x?connect_timeout=2"))
		r := adminRun(t, "check")
		assert.Equal(t, ExitFail, r.code)
		assert.Equal(t, 1, strings.Count(r.stdout, "connection refused"), r.stdout)
		assert.NotContains(t, r.stdout, "pw-4c2d")
	})
}

// Every error check can report comes with a fix line.
func TestCheckEveryErrorHasAFix(t *testing.T) {
	keys, valid := licenseFixture(t, time.Now().Add(180*24*time.Hour))
	_, expired := licenseFixture(t, time.Now().Add(-48*time.Hour))
	envs := []map[string]string{
		{"EDITION": "enterprize"},
		{"NEXTAUTH_URL": "https://psa.example.com/app", "EDITION": "ee", "ALGA_MOBILE_OTT_TTL_SEC": "-1", "ALGA_TRIAL_STARTED_AT": "soon",
			"ALGA_MOBILE_HOST_ALLOWLIST": "https://x", "ALGA_MOBILE_DATABASE_URL": "mysql://x", "ALGA_MOBILE_REDIS_URL": "memcache://x",
			"ALGA_MOBILE_SECRET_KEY": "short", "ALGA_MOBILE_TRUSTED_PROXIES": "proxy", "ALGA_MOBILE_LISTEN_ADDR": "nowhere",
			"ALGA_MOBILE_DEV_IDP": "true", "ALGA_MOBILE_LOG_FORMAT": "xml", "ALGA_MOBILE_ACCESS_TTL_SEC": "x"},
		{"NEXTAUTH_URL": "http://psa.example.com", "EDITION": "ee", "MICROSOFT_OAUTH_CLIENT_ID": "id", "GOOGLE_OAUTH_CLIENT_SECRET": "s"},
		{"NEXTAUTH_URL": "https://psa.example.com", "EDITION": "ee", "ALGA_LICENSE": valid},
		{"NEXTAUTH_URL": "https://psa.example.com", "EDITION": "ee", "ALGA_LICENSE": expired, "ALGA_LICENSE_PUBLIC_KEYS": keys},
		{"NEXTAUTH_URL": "https://psa.example.com", "EDITION": "ee", "ALGA_LICENSE": "not.a.jwt", "ALGA_LICENSE_PUBLIC_KEYS": keys,
			"ALGA_MOBILE_HOST_ALLOWLIST": "other.example.com", "ALGA_MOBILE_REDIS_URL": "redis://127.0.0.1:1"},
		{"NEXTAUTH_URL": "https://psa.example.com", "EDITION": "ee", "ALGA_MOBILE_DATABASE_URL": "postgres://u@127.0.0.1:1/x?connect_timeout=2"},
	}
	errorsSeen := 0
	for _, env := range envs {
		checkEnv(t, env)
		r := adminRun(t, "check")
		lines := strings.Split(r.stdout, "\n")
		for i, l := range lines {
			if !strings.HasPrefix(l, "[error]") {
				continue
			}
			errorsSeen++
			if assert.Less(t, i+1, len(lines)) {
				assert.Contains(t, lines[i+1], "fix: ", "%s", l)
			}
		}
	}
	assert.Greater(t, errorsSeen, 20)
}
