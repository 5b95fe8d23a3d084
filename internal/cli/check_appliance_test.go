package cli

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/config"
)

var applianceVars = []string{"ALGA_PSA_DATABASE_URL", "ALGA_PSA_DATABASE_URL_FILE", "DB_HOST", "DB_PORT", "DB_NAME_SERVER",
	"DB_USER_SERVER", "DB_PASSWORD_SERVER", "DB_PASSWORD_SERVER_FILE", "NEXTAUTH_SECRET", "NEXTAUTH_SECRET_FILE", "ALGA_MOBILE_AUTHJS_COOKIE"}

// applianceEnv clears what check reads, then sets env.
func applianceEnv(t *testing.T, env map[string]string) {
	t.Helper()
	checkEnv(t, nil)
	for _, k := range applianceVars {
		t.Setenv(k, "")
		require.NoError(t, os.Unsetenv(k))
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// applianceReport runs the appliance part of check and returns its text.
func applianceReport(t *testing.T, env map[string]string) (string, Report) {
	t.Helper()
	applianceEnv(t, env)
	cfg, err := config.Load()
	var ps config.Problems
	bad := map[string]bool{}
	if errors.As(err, &ps) {
		for _, p := range ps {
			bad[p.Var] = true
		}
	}
	var r Report
	checkAppliance(context.Background(), &r, cfg, true, bad)
	var out bytes.Buffer
	r.Write(&out)
	return out.String(), r
}

// wrongPasswordServer is a PostgreSQL server that asks for a password and
// refuses it (see algapsatest.PasswordRefusingServer).
func wrongPasswordServer(t *testing.T) (host string, port int, passwords chan string) {
	return algapsatest.PasswordRefusingServer(t)
}

func TestCheckApplianceStandalone(t *testing.T) {
	out, r := applianceReport(t, nil)
	assert.False(t, r.Failed())
	assert.Contains(t, out, "standalone: users and plans live in this service's own directory")
}

func TestCheckApplianceOK(t *testing.T) {
	sdb := algapsatest.New(t)
	out, r := applianceReport(t, map[string]string{"ALGA_PSA_DATABASE_URL": sdb.AppURL, "NEXTAUTH_SECRET": "web-secret",
		"NEXTAUTH_URL": "https://psa.example.com"})
	assert.False(t, r.Failed(), out)
	assert.Contains(t, out, "appliance: users, plans, the web session and API keys come from AlgaPSA's database (configured by ALGA_PSA_DATABASE_URL)")
	assert.Contains(t, out, "reachable, every privilege present")
	assert.Contains(t, out, "the hand-off accepts the web app's session (cookie __Secure-authjs.session-token)")
	assert.NotContains(t, out, "[warning]")
	assert.NotContains(t, out, "stand-in", "the password is never printed")
}

// On an appliance with NEXTAUTH_SECRET the web app signs users in, so no
// provider of the sidecar's own is not an error (the appliance guide calls
// them optional); without NEXTAUTH_SECRET it still is.
func TestCheckApplianceNeedsNoProviderOfItsOwn(t *testing.T) {
	sdb := algapsatest.New(t)
	for _, tc := range []struct {
		name   string
		secret string
		want   string
	}{
		{"with the web app's secret", "web-secret", "[ok]      SSO"},
		{"without it", "", "[error]   SSO"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"ALGA_PSA_DATABASE_URL": sdb.AppURL, "NEXTAUTH_URL": "https://psa.example.com", "EDITION": "ee"}
			if tc.secret != "" {
				env["NEXTAUTH_SECRET"] = tc.secret
			}
			applianceEnv(t, env)
			cfg, err := config.Load()
			require.NoError(t, err)
			var r Report
			checkProviders(&r, cfg, nil)
			var out bytes.Buffer
			r.Write(&out)
			assert.Contains(t, out.String(), tc.want)
		})
	}
}

func TestCheckApplianceWrongPassword(t *testing.T) {
	host, port, passwords := wrongPasswordServer(t)
	out, r := applianceReport(t, map[string]string{"DB_HOST": host, "DB_PORT": strconv.Itoa(port),
		"DB_PASSWORD_SERVER": "hunter2-wrong", "NEXTAUTH_SECRET": "web-secret"})
	assert.True(t, r.Failed())
	assert.Equal(t, "hunter2-wrong", <-passwords, "the configured password was sent")
	assert.Contains(t, out, "appliance: users, plans, the web session and API keys come from AlgaPSA's database (configured by DB_HOST)")
	assert.Contains(t, out, "[error]   AlgaPSA database")
	assert.Contains(t, out, "app_user@"+net.JoinHostPort(host, strconv.Itoa(port))+"/server: password authentication failed for user app_user")
	assert.Contains(t, out, "fix: set DB_PASSWORD_SERVER (or the db_password_server secret) to the password of app_user")
	assert.NotContains(t, out, "hunter2")
}

