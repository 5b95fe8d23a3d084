package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// storeCommands are the commands that use the store without creating it,
// with arguments that would otherwise succeed.
var storeCommands = [][]string{
	{"users", "list"},
	{"users", "add", "--tenant", tenantA, "--email", "a@example.com"},
	{"users", "disable", "--tenant", tenantA, "--email", "a@example.com"},
	{"users", "enable", "--tenant", tenantA, "--email", "a@example.com"},
	{"users", "import", "testdata/users-good.csv"},
	{"tenants", "set-plan", "--tenant", tenantA, "--plan", "solo"},
	{"keys", "rotate"},
	{"keys", "list"},
	{"audit"},
}

// Only serve and migrate create a store: the others say where they looked
// and how to point elsewhere, and leave nothing behind.
func TestStoreCommandsNeverCreateAStore(t *testing.T) {
	csv, err := filepath.Abs("testdata/users-good.csv")
	require.NoError(t, err)
	for _, args := range storeCommands {
		t.Run(strings.Join(args[:min(2, len(args))], " "), func(t *testing.T) {
			args := append([]string(nil), args...)
			if args[len(args)-1] == "testdata/users-good.csv" {
				args[len(args)-1] = csv // the test changes directory
			}
			dir := t.TempDir()
			t.Chdir(dir)
			adminEnv(t)
			t.Setenv("ALGA_MOBILE_DATABASE_URL", "sqlite:./data/mobile-auth.db")
			r := adminRun(t, args...)
			assert.Equal(t, ExitFail, r.code, r.stderr)
			assert.Empty(t, r.store, "no store was used")
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			assert.Contains(t, r.stderr, "no store at sqlite:"+filepath.Join(dir, "data", "mobile-auth.db"), "the absolute path it tried")
			assert.Contains(t, r.stderr, "with the same ALGA_MOBILE_DATABASE_URL")
			assert.Contains(t, r.stderr, "'alga-mobile-auth migrate'")
			_, err := os.Stat(filepath.Join(dir, "data"))
			assert.ErrorIs(t, err, os.ErrNotExist, "nothing was created")
		})
	}
}

func TestStoreCommandsSayWhichStoreTheyUsed(t *testing.T) {
	url := adminEnv(t)
	path := strings.TrimPrefix(url, "sqlite:")
	r := adminRun(t, "migrate")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Equal(t, "alga-mobile-auth migrate: store sqlite:"+path, r.store)
	for _, args := range storeCommands {
		r := adminRun(t, args...)
		assert.Equal(t, "alga-mobile-auth "+strings.Join(args[:min(2, len(args))], " ")+": store sqlite:"+path, r.store, "%v: %s", args, r.stderr)
	}
}

func TestStoreCommandsRefuseAnEmptyPostgreSQLDatabase(t *testing.T) {
	adminPostgres(t) // a fresh schema, never migrated
	r := adminRun(t, "users", "list")
	assert.Equal(t, ExitFail, r.code)
	assert.Regexp(t, `^alga-mobile-auth users list: open the database \(ALGA_MOBILE_DATABASE_URL\): postgres://\S+ has no alga-mobile-auth schema: `, r.stderr)
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
	r = adminRun(t, "migrate")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Regexp(t, `^alga-mobile-auth migrate: store postgres://postgres@`, r.store)
	r = adminRun(t, "users", "list")
	assert.Equal(t, ExitOK, r.code, r.stderr)
}
