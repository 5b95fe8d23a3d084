package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestApplianceMode(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		files    map[string]string // in the secrets directory
		enabled  bool
		url      string
		from     string
		database string
		problems []string
	}{
		{name: "standalone by default", env: nil},
		{name: "ALGA_PSA_DATABASE_URL turns it on",
			env:     map[string]string{"ALGA_PSA_DATABASE_URL": "postgres://app_user:pw@db:5432/server"},
			enabled: true, url: "postgres://app_user:pw@db:5432/server", from: "ALGA_PSA_DATABASE_URL", database: "app_user@db:5432/server"},
		{name: "DB_HOST turns it on with AlgaPSA's defaults",
			env:     map[string]string{"DB_HOST": "db.msp.svc.cluster.local"},
			enabled: true, url: "postgres://app_user@db.msp.svc.cluster.local:5432/server", from: "DB_HOST",
			database: "app_user@db.msp.svc.cluster.local:5432/server"},
		{name: "every DB_ variable",
			env: map[string]string{"DB_HOST": "postgres", "DB_PORT": "6543", "DB_NAME_SERVER": "psa",
				"DB_USER_SERVER": "svc", "DB_PASSWORD_SERVER": "s3cret"},
			enabled: true, url: "postgres://svc:s3cret@postgres:6543/psa", from: "DB_HOST", database: "svc@postgres:6543/psa"},
		{name: "password with URL metacharacters is escaped",
			env:     map[string]string{"DB_HOST": "postgres", "DB_PASSWORD_SERVER": "p@ss:w/rd?#%&= x"},
			enabled: true, url: "postgres://app_user:p%40ss%3Aw%2Frd%3F%23%25&=%20x@postgres:5432/server", from: "DB_HOST",
			database: "app_user@postgres:5432/server"},
		{name: "IPv6 host",
			env:     map[string]string{"DB_HOST": "::1"},
			enabled: true, url: "postgres://app_user@[::1]:5432/server", from: "DB_HOST", database: "app_user@[::1]:5432/server"},
		{name: "password from AlgaPSA's lower-case secret file",
			env:     map[string]string{"DB_HOST": "postgres"},
			files:   map[string]string{"db_password_server": "from-file\n"},
			enabled: true, url: "postgres://app_user:from-file@postgres:5432/server", from: "DB_HOST", database: "app_user@postgres:5432/server"},
		{name: "the exact name wins over the lower-case file",
			env:     map[string]string{"DB_HOST": "postgres", "DB_PASSWORD_SERVER": "from-env"},
			files:   map[string]string{"DB_PASSWORD_SERVER": "exact", "db_password_server": "lower"},
			enabled: true, url: "postgres://app_user:exact@postgres:5432/server", from: "DB_HOST", database: "app_user@postgres:5432/server"},
		{name: "the lower-case file wins over the variable",
			env:     map[string]string{"DB_HOST": "postgres", "DB_PASSWORD_SERVER": "from-env"},
			files:   map[string]string{"db_password_server": "lower"},
			enabled: true, url: "postgres://app_user:lower@postgres:5432/server", from: "DB_HOST", database: "app_user@postgres:5432/server"},
		{name: "ALGA_PSA_DATABASE_URL wins over DB_HOST",
			env:     map[string]string{"ALGA_PSA_DATABASE_URL": "postgresql://u@a/b", "DB_HOST": "postgres"},
			enabled: true, url: "postgresql://u@a/b", from: "ALGA_PSA_DATABASE_URL", database: "u@a/b"},
		{name: "ALGA_PSA_DATABASE_URL from its secret file",
			files:   map[string]string{"alga_psa_database_url": "postgres://u:pw@h/server"},
			enabled: true, url: "postgres://u:pw@h/server", from: "ALGA_PSA_DATABASE_URL", database: "u@h/server"},
		{name: "not a postgres URL", env: map[string]string{"ALGA_PSA_DATABASE_URL": "mysql://u:pw@h/server"},
			enabled: true, from: "ALGA_PSA_DATABASE_URL", problems: []string{"ALGA_PSA_DATABASE_URL"}},
		{name: "no host", env: map[string]string{"ALGA_PSA_DATABASE_URL": "postgres:///server"},
			enabled: true, from: "ALGA_PSA_DATABASE_URL", problems: []string{"ALGA_PSA_DATABASE_URL"}},
		{name: "bad port", env: map[string]string{"DB_HOST": "postgres", "DB_PORT": "54x"},
			enabled: true, from: "DB_HOST", problems: []string{"DB_PORT"}},
		{name: "port out of range", env: map[string]string{"DB_HOST": "postgres", "DB_PORT": "70000"},
			enabled: true, from: "DB_HOST", problems: []string{"DB_PORT"}},
		{name: "host with a path", env: map[string]string{"DB_HOST": "evil/x"},
			enabled: true, from: "DB_HOST", problems: []string{"DB_HOST"}},
		{name: "DB_ variables without DB_HOST stay standalone", env: map[string]string{"DB_PASSWORD_SERVER": "pw", "DB_PORT": "5432"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			dir := t.TempDir()
			t.Setenv("SECRET_FS_BASE_PATH", dir)
			for name, content := range tt.files {
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := Load()
			var ps Problems
			if err != nil {
				require.ErrorAs(t, err, &ps)
			}
			assert.Equal(t, tt.problems, vars(ps))
			a := cfg.Appliance
			assert.Equal(t, tt.enabled, cfg.ApplianceMode())
			assert.Equal(t, tt.url, a.DatabaseURL.Value())
			assert.Equal(t, tt.from, a.DatabaseFrom)
			assert.Equal(t, tt.database, a.Database)
			if tt.url != "" {
				// The URL means what the variables said: pgx reads back the
				// very password, however it was escaped.
				pc, err := pgconn.ParseConfig(a.DatabaseURL.Value())
				require.NoError(t, err)
				want := tt.env["DB_PASSWORD_SERVER"]
				for name, content := range tt.files {
					if name == "DB_PASSWORD_SERVER" || (name == "db_password_server" && tt.files["DB_PASSWORD_SERVER"] == "") {
						want = strings.TrimSpace(content)
					}
				}
				if a.DatabaseFrom == "DB_HOST" {
					assert.Equal(t, want, pc.Password)
				}
				u, err := url.Parse(tt.url)
				require.NoError(t, err)
				assert.Equal(t, u.Hostname(), pc.Host)
			}
		})
	}
}