func TestCheckApplianceMissingPrivilege(t *testing.T) {
	sdb := algapsatest.New(t, algapsatest.Options{Withhold: []algapsatest.Grant{{Privilege: "UPDATE", Table: "mobile_refresh_tokens"}}})
	out, r := applianceReport(t, map[string]string{"ALGA_PSA_DATABASE_URL": sdb.AppURL, "NEXTAUTH_SECRET": "web-secret"})
	assert.True(t, r.Failed())
	assert.Contains(t, out, "[error]   privilege                    UPDATE on mobile_refresh_tokens is missing")
	assert.Contains(t, out, "fix: as AlgaPSA's database owner, run: GRANT UPDATE ON "+sdb.Schema+".mobile_refresh_tokens TO "+sdb.AppRole+";")
	assert.Equal(t, 1, strings.Count(out, "GRANT"), "only the missing privilege")
}

func TestCheckApplianceNotAlgaPSAsDatabase(t *testing.T) {
	sdb := algapsatest.New(t)
	u, err := url.Parse(sdb.AppURL)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", "nothing_here")
	u.RawQuery = q.Encode()
	out, r := applianceReport(t, map[string]string{"ALGA_PSA_DATABASE_URL": u.String(), "NEXTAUTH_SECRET": "x"})
	assert.True(t, r.Failed())
	assert.Contains(t, out, "[error]   table users")
	assert.Equal(t, 1, strings.Count(out, "table api_keys"), "one finding per missing table")
	assert.Contains(t, out, "does not look like AlgaPSA's database")
	assert.Contains(t, out, "fix: point ALGA_PSA_DATABASE_URL at AlgaPSA's own database (its path: /server)")
	assert.NotContains(t, out, "DB_NAME_SERVER", "the operator set ALGA_PSA_DATABASE_URL")
}

func TestCheckApplianceNextAuthSecretMissing(t *testing.T) {
	sdb := algapsatest.New(t)
	out, r := applianceReport(t, map[string]string{"ALGA_PSA_DATABASE_URL": sdb.AppURL, "NEXTAUTH_URL": "http://localhost:8080"})
	assert.False(t, r.Failed(), "mobile sign-in still works through the service's own sign-in")
	assert.Contains(t, out, "[warning] NEXTAUTH_SECRET")
	assert.Contains(t, out, "falls back to this service's own sign-in")
	assert.Contains(t, out, "fix: set NEXTAUTH_SECRET (or the nextauth_secret secret) to the web app's own value")
}

func TestCheckApplianceUnreachable(t *testing.T) {
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	out, r := applianceReport(t, map[string]string{"DB_HOST": "127.0.0.1", "DB_PORT": strconv.Itoa(port), "DB_PASSWORD_SERVER": "hunter2"})
	assert.True(t, r.Failed())
	assert.Contains(t, out, "cannot connect")
	assert.NotContains(t, out, "hunter2")
}

