package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
	"github.com/nineminds/alga-mobile-auth/internal/testenv"
)

// adminResult is what one run of the binary produced.
type adminResult struct {
	code           int
	stdout, stderr string
	// store is the "store <location>" line a command that used the store
	// printed first on stderr (taken out of stderr, so that tests about the
	// rest of stderr stay exact).
	store string
}

// adminEnv points the configuration at a fresh SQLite database in a temp
// dir (and at an empty secrets directory, so nothing of the host leaks in)
// and returns the database URL.
func adminEnv(t *testing.T) string {
	t.Helper()
	url := "sqlite:" + filepath.Join(t.TempDir(), "x.db")
	t.Setenv("SECRET_FS_BASE_PATH", t.TempDir())
	t.Setenv("ALGA_MOBILE_DATABASE_URL", url)
	t.Setenv("ALGA_MOBILE_DATABASE_URL_FILE", "")
	t.Setenv("NEXTAUTH_URL", "")
	return url
}

// adminDB is adminEnv with the store created, as serve or migrate would
// have left it: every other command needs an existing store.
func adminDB(t *testing.T) string {
	t.Helper()
	url := adminEnv(t)
	r := adminRun(t, "migrate")
	require.Equal(t, ExitOK, r.code, r.stderr)
	return url
}

var storeLine = regexp.MustCompile(`^alga-mobile-auth [a-z -]+: store (sqlite|postgres):`)

// adminRun runs the binary's Main with args.
func adminRun(t *testing.T, args ...string) adminResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args, &stdout, &stderr, "test")
	r := adminResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
	if first, rest, ok := strings.Cut(r.stderr, "\n"); ok && storeLine.MatchString(first) {
		r.store, r.stderr = first, rest
	}
	return r
}

// adminStore opens the test database directly, as a second process would.
func adminStore(t *testing.T, url string) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), url, sqlstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.Close()) })
	require.NoError(t, st.Migrate(context.Background()))
	return st
}

// assertUsageError checks the contract for a bad flag or value: exit 2,
// exactly one line on stderr, nothing on stdout.
func assertUsageError(t *testing.T, r adminResult, want string) {
	t.Helper()
	assert.Equal(t, ExitUsage, r.code, "stderr: %s", r.stderr)
	assert.Empty(t, r.stdout)
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
	assert.True(t, strings.HasSuffix(r.stderr, "\n"), "one line: %q", r.stderr)
	assert.Contains(t, r.stderr, want)
}

// leaves walks the command table and returns each runnable command's path.
func leaves(prefix []string, cmds []*command) [][]string {
	var out [][]string
	for _, c := range cmds {
		path := append(append([]string(nil), prefix...), c.name)
		if c.sub != nil {
			out = append(out, leaves(path, c.sub)...)
			continue
		}
		out = append(out, path)
	}
	return out
}

func TestEveryCommandHasHelp(t *testing.T) {
	adminEnv(t)
	for _, path := range leaves(nil, commands()) {
		t.Run(strings.Join(path, " "), func(t *testing.T) {
			r := adminRun(t, append(path, "--help")...)
			assert.Equal(t, ExitOK, r.code)
			assert.True(t, strings.HasPrefix(r.stdout, "Usage: alga-mobile-auth "+strings.Join(path, " ")), r.stdout)
			assert.Empty(t, r.stderr)
		})
	}
}

func TestEveryCommandRefusesAnUnknownFlag(t *testing.T) {
	adminEnv(t)
	for _, path := range leaves(nil, commands()) {
		t.Run(strings.Join(path, " "), func(t *testing.T) {
			r := adminRun(t, append(path, "--no-such-flag")...)
			assertUsageError(t, r, "flag provided but not defined: -no-such-flag")
		})
	}
}