func TestApplianceWebSession(t *testing.T) {
	t.Run("NEXTAUTH_SECRET from the variable", func(t *testing.T) {
		cfg, ps := load(t, map[string]string{"NEXTAUTH_SECRET": " web-secret "})
		require.Empty(t, ps)
		assert.Equal(t, "web-secret", cfg.Appliance.NextAuthSecret.Value())
	})
	t.Run("NEXTAUTH_SECRET from the lower-case secret file", func(t *testing.T) {
		cleanEnv(t)
		dir := t.TempDir()
		t.Setenv("SECRET_FS_BASE_PATH", dir)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "nextauth_secret"), []byte("from-file\n"), 0o600))
		cfg, err := Load()
		require.NoError(t, err)
		assert.Equal(t, "from-file", cfg.Appliance.NextAuthSecret.Value())
	})
	t.Run("cookie name override", func(t *testing.T) {
		cfg, ps := load(t, map[string]string{"ALGA_MOBILE_AUTHJS_COOKIE": "psa.session-token"})
		require.Empty(t, ps)
		assert.Equal(t, "psa.session-token", cfg.Appliance.AuthJSCookie)
		cfg, ps = load(t, nil)
		require.Empty(t, ps)
		assert.Empty(t, cfg.Appliance.AuthJSCookie, "empty = derived from NEXTAUTH_URL")
	})
	for _, bad := range []string{"a b", "a;b", "a=b", "ä"} {
		t.Run("bad cookie name "+bad, func(t *testing.T) {
			cfg, ps := load(t, map[string]string{"ALGA_MOBILE_AUTHJS_COOKIE": bad})
			assert.Equal(t, []string{"ALGA_MOBILE_AUTHJS_COOKIE"}, vars(ps))
			assert.Empty(t, cfg.Appliance.AuthJSCookie)
		})
	}
}

