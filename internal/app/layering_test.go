package app

import (
	"go/build"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/nineminds/alga-mobile-auth/internal/"

// TestImportsPointDownward holds the package layering of the README:
// the domain imports only the standard library; leaf packages and the
// outside-system adapters never import the use-case, HTTP or wiring
// layers; the rules (allowlist) and the OpenID Connect protocol (sso) are
// applied by the use cases only: httpapi sees neither, nor any store or
// adapter; app wires, applying no rule itself.
func TestImportsPointDownward(t *testing.T) {
	upper := []string{"authflow", "httpapi", "app", "cli", "e2e", "appliance"}
	rules := map[string][]string{
		"mobileauth": {"*"}, // stdlib only
		"token":      upper, "license": upper, "allowlist": upper, "sso": upper, "devidp": upper,
		"sqlstore": upper, "qr": upper, "clientip": upper, "ratelimit": upper, "logging": upper,
		"metrics": upper, "config": upper,
		// The appliance-mode adapters are leaves too: the cookie decoder
		// knows no database, and AlgaPSA's database adapter no cookie.
		"authjs":  append([]string{"algapsa", "sqlstore", "appliance"}, upper...),
		"algapsa": append([]string{"authjs", "sqlstore", "appliance"}, upper...),
		// appliance plugs them into authflow's seams; only app wires it.
		"appliance": {"httpapi", "app", "cli", "sqlstore", "e2e"},
		// The use cases learn no SQL and no JOSE: AlgaPSA's database and
		// the web app's cookie reach them only through their interfaces.
		"authflow": {"httpapi", "app", "cli", "sqlstore", "e2e", "authjs", "algapsa", "appliance", "config", "devidp"},
		// The rules (allowlist) and the OpenID Connect protocol (sso) are
		// the use cases': handlers only decode, call and write.
		"httpapi": {"app", "cli", "sqlstore", "e2e", "devidp", "config", "authjs", "algapsa", "appliance",
			"sso", "allowlist", "token", "license"},
		// app wires, applying no rule itself.
		"app": {"cli", "e2e", "allowlist"},
	}
	dirs, err := os.ReadDir("..")
	require.NoError(t, err)
	checked := 0
	for _, d := range dirs {
		forbidden, ok := rules[d.Name()]
		if !d.IsDir() || !ok {
			continue
		}
		pkg, err := build.ImportDir(filepath.Join("..", d.Name()), 0)
		require.NoError(t, err)
		checked++
		for _, imp := range pkg.Imports {
			if d.Name() == "mobileauth" {
				assert.NotContains(t, imp, ".", "mobileauth imports only the standard library, not %s", imp)
				continue
			}
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.SplitN(strings.TrimPrefix(imp, module), "/", 2)[0]
			for _, f := range forbidden {
				assert.NotEqualf(t, f, dep, "%s must not import %s", d.Name(), dep)
			}
		}
	}
	assert.GreaterOrEqual(t, checked, 17)
}

// TestStoreDBIsForTestsOnly: no product code reaches around the store to
// its *sql.DB (the store's methods are its contract; tests and the load
// program, cmd/loadtest, may read tables directly).
func TestStoreDBIsForTestsOnly(t *testing.T) {
	root := filepath.Join("..", "..")
	var offenders []string
	for _, dir := range []string{"internal", filepath.Join("cmd", "alga-mobile-auth")} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
				strings.Contains(filepath.ToSlash(path), "internal/sqlstore/") {
				return err
			}
			b, err := os.ReadFile(path) //nolint:gosec // G304: the repository's own source files, walked by the test
			if err != nil {
				return err
			}
			if strings.Contains(string(b), ".DB()") {
				offenders = append(offenders, path)
			}
			return nil
		})
		require.NoError(t, err)
	}
	assert.Empty(t, offenders, "Store.DB() is for tests only")
}