func TestCheckCommandSaysTheMode(t *testing.T) {
	sdb := algapsatest.New(t)
	dir := t.TempDir()
	applianceEnv(t, map[string]string{"DB_HOST": "127.0.0.1", "SECRET_FS_BASE_PATH": dir})
	u, err := url.Parse(sdb.AppURL)
	require.NoError(t, err)
	t.Setenv("DB_PORT", u.Port())
	t.Setenv("DB_USER_SERVER", sdb.AppRole)
	t.Setenv("DB_NAME_SERVER", strings.TrimPrefix(u.Path, "/"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "db_password_server"), []byte("stand-in\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "nextauth_secret"), []byte("web\n"), 0o600))
	res := adminRun(t, "check")
	assert.Contains(t, res.stdout, "appliance: users, plans, the web session and API keys come from AlgaPSA's database (configured by DB_HOST)")
	// The schema is not on app_user's default search path here, so the
	// tables are not found: the point is that check connected with the
	// password from AlgaPSA's lower-case secret file.
	assert.Contains(t, res.stdout, "AlgaPSA database             "+sdb.AppRole+"@127.0.0.1:"+u.Port()+"/"+strings.TrimPrefix(u.Path, "/")+": reachable")
	assert.Contains(t, res.stdout, "NEXTAUTH_SECRET              set")
}

// Every fix line about AlgaPSA's database names the settings the operator
// actually used: the parts of ALGA_PSA_DATABASE_URL, or AlgaPSA's own DB_*
// variables, never the other form.
func TestCheckApplianceFixNamesTheFormInUse(t *testing.T) {
	byURL := config.Appliance{Enabled: true, DatabaseFrom: "ALGA_PSA_DATABASE_URL", Database: "app_user@db:5432/server",
		DatabaseURL: config.Secret("postgres://app_user:pw@db:5432/server")}
	byVars := config.Appliance{Enabled: true, DatabaseFrom: "DB_HOST", Database: "app_user@db:5432/server",
		DatabaseURL: config.Secret("postgres://app_user:pw@db:5432/server")}
	dbVars := []string{"DB_HOST", "DB_PORT", "DB_NAME_SERVER", "DB_USER_SERVER"}
	failures := []struct {
		name    string
		err     error
		fixURL  string // the fix names this with ALGA_PSA_DATABASE_URL
		fixVars string // and this with the DB_* variables
	}{
		{"wrong password", &pgconn.PgError{Code: "28P01"}, "the password in ALGA_PSA_DATABASE_URL", "DB_PASSWORD_SERVER"},
		{"user or host refused", &pgconn.PgError{Code: "28000", Message: `role "x" does not exist`}, "the user in ALGA_PSA_DATABASE_URL", "DB_USER_SERVER"},
		{"no such database", &pgconn.PgError{Code: "3D000"}, "the database name in ALGA_PSA_DATABASE_URL", "DB_NAME_SERVER"},
		{"another server error", &pgconn.PgError{Code: "53300", Message: "too many connections"}, "the host, port, database and user in ALGA_PSA_DATABASE_URL", "DB_HOST, DB_PORT, DB_NAME_SERVER and DB_USER_SERVER"},
		{"unreachable", errors.New("dial tcp 10.0.0.1:5432: connect: connection refused"), "the host and port in ALGA_PSA_DATABASE_URL", "DB_HOST and DB_PORT"},
	}
	for _, f := range failures {
		t.Run(f.name+" (URL)", func(t *testing.T) {
			_, fix := connectFailure(f.err, byURL)
			assert.Contains(t, fix, f.fixURL)
			for _, v := range dbVars {
				assert.NotContains(t, fix, v, "the operator set ALGA_PSA_DATABASE_URL")
			}
		})
		t.Run(f.name+" (DB_HOST)", func(t *testing.T) {
			_, fix := connectFailure(f.err, byVars)
			assert.Contains(t, fix, f.fixVars)
			assert.NotContains(t, fix, "ALGA_PSA_DATABASE_URL", "the operator set DB_HOST")
		})
	}
}

// DB_HOST without DB_PASSWORD_SERVER (no variable, no secret file): check
// and serve say plainly that the password is missing and where it was
// looked for, instead of leaving PostgreSQL's "password authentication
// failed" to be decoded.
func TestCheckApplianceSaysThePasswordIsMissing(t *testing.T) {
	host, port, passwords := wrongPasswordServer(t)
	go func() {
		for range passwords { // drain: several rows connect
		}
	}()
	hostVars := map[string]string{"DB_HOST": host, "DB_PORT": strconv.Itoa(port), "NEXTAUTH_SECRET": "web-secret"}
	tests := []struct {
		name     string
		env      map[string]string
		password string // written to <secrets dir>/db_password_server when set
		probe    bool
		want     []string
		wantNot  []string
	}{
		{name: "DB_HOST, probed (check)", env: hostVars, probe: true,
			want: []string{"[error]   AlgaPSA database", "no password is set for app_user (DB_PASSWORD_SERVER: looked for in the DB_PASSWORD_SERVER variable, DB_PASSWORD_SERVER_FILE, and the files DB_PASSWORD_SERVER and db_password_server in {dir})",
				"fix: set DB_PASSWORD_SERVER (or the db_password_server secret) to the password of app_user"},
			wantNot: []string{"password authentication failed"}},
		{name: "DB_HOST, not probed (serve, check --offline)", env: hostVars,
			want: []string{"[warning] DB_PASSWORD_SERVER", "not set (looked for in the DB_PASSWORD_SERVER variable, DB_PASSWORD_SERVER_FILE, and the files DB_PASSWORD_SERVER and db_password_server in {dir})",
				"fix: set DB_PASSWORD_SERVER (or the db_password_server secret) to the password of app_user"}},
		{name: "ALGA_PSA_DATABASE_URL without a password, probed", probe: true,
			env:     map[string]string{"ALGA_PSA_DATABASE_URL": "postgres://app_user@" + net.JoinHostPort(host, strconv.Itoa(port)) + "/server", "NEXTAUTH_SECRET": "x"},
			want:    []string{"no password is set for app_user (ALGA_PSA_DATABASE_URL holds none)", "fix: set the password in ALGA_PSA_DATABASE_URL"},
			wantNot: []string{"password authentication failed", "DB_PASSWORD_SERVER_FILE"}},
		{name: "the password is in the secret file but wrong", env: hostVars, password: "wrong", probe: true,
			want:    []string{"password authentication failed for user app_user"},
			wantNot: []string{"no password is set", "[warning] DB_PASSWORD_SERVER"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			applianceEnv(t, tc.env)
			dir := os.Getenv("SECRET_FS_BASE_PATH")
			require.NotEmpty(t, dir)
			if tc.password != "" {
				require.NoError(t, os.WriteFile(filepath.Join(dir, "db_password_server"), []byte(tc.password), 0o600)) //nolint:gosec // G703: dir is the test's own temporary secrets directory
			}
			cfg, err := config.Load()
			require.NoError(t, err)
			var r Report
			checkAppliance(context.Background(), &r, cfg, tc.probe, map[string]bool{})
			var out bytes.Buffer
			r.Write(&out)
			for _, w := range tc.want {
				assert.Contains(t, out.String(), strings.ReplaceAll(w, "{dir}", dir))
			}
			for _, w := range tc.wantNot {
				assert.NotContains(t, out.String(), w)
			}
		})
	}
}

// An appliance is self-hosted: AlgaPSA licenses it by its own license or
// trial (its license_state), so check's licensing and edition advice points
// at that, not at hosted licensing (tenant plans) as on a hosted install.
func TestCheckLicensingAdviceOnAnAppliance(t *testing.T) {
	appliance := map[string]string{"DB_HOST": "db.msp.svc.cluster.local", "DB_PASSWORD_SERVER": "pw", "NEXTAUTH_SECRET": "web",
		"NEXTAUTH_URL": "https://psa.example.com"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1] //nolint:gosec // G602: kv holds key/value pairs
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    []string
		wantNot []string
	}{
		{"appliance without license or trial", with(appliance, "EDITION", "ee"),
			[]string{"[warning] licensing", "an appliance licenses itself (its own license or trial, kept in AlgaPSA's license_state table, which this service does not read)",
				"fix: give this service the appliance's own license: ALGA_LICENSE set to its license token (Kubernetes: Secret appliance-license-seed in msp, key LICENSE_TOKEN; or SELECT license_token FROM license_state)",
				"with ALGA_LICENSE_PUBLIC_KEYS", "during the trial, ALGA_TRIAL_STARTED_AT set to SELECT trial_started_at FROM license_state"},
			[]string{"self-hosting?", "hosted: set each tenant's plan"}},
		{"appliance on Community Edition", with(appliance, "EDITION", ""),
			[]string{"[error]   EDITION", "fix: set EDITION=ee if the appliance runs Enterprise Edition (as its web app's EDITION says, or SELECT edition_choice FROM license_state); a Community appliance has no mobile sign-in"},
			nil},
		{"standalone without license or trial (unchanged)", map[string]string{"EDITION": "ee", "NEXTAUTH_URL": "https://psa.example.com"},
			[]string{"[warning] licensing", "hosted: each tenant's plan decides", "fix: self-hosting? set ALGA_LICENSE_FILE"},
			[]string{"license_state", "appliance"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			applianceEnv(t, tc.env)
			cfg, err := config.Load()
			require.NoError(t, err)
			var r Report
			checkLicense(&r, cfg, time.Now, nil)
			var out bytes.Buffer
			r.Write(&out)
			for _, w := range tc.want {
				assert.Contains(t, out.String(), w)
			}
			for _, w := range tc.wantNot {
				assert.NotContains(t, out.String(), w)
			}
		})
	}
}
