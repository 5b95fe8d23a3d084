package cli

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/config"
)

// fixCase is one configuration and what check must (and must not) print
// about it: the operator review's cases, each a wrong or confusing line.
type fixCase struct {
	name    string
	env     map[string]string
	code    int
	want    []string
	notWant []string
}

// runFixCases runs check --offline for every case.
func runFixCases(t *testing.T, tests []fixCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			applianceEnv(t, tc.env)
			r := adminRun(t, "check", "--offline")
			assert.Equal(t, tc.code, r.code, r.stdout)
			for _, w := range tc.want {
				assert.Contains(t, r.stdout, w)
			}
			for _, w := range tc.notWant {
				assert.NotContains(t, r.stdout, w)
			}
		})
	}
}

// withBase is a working Enterprise configuration plus kv.
func withBase(kv ...string) map[string]string {
	m := map[string]string{"NEXTAUTH_URL": "https://psa.example.com", "EDITION": "ee",
		"GOOGLE_OAUTH_CLIENT_ID": "id", "GOOGLE_OAUTH_CLIENT_SECRET": "gs-9f8e7d", "ALGA_MOBILE_SECRET_KEY": testSecretKey}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// A bad ALGA_MOBILE_TRUSTED_PROXIES gets single-address examples: the
// docs say never to trust a whole private network.
func TestCheckTrustedProxiesFixGivesSingleAddresses(t *testing.T) {
	runFixCases(t, []fixCase{
		{"a host name instead of an address", withBase("ALGA_MOBILE_TRUSTED_PROXIES", "proxy"), ExitFail,
			[]string{"[error]   ALGA_MOBILE_TRUSTED_PROXIES", "fix: list the proxy's own IP addresses (or single-address CIDRs) separated by commas, e.g. 172.18.0.1 or 192.0.2.10/32"},
			[]string{"10.0.0.0/8", ".0/8", ".0/12", ".0/16"}},
		{"the container default's fix names one address, not a subnet", withBase("KUBERNETES_SERVICE_HOST", "10.96.0.1"), ExitOK,
			[]string{"[warning] ALGA_MOBILE_TRUSTED_PROXIES", "the proxy container's own address (one address, never a whole network"},
			[]string{"subnet"}},
		{"a prefix too long", withBase("ALGA_MOBILE_TRUSTED_PROXIES", "172.18.0.1/40"), ExitFail,
			[]string{"such as 192.0.2.10/32"}, []string{"10.0.0.0/8"}},
	})
}

// unreadableSecrets is a secrets directory where each named secret is
// there but cannot be read: a directory in its place (the tests run as
// root, who may read any file; config's own tests cover permission
// denied), so that check runs on a real configuration.
func unreadableSecrets(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		require.NoError(t, os.Mkdir(filepath.Join(dir, n), 0o700))
	}
	return dir
}