func TestApplianceSecretsNeverPrinted(t *testing.T) {
	for _, env := range []map[string]string{
		{"DB_HOST": "postgres", "DB_PASSWORD_SERVER": "hunter2", "NEXTAUTH_SECRET": "hunter2"},
		{"DB_HOST": "postgres", "DB_PASSWORD_SERVER": "hunter2", "DB_PORT": "bad"},
		{"ALGA_PSA_DATABASE_URL": "postgres://u:hunter2@db/server", "NEXTAUTH_SECRET": "hunter2"},
		{"ALGA_PSA_DATABASE_URL": "mysql://u:hunter2@db/server"},
		{"ALGA_PSA_DATABASE_URL": "postgres://u:hunter2@[::1/server"},
	} {
		cfg, ps := load(t, env)
		printed := fmt.Sprintf("%v %+v %#v %s %s", cfg.Appliance, cfg.Appliance, cfg.Appliance, cfg.Appliance.Database, ps.Error())
		assert.NotContains(t, printed, "hunter2")
	}
}

// A missing password for AlgaPSA's database is reported with where it was
// looked for; a password from any source clears it.
func TestApplianceSaysWhereThePasswordWasLookedFor(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	tests := []struct {
		name  string
		env   map[string]string
		dir   bool // a secrets directory exists (SECRET_FS_BASE_PATH)
		files map[string]string
		want  string // {dir} is the secrets directory
	}{
		{"nowhere, with a secrets directory", map[string]string{"DB_HOST": "postgres"}, true, nil,
			"looked for in the DB_PASSWORD_SERVER variable, DB_PASSWORD_SERVER_FILE, and the files DB_PASSWORD_SERVER and db_password_server in {dir}"},
		{"nowhere, without a secrets directory", map[string]string{"DB_HOST": "postgres"}, false, nil,
			"looked for in the DB_PASSWORD_SERVER variable, DB_PASSWORD_SERVER_FILE, and the files DB_PASSWORD_SERVER and db_password_server in a secrets directory, but there is none (SECRET_FS_BASE_PATH is unset and /run/secrets does not exist)"},
		{"an empty _FILE", map[string]string{"DB_HOST": "postgres", "DB_PASSWORD_SERVER_FILE": empty}, true, nil,
			"DB_PASSWORD_SERVER_FILE names an empty file"},
		{"a URL without one", map[string]string{"ALGA_PSA_DATABASE_URL": "postgres://app_user@db/server"}, true, nil,
			"ALGA_PSA_DATABASE_URL holds none"},
		{"from the variable", map[string]string{"DB_HOST": "postgres", "DB_PASSWORD_SERVER": "pw"}, true, nil, ""},
		{"from the compose secret", map[string]string{"DB_HOST": "postgres"}, true, map[string]string{"db_password_server": "pw\n"}, ""},
		{"in the URL", map[string]string{"ALGA_PSA_DATABASE_URL": "postgres://app_user:pw@db/server"}, true, nil, ""},
		{"standalone", nil, true, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			dir := t.TempDir()
			t.Setenv("SECRET_FS_BASE_PATH", "")
			if tt.dir {
				t.Setenv("SECRET_FS_BASE_PATH", dir)
			} else if _, err := os.Stat("/run/secrets"); err == nil {
				t.Skip("/run/secrets exists on this machine")
			}
			for name, content := range tt.files {
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := Load()
			require.NoError(t, err)
			assert.Equal(t, strings.ReplaceAll(tt.want, "{dir}", dir), cfg.Appliance.MissingPassword)
		})
	}
}