func TestHelpDoesNotTouchTheDatabase(t *testing.T) {
	url := adminEnv(t)
	for _, path := range [][]string{{"users", "add"}, {"users", "import"}, {"migrate"}, {"keys", "rotate"}} {
		require.Equal(t, ExitOK, adminRun(t, append(path, "-h")...).code)
	}
	_, err := os.Stat(strings.TrimPrefix(url, "sqlite:"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestMigrateCreatesThenReportsUpToDate(t *testing.T) {
	url := adminEnv(t)

	r := adminRun(t, "migrate")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Regexp(t, `^sqlite schema migrated from version 0 to [1-9][0-9]*\n$`, r.stdout)
	_, err := os.Stat(strings.TrimPrefix(url, "sqlite:"))
	require.NoError(t, err, "SQLite is created on first use")

	r = adminRun(t, "migrate")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Regexp(t, `^sqlite schema at version [1-9][0-9]*: up to date\n$`, r.stdout)
}

func TestMigrateRefusesExtraArguments(t *testing.T) {
	adminEnv(t)
	assertUsageError(t, adminRun(t, "migrate", "now"), `unexpected argument "now"`)
}

func TestAdminCommandsNeedOnlyTheDatabaseSetting(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		wantCode int
		wantErr  string
	}{
		{"an unrelated bad setting does not block", map[string]string{"ALGA_MOBILE_OTT_TTL_SEC": "soon", "NEXTAUTH_URL": "not a url"}, ExitOK, ""},
		{"a bad database URL is reported", map[string]string{"ALGA_MOBILE_DATABASE_URL": "mysql://u:hunter2@db/x"}, ExitFail, "ALGA_MOBILE_DATABASE_URL: must be"},
		{"an unreachable PostgreSQL is reported on one line", map[string]string{"ALGA_MOBILE_DATABASE_URL": "postgres://u:hunter2@127.0.0.1:1/x?connect_timeout=2"}, ExitFail, "connect to PostgreSQL"},
		{"an unreadable database file is reported", map[string]string{"ALGA_MOBILE_DATABASE_URL": "sqlite:/proc/no/such/dir/x.db"}, ExitFail, "open the database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			adminEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			for _, args := range [][]string{{"migrate"}, {"users", "list"}} {
				r := adminRun(t, args...)
				assert.Equal(t, tt.wantCode, r.code, "%v: %s", args, r.stderr)
				assert.Contains(t, r.stderr, tt.wantErr)
				assert.NotContains(t, r.stderr, "hunter2", "the password never appears")
				if tt.wantCode != ExitOK {
					assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
				}
			}
		})
	}
}

// adminPostgres points the configuration at a fresh schema of its own on
// the database of ALGA_TEST_POSTGRES_URL and returns its URL.
func adminPostgres(t *testing.T) string {
	t.Helper()
	adminEnv(t)
	u := testenv.PostgresSchema(t, "clitest")
	t.Setenv("ALGA_MOBILE_DATABASE_URL", u)
	return u
}

func TestAdminCommandsOnPostgres(t *testing.T) {
	adminPostgres(t)

	r := adminRun(t, "migrate")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Regexp(t, `^postgres schema migrated from version 0 to [1-9][0-9]*\n$`, r.stdout)
	r = adminRun(t, "migrate")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "up to date")

	require.Equal(t, ExitOK, adminRun(t, "users", "import", "testdata/users-good.csv").code)
	r = adminRun(t, "users", "add", "--tenant", tenantA, "--email", "Bob@example.com")
	assert.Equal(t, ExitFail, r.code)
	assert.Contains(t, r.stderr, "already exists")
	r = adminRun(t, "users", "import", "testdata/users-bad-rows.csv")
	assert.Equal(t, ExitFail, r.code)
	assert.Len(t, listUsers(t), 3, "nothing more was imported")

	require.Equal(t, ExitOK, adminRun(t, "users", "disable", "--tenant", tenantA, "--email", "bob@example.com").code)
	require.Equal(t, ExitOK, adminRun(t, "tenants", "set-plan", "--tenant", tenantA, "--plan", "solo").code)
	first, second := rotateKey(t), rotateKey(t)
	r = adminRun(t, "keys", "list")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Regexp(t, second+`\s+EdDSA\s+\S+\s+active\n`+first+`\s+EdDSA\s+\S+\s+retired`, r.stdout)
	// Every change an admin command made is audited (issue 13 point 9), and
	// nothing else: the refused add and the refused import wrote nothing.
	bob := ""
	for _, u := range listUsers(t) {
		if u.Email == "bob@example.com" {
			bob = u.ID
		}
	}
	var ops []string
	for _, ev := range auditEvents(t) {
		ops = append(ops, ev.Operation+" "+ev.RecordID)
	}
	assert.Equal(t, []string{"MOBILE_AUTH_ADMIN_KEYS_ROTATE " + second, "MOBILE_AUTH_ADMIN_KEYS_ROTATE " + first,
		"MOBILE_AUTH_ADMIN_TENANT_PLAN " + tenantA, "MOBILE_AUTH_ADMIN_USER_DISABLE " + bob,
		"MOBILE_AUTH_ADMIN_USER_IMPORT "}, ops)
}
