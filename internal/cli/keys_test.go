package cli

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var kidPattern = regexp.MustCompile(`^new signing key ([A-Za-z0-9_-]{43}) is active`)

func rotateKey(t *testing.T) string {
	t.Helper()
	r := adminRun(t, "keys", "rotate")
	require.Equal(t, ExitOK, r.code, r.stderr)
	m := kidPattern.FindStringSubmatch(r.stdout)
	require.NotNil(t, m, r.stdout)
	return m[1]
}

func TestKeysRotateAddsANewActiveKey(t *testing.T) {
	url := adminDB(t)
	first := rotateKey(t)
	second := rotateKey(t)
	assert.NotEqual(t, first, second)

	keys, err := adminStore(t, url).ListSigningKeys(context.Background())
	require.NoError(t, err)
	require.Len(t, keys, 2)
	assert.Equal(t, second, keys[0].KID, "newest first")
	assert.Nil(t, keys[0].RetiredAt, "the newest key is active")
	assert.Equal(t, first, keys[1].KID)
	require.NotNil(t, keys[1].RetiredAt, "the older key is retired, still published until its tokens expire")
	assert.False(t, keys[1].RetiredAt.Before(keys[1].CreatedAt))
	assert.NotEmpty(t, keys[0].PrivateDER)

	r := adminRun(t, "keys", "list")
	require.Equal(t, ExitOK, r.code, r.stderr)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	require.Len(t, lines, 3)
	assert.Regexp(t, `^KID\s+ALGORITHM\s+CREATED\s+STATUS$`, lines[0])
	assert.Regexp(t, `^`+second+`\s+EdDSA\s+\S+\s+active$`, lines[1])
	assert.Regexp(t, `^`+first+`\s+EdDSA\s+\S+\s+retired \S+$`, lines[2])
}

func TestKeysCommandsRefuseArguments(t *testing.T) {
	adminDB(t)
	assertUsageError(t, adminRun(t, "keys", "rotate", "now"), `unexpected argument "now"`)
	assertUsageError(t, adminRun(t, "keys", "delete"), `unknown command "delete"`)
}

// Issue 11 item 5: an install that ran without ALGA_MOBILE_SECRET_KEY keeps
// its signing keys and server secrets in clear. Once the key is set, check
// says so, `keys rotate` seals the keys and deletes the stored secrets, and
// check then says none remain.
func TestKeysRotateSealsWhatWasKeptInClear(t *testing.T) {
	url := adminDB(t)
	rotateKey(t) // without a key: stored in clear
	st := adminStore(t, url)
	_, err := st.ServerSecret(context.Background(), "refresh-successor", func() ([]byte, error) { return []byte("clear-secret-value-32-bytes-long"), nil })
	require.NoError(t, err)

	t.Setenv("ALGA_MOBILE_SECRET_KEY", testSecretKey)
	r := adminRun(t, "check")
	assert.Contains(t, r.stdout, "1 signing key(s) and 1 server secret(s) are still stored in clear", r.stdout)
	assert.Contains(t, r.stdout, "fix: run keys rotate, or start the service")

	r = adminRun(t, "keys", "rotate")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "sealed 1 signing key(s) kept in clear with ALGA_MOBILE_SECRET_KEY and deleted 1 stored server secret(s)")
	keys, err := st.ListSigningKeys(context.Background())
	require.NoError(t, err)
	require.Len(t, keys, 2)
	for _, k := range keys {
		assert.True(t, strings.HasPrefix(string(k.PrivateDER), "amk1:"), "key %s sealed", k.KID)
	}
	n, err := st.CountServerSecrets(context.Background())
	require.NoError(t, err)
	assert.Zero(t, n)

	r = adminRun(t, "check")
	assert.Regexp(t, `\[ok\]\s+secrets at rest\s+no signing key or server secret is stored in clear`, r.stdout)

	t.Setenv("ALGA_MOBILE_SECRET_KEY", "Zq8v2LrX0pW7nB4tK9sD1fH6yJ3mC5gAe+R/uTo1ic2Xb7hM4kPqS0wYd9aFg3LQ")
	r = adminRun(t, "check")
	assert.Contains(t, r.stdout, "sealed with another ALGA_MOBILE_SECRET_KEY")
}
