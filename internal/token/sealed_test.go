package token

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSealedKeysEncryptPrivateKeysAtRest(t *testing.T) {
	ctx := context.Background()
	raw := &memKeys{}
	master := bytes.Repeat([]byte("m"), 32)
	sealed, err := SealedKeys(raw, master)
	require.NoError(t, err)
	k, err := Rotate(ctx, sealed, time.Now(), seeded(1))
	require.NoError(t, err)

	stored, err := raw.ListSigningKeys(ctx)
	require.NoError(t, err)
	require.Len(t, stored, 1)
	assert.True(t, bytes.HasPrefix(stored[0].PrivateDER, sealedPrefix), "stored sealed")
	assert.False(t, bytes.Contains(stored[0].PrivateDER, k.PrivateDER), "no clear key bytes at rest")

	opened, err := sealed.ListSigningKeys(ctx)
	require.NoError(t, err)
	assert.Equal(t, k.PrivateDER, opened[0].PrivateDER)

	other, err := SealedKeys(raw, bytes.Repeat([]byte("x"), 32))
	require.NoError(t, err)
	_, err = other.ListSigningKeys(ctx)
	assert.ErrorIs(t, err, ErrSealedKey, "another master key cannot open it")
}

func TestSealedKeysReadClearKeysFromBefore(t *testing.T) {
	ctx := context.Background()
	raw := &memKeys{}
	k, err := Rotate(ctx, raw, time.Now(), seeded(2))
	require.NoError(t, err)
	sealed, err := SealedKeys(raw, bytes.Repeat([]byte("m"), 32))
	require.NoError(t, err)
	keys, err := sealed.ListSigningKeys(ctx)
	require.NoError(t, err)
	assert.Equal(t, k.PrivateDER, keys[0].PrivateDER)
}

func TestDeriveKey(t *testing.T) {
	m := bytes.Repeat([]byte("k"), 32)
	a, err := DeriveKey(m, "a")
	require.NoError(t, err)
	b, err := DeriveKey(m, "b")
	require.NoError(t, err)
	a2, _ := DeriveKey(m, "a")
	assert.Len(t, a, 32)
	assert.NotEqual(t, a, b, "purposes are independent")
	assert.Equal(t, a, a2, "deterministic")
	_, err = DeriveKey([]byte("short"), "a")
	assert.Error(t, err)
	same, err := SealedKeys(&memKeys{}, nil)
	require.NoError(t, err)
	assert.IsType(t, &memKeys{}, same, "no master key: unchanged")
}

// Keys stored in clear before ALGA_MOBILE_SECRET_KEY was set are sealed by
// ResealClearKeys; they still sign and verify afterwards, and a second run
// has nothing left to do.
func TestResealClearKeysSealsEveryClearKey(t *testing.T) {
	ctx := context.Background()
	raw := &memKeys{}
	old, err := Rotate(ctx, raw, time.Now().Add(-time.Hour), seeded(3))
	require.NoError(t, err)
	cur, err := Rotate(ctx, raw, time.Now(), seeded(4))
	require.NoError(t, err)
	master := []byte("Zq8v2LrX0pW7nB4tK9sD1fH6yJ3mC5gA")

	n, err := ResealClearKeys(ctx, raw, master)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	stored, err := raw.ListSigningKeys(ctx)
	require.NoError(t, err)
	for _, k := range stored {
		assert.False(t, InClear(k.PrivateDER), "key %s sealed", k.KID)
		assert.False(t, bytes.Contains(k.PrivateDER, old.PrivateDER) || bytes.Contains(k.PrivateDER, cur.PrivateDER))
	}
	sealed, err := SealedKeys(raw, master)
	require.NoError(t, err)
	opened, err := sealed.ListSigningKeys(ctx)
	require.NoError(t, err)
	assert.Equal(t, cur.PrivateDER, opened[0].PrivateDER, "opens to the same key")
	assert.Equal(t, old.PrivateDER, opened[1].PrivateDER)

	n, err = ResealClearKeys(ctx, raw, master)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left in clear")
	_, err = ResealClearKeys(ctx, raw, nil)
	assert.Error(t, err, "no master key")
}
