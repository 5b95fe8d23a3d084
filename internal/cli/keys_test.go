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
