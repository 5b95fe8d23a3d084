package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

func testKeys(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(t)

	keys, err := s.ListSigningKeys(ctx)
	require.NoError(t, err)
	assert.Empty(t, keys, "no keys at first")

	k1 := mobileauth.SigningKey{KID: "k1", Algorithm: "EdDSA", PrivateDER: []byte("priv-1"), PublicDER: []byte("pub-1"), CreatedAt: t0}
	k2 := mobileauth.SigningKey{KID: "k2", Algorithm: "EdDSA", PrivateDER: []byte("priv-2"), PublicDER: []byte("pub-2"), CreatedAt: at(time.Hour)}
	require.NoError(t, s.AddSigningKey(ctx, k1))
	require.NoError(t, s.AddSigningKey(ctx, k2))

	t.Run("lists newest first and retires the older key", func(t *testing.T) {
		keys, err := s.ListSigningKeys(ctx)
		require.NoError(t, err)
		require.Len(t, keys, 2)
		assert.Equal(t, "k2", keys[0].KID)
		assert.Equal(t, "EdDSA", keys[0].Algorithm)
		assert.Equal(t, []byte("priv-2"), keys[0].PrivateDER)
		assert.Equal(t, []byte("pub-2"), keys[0].PublicDER)
		assertTime(t, at(time.Hour), keys[0].CreatedAt, "k2 CreatedAt")
		assert.Nil(t, keys[0].RetiredAt, "the new key is active")
		assert.Equal(t, "k1", keys[1].KID)
		assertTimePtr(t, ptr(at(time.Hour)), keys[1].RetiredAt, "k1 retired when k2 arrived")
	})
	t.Run("keeps the first retirement time", func(t *testing.T) {
		k3 := mobileauth.SigningKey{KID: "k3", Algorithm: "EdDSA", PublicDER: []byte("pub-3"), CreatedAt: at(2 * time.Hour)}
		require.NoError(t, s.AddSigningKey(ctx, k3))
		keys, err := s.ListSigningKeys(ctx)
		require.NoError(t, err)
		require.Len(t, keys, 3)
		assert.Equal(t, []string{"k3", "k2", "k1"}, []string{keys[0].KID, keys[1].KID, keys[2].KID})
		assert.Nil(t, keys[0].PrivateDER, "a verify-only key has no private part")
		assertTimePtr(t, ptr(at(2*time.Hour)), keys[1].RetiredAt, "k2")
		assertTimePtr(t, ptr(at(time.Hour)), keys[2].RetiredAt, "k1 unchanged")
	})
	t.Run("refuses a duplicate kid and retires nothing", func(t *testing.T) {
		dup := mobileauth.SigningKey{KID: "k3", Algorithm: "EdDSA", PublicDER: []byte("x"), CreatedAt: at(3 * time.Hour)}
		assert.ErrorIs(t, s.AddSigningKey(ctx, dup), mobileauth.ErrConflict)
		keys, err := s.ListSigningKeys(ctx)
		require.NoError(t, err)
		assert.Nil(t, keys[0].RetiredAt, "k3 still active")
	})
	t.Run("replaces a private half only while it is the expected one", func(t *testing.T) {
		ok, err := s.ReplaceSigningKeyPrivate(ctx, "k2", []byte("priv-2"), []byte("sealed-2"))
		require.NoError(t, err)
		assert.True(t, ok)
		ok, err = s.ReplaceSigningKeyPrivate(ctx, "k2", []byte("priv-2"), []byte("sealed-again"))
		require.NoError(t, err)
		assert.False(t, ok, "another re-sealer got there first")
		ok, err = s.ReplaceSigningKeyPrivate(ctx, "nope", []byte("priv-2"), []byte("x"))
		require.NoError(t, err)
		assert.False(t, ok)
		keys, err := s.ListSigningKeys(ctx)
		require.NoError(t, err)
		assert.Equal(t, []byte("sealed-2"), keys[1].PrivateDER)
		assert.Equal(t, []byte("priv-1"), keys[2].PrivateDER, "other keys untouched")
	})
}

func testServerSecret(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(t)

	t.Run("creates once, then returns the stored value", func(t *testing.T) {
		calls := 0
		gen := func() ([]byte, error) { calls++; return []byte(fmt.Sprintf("secret-%d", calls)), nil }
		v1, err := s.ServerSecret(ctx, "refresh-hmac", gen)
		require.NoError(t, err)
		v2, err := s.ServerSecret(ctx, "refresh-hmac", gen)
		require.NoError(t, err)
		assert.Equal(t, []byte("secret-1"), v1)
		assert.Equal(t, v1, v2)
		assert.Equal(t, 1, calls)
		other, err := s.ServerSecret(ctx, "other", gen)
		require.NoError(t, err)
		assert.Equal(t, []byte("secret-2"), other, "names are independent")
	})
	t.Run("reports a generator failure without storing", func(t *testing.T) {
		boom := errors.New("no entropy")
		_, err := s.ServerSecret(ctx, "failing", func() ([]byte, error) { return nil, boom })
		assert.ErrorIs(t, err, boom)
		_, err = s.ServerSecret(ctx, "failing", func() ([]byte, error) { return nil, nil })
		assert.Error(t, err, "an empty secret is refused")
		v, err := s.ServerSecret(ctx, "failing", func() ([]byte, error) { return []byte("ok"), nil })
		require.NoError(t, err)
		assert.Equal(t, []byte("ok"), v)
	})
	t.Run("counts and deletes every stored secret", func(t *testing.T) {
		other := open(t)
		for _, name := range []string{"a", "b"} {
			_, err := other.ServerSecret(ctx, name, func() ([]byte, error) { return []byte("v-" + name), nil })
			require.NoError(t, err)
		}
		n, err := other.CountServerSecrets(ctx)
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		n, err = other.DeleteServerSecrets(ctx)
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		n, err = other.CountServerSecrets(ctx)
		require.NoError(t, err)
		assert.Zero(t, n)
	})
	t.Run("the first writer wins for every concurrent caller", func(t *testing.T) {
		const n = 20
		results := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				results[i], errs[i] = s.ServerSecret(ctx, "race", func() ([]byte, error) {
					return []byte(fmt.Sprintf("candidate-%d", i)), nil
				})
			})
		}
		wg.Wait()
		for i := range n {
			require.NoError(t, errs[i])
			assert.True(t, bytes.Equal(results[0], results[i]), "caller %d got another secret", i)
		}
	})
}