// A secret that is there but unreadable is reported once, as its own
// error: no "not set" warning and no "no provider" error as follow-ons
// that contradict it.
func TestCheckUnreadableSecretIsReportedOnce(t *testing.T) {
	appliance := func(dir string, kv ...string) map[string]string {
		m := map[string]string{"NEXTAUTH_URL": "https://psa.example.com", "EDITION": "ee", "ALGA_MOBILE_SECRET_KEY": testSecretKey,
			"SECRET_FS_BASE_PATH": dir, "DB_HOST": "127.0.0.1", "DB_PORT": "1", "DB_PASSWORD_SERVER": "pw-4c2d",
			"ALGA_TRIAL_STARTED_AT": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	licenseDir := unreadableSecrets(t, "license.jwt")
	runFixCases(t, []fixCase{
		{"NEXTAUTH_SECRET on an appliance without providers", appliance(unreadableSecrets(t, "nextauth_secret")), ExitFail,
			[]string{"[error]   NEXTAUTH_SECRET              cannot read nextauth_secret from the secrets directory", "[ok]      mode                         appliance"},
			[]string{"[warning] NEXTAUTH_SECRET", "no provider is configured", "as the line above says"}},
		{"a provider's secret", withBase("SECRET_FS_BASE_PATH", unreadableSecrets(t, "GOOGLE_OAUTH_CLIENT_SECRET"), "GOOGLE_OAUTH_CLIENT_SECRET", ""), ExitFail,
			[]string{"[error]   GOOGLE_OAUTH_CLIENT_SECRET   cannot read GOOGLE_OAUTH_CLIENT_SECRET from the secrets directory"},
			[]string{"GOOGLE_OAUTH_CLIENT_ID is set but GOOGLE_OAUTH_CLIENT_SECRET is not", "no provider is configured"}},
		{"the license", withBase("ALGA_LICENSE_FILE", filepath.Join(licenseDir, "license.jwt")), ExitFail,
			[]string{"[error]   ALGA_LICENSE                 ALGA_LICENSE_FILE points at"},
			[]string{"no ALGA_LICENSE, ALGA_LICENSE_FILE or ALGA_TRIAL_STARTED_AT is set"}},
		{"AlgaPSA's database URL keeps appliance mode", withBase("SECRET_FS_BASE_PATH", unreadableSecrets(t, "ALGA_PSA_DATABASE_URL")), ExitFail,
			[]string{"[error]   ALGA_PSA_DATABASE_URL", "[ok]      mode                         appliance"},
			[]string{"standalone"}},
	})
}

// serve's refusal prints the problem's own fix (a permission problem
// names the uid and what gives it access), not "correct … as the line
// above says".
func TestServeRefusalPrintsTheProblemsOwnFix(t *testing.T) {
	checkEnv(t, withBase())
	cfg, err := config.Load()
	require.NoError(t, err)
	const fix = "/run/secrets/nextauth_secret exists but this service's user (uid 65532) cannot read it: give the service's user read access"
	tests := []struct {
		name    string
		problem config.Problem
		want    string
	}{
		{"a fix of its own", config.Problem{Var: "NEXTAUTH_SECRET", Message: "cannot read nextauth_secret from the secrets directory /run/secrets: permission denied", Fix: fix},
			"fix: " + fix},
		{"none: the variable's fix", config.Problem{Var: "ALGA_MOBILE_OTT_TTL_SEC", Message: "must be positive, got -1"},
			"fix: set ALGA_MOBILE_OTT_TTL_SEC to a positive whole number of seconds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := BuildReport(context.Background(), cfg, config.Problems{tc.problem}, time.Now, false)
			var out bytes.Buffer
			r.Fatal().writeFindings(&out)
			assert.Contains(t, out.String(), tc.want)
			assert.Equal(t, 1, strings.Count(out.String(), "fix: "), out.String())
		})
	}
}

// An ALGA_TRIAL_STARTED_AT copied from psql is refused with the query
// that prints RFC 3339, and a set-but-invalid trial (or license) is not
// also reported as "none is set".
func TestCheckInvalidTrialIsNotCalledUnset(t *testing.T) {
	const psql = "2026-12-01 12:34:56.789012+00"
	appliance := []string{"DB_HOST", "127.0.0.1", "DB_PORT", "1", "DB_PASSWORD_SERVER", "pw-4c2d", "NEXTAUTH_SECRET", "web-secret"}
	runFixCases(t, []fixCase{
		{"standalone, psql's format", withBase("ALGA_TRIAL_STARTED_AT", psql), ExitFail,
			[]string{"[error]   ALGA_TRIAL_STARTED_AT", "PostgreSQL's own text format", config.TrialStartedAtQuery,
				"fix: set ALGA_TRIAL_STARTED_AT to what that query prints"},
			[]string{"no ALGA_LICENSE, ALGA_LICENSE_FILE or ALGA_TRIAL_STARTED_AT is set", "[warning] licensing"}},
		{"appliance, psql's format", withBase(append(appliance, "ALGA_TRIAL_STARTED_AT", psql)...), ExitFail,
			[]string{"[error]   ALGA_TRIAL_STARTED_AT", config.TrialStartedAtQuery},
			[]string{"no ALGA_LICENSE, ALGA_LICENSE_FILE or ALGA_TRIAL_STARTED_AT is set", "[warning] licensing"}},
		{"appliance without license or trial: the advice gives the RFC 3339 query", withBase(appliance...), ExitOK,
			[]string{"[warning] licensing", "no ALGA_LICENSE, ALGA_LICENSE_FILE or ALGA_TRIAL_STARTED_AT is set", config.TrialStartedAtQuery},
			nil},
	})
}

// Keys are needed only by a configured license: the Kubernetes manifest
// always sets ALGA_LICENSE_PUBLIC_KEYS from an optional ConfigMap, which
// mounts as an empty directory when it does not exist, while a trial (or
// hosted licensing) works without any key.
func TestCheckLicenseKeysNeededOnlyByALicense(t *testing.T) {
	keys, valid := licenseFixture(t, time.Now().Add(180*24*time.Hour))
	empty := t.TempDir()
	missing := filepath.Join(t.TempDir(), "license-keys")
	garbled := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(garbled, "v1.pem"), []byte("not a key"), 0o600))
	trial := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	const noLicense = "no license configured; keys are needed only once one is"
	runFixCases(t, []fixCase{
		{"trial with an empty key directory", withBase("ALGA_TRIAL_STARTED_AT", trial, "ALGA_LICENSE_PUBLIC_KEYS", empty), ExitOK,
			[]string{"[ok]      ALGA_LICENSE_PUBLIC_KEYS", noLicense, "[ok]      license tier                 pro"},
			[]string{"[error]   ALGA_LICENSE_PUBLIC_KEYS", "mobile sign-in cannot work"}},
		{"nothing configured, empty key directory", withBase("ALGA_LICENSE_PUBLIC_KEYS", empty), ExitOK,
			[]string{"[ok]      ALGA_LICENSE_PUBLIC_KEYS", noLicense}, []string{"[error]   ALGA_LICENSE_PUBLIC_KEYS"}},
		{"trial with a key path that does not exist", withBase("ALGA_TRIAL_STARTED_AT", trial, "ALGA_LICENSE_PUBLIC_KEYS", missing), ExitOK,
			[]string{"[ok]      ALGA_LICENSE_PUBLIC_KEYS", noLicense}, []string{"[error]   ALGA_LICENSE_PUBLIC_KEYS"}},
		{"trial with a key file that is not a key: a warning", withBase("ALGA_TRIAL_STARTED_AT", trial, "ALGA_LICENSE_PUBLIC_KEYS", garbled), ExitOK,
			[]string{"[warning] ALGA_LICENSE_PUBLIC_KEYS", "no license is configured yet"}, []string{"[error]   ALGA_LICENSE_PUBLIC_KEYS"}},
		{"a license with an empty key directory is an error", withBase("ALGA_LICENSE", valid, "ALGA_LICENSE_PUBLIC_KEYS", empty), ExitFail,
			[]string{"[error]   ALGA_LICENSE_PUBLIC_KEYS     license public keys: no <kid>.pem files in " + empty, "reason: no_keys"},
			[]string{"ALGA_LICENSE_PUBLIC_KEYS: ALGA_LICENSE_PUBLIC_KEYS", "ALGA_LICENSE_PUBLIC_KEYS     ALGA_LICENSE_PUBLIC_KEYS"}},
		{"a license with its keys", withBase("ALGA_LICENSE", valid, "ALGA_LICENSE_PUBLIC_KEYS", keys), ExitOK,
			[]string{"[ok]      ALGA_LICENSE                 valid"}, []string{"ALGA_LICENSE_PUBLIC_KEYS"}},
	})
}

