package cli

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/config"
)

// The generated key is what the configuration accepts as
// ALGA_MOBILE_SECRET_KEY (whatever rules it applies to weak keys), and a new
// one every time.
func TestSecretPrintsAStrongKey(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		r := adminRun(t, "secret")
		require.Equal(t, ExitOK, r.code, r.stderr)
		key := strings.TrimSuffix(r.stdout, "\n")
		require.Equal(t, key+"\n", r.stdout, "only the key on stdout")
		raw, err := base64.RawStdEncoding.DecodeString(key)
		require.NoError(t, err)
		assert.Len(t, raw, 48)
		assert.False(t, strings.HasPrefix(key, "-"), "usable as an argument")
		assert.False(t, seen[key])
		seen[key] = true

		adminEnv(t)
		t.Setenv("ALGA_MOBILE_SECRET_KEY", key)
		_, err = config.Load()
		var problems config.Problems
		if err != nil {
			require.ErrorAs(t, err, &problems)
			for _, p := range problems {
				assert.NotEqual(t, "ALGA_MOBILE_SECRET_KEY", p.Var, "generated key refused: %s", p.Message)
			}
		}
	}
	assert.Contains(t, adminRun(t, "secret").stderr, "ALGA_MOBILE_SECRET_KEY")
}

func TestNewSecretKeyFailsWithoutRandomness(t *testing.T) {
	_, err := newSecretKey(bytes.NewReader(make([]byte, 10)))
	assert.Error(t, err)
}

// On a fresh install there is no store yet, so `keys rotate` fails ("no
// store"): the advice must not send every new operator there. It applies
// only to an install that has already run without the key.
func TestSecretAdviceFitsAFreshInstall(t *testing.T) {
	r := adminRun(t, "secret")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.NotContains(t, r.stderr, "then run 'alga-mobile-auth keys rotate'", "not an unconditional next step")
	assert.Contains(t, r.stderr, "before the first 'alga-mobile-auth serve'")
	assert.Contains(t, r.stderr, "only on an install that has already run without one", "keys rotate is for an existing store")
	assert.Contains(t, r.stderr, "'alga-mobile-auth keys rotate'")
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line of advice")

	// Why: on a fresh install the suggested command cannot work.
	adminEnv(t)
	rot := adminRun(t, "keys", "rotate")
	assert.NotEqual(t, ExitOK, rot.code)
	assert.Contains(t, rot.stderr, "no store")
}
