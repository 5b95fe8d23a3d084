package app_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const cmdPkg = "github.com/nineminds/alga-mobile-auth/cmd/alga-mobile-auth"

// goTool runs the go command in the module and returns its output.
func goTool(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", args...) //nolint:gosec // G204: the test's own go list/build arguments
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go %s: %s", strings.Join(args, " "), out)
	return string(out)
}

// TestDevIDPOnlyInTaggedBuilds: the shipped binary (no build tag) links
// neither internal/devidp nor mockoidc; a devidp build does.
func TestDevIDPOnlyInTaggedBuilds(t *testing.T) {
	plain := goTool(t, "list", "-deps", cmdPkg)
	assert.NotContains(t, plain, "internal/devidp")
	assert.NotContains(t, plain, "mockoidc")
	tagged := goTool(t, "list", "-tags", "devidp", "-deps", cmdPkg)
	assert.Contains(t, tagged, "internal/devidp")
}

// TestBinaryWithoutDevIDPRefusesIt builds the binary as `make build` does
// and asks it to serve, and to check, with ALGA_MOBILE_DEV_IDP on.
func TestBinaryWithoutDevIDPRefusesIt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "alga-mobile-auth")
	goTool(t, "build", "-o", bin, cmdPkg)
	env := append(os.Environ(), "NEXTAUTH_URL=http://localhost:18080", "ALGA_MOBILE_LISTEN_ADDR=127.0.0.1:0",
		"ALGA_MOBILE_DEV_IDP=true", "EDITION=ee", "ALGA_MOBILE_DATABASE_URL=sqlite:"+filepath.Join(dir, "x.db"),
		"SECRET_FS_BASE_PATH="+dir)
	for _, sub := range [][]string{{"serve"}, {"check", "--offline"}} {
		cmd := exec.CommandContext(t.Context(), bin, sub...) //nolint:gosec // G204: the binary this test just built
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "%s must fail: %s", sub[0], out)
		assert.NotZero(t, exit.ExitCode())
		assert.Contains(t, string(out), "built without the development identity provider", "%s says why", sub[0])
	}
}