// serve's startup log names ALGA_LICENSE_PUBLIC_KEYS once per line, and
// says nothing about keys while no license needs them.
func TestServeLogsLicenseKeysOnlyWhenNeeded(t *testing.T) {
	_, valid := licenseFixture(t, time.Now().Add(180*24*time.Hour))
	empty := t.TempDir()
	tests := []struct {
		name    string
		env     map[string]string
		want    []string
		notWant []string
	}{
		{"trial, empty key directory", map[string]string{"ALGA_LICENSE_PUBLIC_KEYS": empty},
			[]string{`"mobile_enabled":true`, `"tier":"pro"`}, []string{"ALGA_LICENSE_PUBLIC_KEYS", "license_keys_error"}},
		{"license, empty key directory", map[string]string{"ALGA_LICENSE_PUBLIC_KEYS": empty, "ALGA_LICENSE": valid},
			[]string{`"msg":"ALGA_LICENSE_PUBLIC_KEYS: license public keys: no <kid>.pem files in`, "license_keys_error"},
			[]string{"ALGA_LICENSE_PUBLIC_KEYS: ALGA_LICENSE_PUBLIC_KEYS"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			serveEnv(t, tc.env)
			log := serveBriefly(t)
			for _, w := range tc.want {
				assert.Contains(t, log, w)
			}
			for _, w := range tc.notWant {
				assert.NotContains(t, log, w)
			}
		})
	}
}

// serveBriefly runs serve until it listens, stops it, and returns its log.
func serveBriefly(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- Main(ctx, []string{"serve"}, &stdout, &stderr, "test") }()
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "listening") },
		20*time.Second, 20*time.Millisecond, "serve did not start: %s", stderr.String())
	cancel()
	select {
	case code := <-done:
		assert.Equal(t, ExitOK, code, stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	return stderr.String()
}

// A key source the service's user may not open gets a fix naming that
// user, whether or not a license needs the keys yet (the tests run as
// root, who may open anything, so the error is made here).
func TestCheckLicenseKeysClosedToTheServiceUser(t *testing.T) {
	closed := &fs.PathError{Op: "open", Path: "/etc/alga-mobile-auth/license-keys", Err: syscall.EACCES}
	uid := fmt.Sprintf("uid %d", os.Getuid())
	tests := []struct {
		name     string
		license  config.Secret
		severity Severity
	}{
		{"no license yet: a warning", "", Warning},
		{"a license: an error", "a.b.c", Error},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &config.Config{License: tc.license, LicensePublicKeys: "/etc/alga-mobile-auth/license-keys"}
			var r Report
			checkLicenseKeys(&r, cfg, fmt.Errorf("license public keys: %w", closed), nil)
			require.Len(t, r, 1)
			assert.Equal(t, tc.severity, r[0].Severity)
			assert.Contains(t, r[0].Fix, "give this service's user ("+uid+") read access to /etc/alga-mobile-auth/license-keys")
		})
	}
}
