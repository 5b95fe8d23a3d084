package e2e

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The demo prints the "as the app" URL percent-encoded by bash alone
// (issue 13 point 9: no python3 needed); its enc() agrees with Go's.
func TestDemoEncodesTheAppURLWithoutPython(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("skipping: bash is absent")
	}
	script, err := os.ReadFile(filepath.Join(dpRoot, "scripts/demo.sh"))
	require.NoError(t, err)
	assert.NotContains(t, string(script), "python")
	fn := regexp.MustCompile(`(?ms)^enc\(\) \{.*?^\}`).Find(script)
	require.NotNil(t, fn, "demo.sh defines enc()")
	for _, in := range []string{
		"http://localhost:8080/auth/mobile/handoff?redirect=alga://auth/callback&state=demo-state",
		"a b+c~d_e.f-g/h?i=j&k#l%m",
		"zoë ✓",
	} {
		out, err := exec.CommandContext(t.Context(), bash, "-c", string(fn)+"\nenc \"$1\"", "enc", in).Output() //nolint:gosec // G204: the demo script's own enc function, run on the test's inputs
		require.NoError(t, err)
		want := strings.ReplaceAll(url.QueryEscape(in), "+", "%20")
		assert.Equal(t, want, string(out), in)
	}
}
