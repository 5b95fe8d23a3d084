package token

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

const (
	testTTL     = 15 * time.Minute
	testRefresh = 30 * time.Second
	// testWindow is how long a retired key stays published.
	testWindow = testTTL + testRefresh + publishSkew
)

func newTestKeyring(t testing.TB, src KeySource, clk *clock, seed byte) *Keyring {
	t.Helper()
	k, err := NewKeyring(context.Background(), src, KeyringOptions{
		Now: clk.Now, Rand: seeded(seed), AccessTTL: testTTL, RefreshEvery: testRefresh,
	})
	require.NoError(t, err)
	return k
}

// jwksKIDs lists the kids of a rendered JWKS, checking its shape.
func jwksKIDs(t *testing.T, doc []byte) []string {
	t.Helper()
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(doc, &set), string(doc))
	kids := []string{}
	for _, k := range set.Keys {
		assert.Equal(t, "OKP", k["kty"])
		assert.Equal(t, "Ed25519", k["crv"])
		assert.Equal(t, "sig", k["use"])
		assert.Equal(t, "EdDSA", k["alg"])
		x, err := base64.RawURLEncoding.DecodeString(k["x"])
		require.NoError(t, err)
		require.Len(t, x, ed25519.PublicKeySize)
		assert.Equal(t, Thumbprint(x), k["kid"])
		kids = append(kids, k["kid"])
	}
	return kids
}

func TestThumbprintMatchesRFC8037(t *testing.T) {
	x, err := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	require.NoError(t, err)
	assert.Equal(t, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", Thumbprint(x))
}

func TestNewKeyringGeneratesAndStoresAFirstKey(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	k := newTestKeyring(t, src, clk, 1)

	keys, err := src.ListSigningKeys(context.Background())
	require.NoError(t, err)
	require.Len(t, keys, 1)
	assert.Equal(t, Algorithm, keys[0].Algorithm)
	assert.Equal(t, clk.Now(), keys[0].CreatedAt)
	assert.Nil(t, keys[0].RetiredAt)
	assert.Equal(t, []string{keys[0].KID}, jwksKIDs(t, k.JWKS(clk.Now())))
}

func TestNewKeyringReusesStoredKeys(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	first := newTestKeyring(t, src, clk, 1)
	clk.Advance(time.Hour)
	second := newTestKeyring(t, src, clk, 2)

	keys, err := src.ListSigningKeys(context.Background())
	require.NoError(t, err)
	assert.Len(t, keys, 1, "a restart must not add a key")
	assert.Equal(t, first.JWKS(clk.Now()), second.JWKS(clk.Now()))
}

func TestNewKeyringValidatesOptions(t *testing.T) {
	_, err := NewKeyring(context.Background(), nil, KeyringOptions{})
	assert.Error(t, err)
	_, err = NewKeyring(context.Background(), &memKeys{}, KeyringOptions{AccessTTL: -time.Second})
	assert.Error(t, err)
	src := &memKeys{listErr: errBoom}
	_, err = NewKeyring(context.Background(), src, KeyringOptions{})
	assert.ErrorIs(t, err, errBoom)
	_, err = NewKeyring(context.Background(), &memKeys{}, KeyringOptions{Rand: errReader{}})
	assert.ErrorIs(t, err, errBoom)
}

func TestJWKSPublishesActiveAndRecentlyRetiredKeys(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	k := newTestKeyring(t, src, clk, 1)
	oldKID := jwksKIDs(t, k.JWKS(clk.Now()))[0]

	clk.Advance(time.Hour)
	rotated := clk.Now()
	newKey, err := Rotate(context.Background(), src, rotated, seeded(2))
	require.NoError(t, err)
	require.NoError(t, k.Reload(context.Background()))

	tests := []struct {
		name string
		at   time.Time
		want []string
	}{
		{"publishes both right after rotation", rotated, []string{newKey.KID, oldKID}},
		{"keeps the retired key while its tokens may live", rotated.Add(testWindow - time.Second), []string{newKey.KID, oldKID}},
		{"drops the retired key afterwards", rotated.Add(testWindow), []string{newKey.KID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, jwksKIDs(t, k.JWKS(tt.at)))
		})
	}
}

func TestRotatedKeySignsOnlyOnceReplicasCanKnowIt(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	k := newTestKeyring(t, src, clk, 1)
	oldKID := jwksKIDs(t, k.JWKS(clk.Now()))[0]
	clk.Advance(time.Hour)
	newKey, err := Rotate(context.Background(), src, clk.Now(), seeded(2))
	require.NoError(t, err)
	require.NoError(t, k.Reload(context.Background()))

	s, err := k.signer(clk.Now())
	require.NoError(t, err)
	assert.Equal(t, oldKID, s.kid, "the new key is only published during propagation")

	s, err = k.signer(clk.Now().Add(testRefresh))
	require.NoError(t, err)
	assert.Equal(t, newKey.KID, s.kid)
}

func TestTwoKeyringsAgreeAfterReload(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	a := newTestKeyring(t, src, clk, 1)
	b := newTestKeyring(t, src, clk, 2)
	assert.Equal(t, a.JWKS(clk.Now()), b.JWKS(clk.Now()))

	clk.Advance(time.Hour)
	_, err := Rotate(context.Background(), src, clk.Now(), seeded(3))
	require.NoError(t, err)
	require.NoError(t, a.Reload(context.Background()))
	assert.NotEqual(t, a.JWKS(clk.Now()), b.JWKS(clk.Now()), "b has not re-read yet")

	require.NoError(t, b.Reload(context.Background()))
	assert.Equal(t, a.JWKS(clk.Now()), b.JWKS(clk.Now()))
	assert.Len(t, jwksKIDs(t, b.JWKS(clk.Now())), 2)

	// Tokens signed by either verify on the other, before and after the
	// new key starts signing.
	for _, at := range []time.Duration{0, testRefresh} {
		clk.Advance(at)
		for _, pair := range [][2]*Keyring{{a, b}, {b, a}} {
			tok := issueWith(t, pair[0], clk)
			_, err := newTestVerifier(t, pair[1], clk, nil).Verify(tok)
			assert.NoError(t, err)
		}
	}
}

func TestReplicasStartingTogetherVerifyEachOther(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	rings := make([]*Keyring, 4)
	var wg sync.WaitGroup
	for i := range rings {
		wg.Go(func() { rings[i] = newTestKeyring(t, src, clk, byte(i+1)) }) //nolint:gosec // G115: i counts a few keyrings
	}
	wg.Wait()
	for _, r := range rings {
		require.NotNil(t, r)
		require.NoError(t, r.Reload(context.Background()))
	}
	for _, signer := range rings {
		tok := issueWith(t, signer, clk)
		for _, verifier := range rings {
			_, err := newTestVerifier(t, verifier, clk, nil).Verify(tok)
			assert.NoError(t, err)
		}
	}
}

func TestReloadKeepsPreviousKeysOnFailure(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	k := newTestKeyring(t, src, clk, 1)
	before := k.JWKS(clk.Now())

	src.setListErr(errBoom)
	assert.ErrorIs(t, k.Reload(context.Background()), errBoom)
	assert.Equal(t, before, k.JWKS(clk.Now()))

	src.setListErr(nil)
	src.mu.Lock()
	saved := src.keys
	src.keys = nil
	src.mu.Unlock()
	assert.ErrorIs(t, k.Reload(context.Background()), ErrNoSigningKey, "an emptied store is refused")
	assert.Equal(t, before, k.JWKS(clk.Now()))

	src.mu.Lock()
	src.keys = append(saved, mobileauth.SigningKey{KID: "x", Algorithm: Algorithm, PublicDER: []byte("junk"), CreatedAt: clk.Now()})
	src.mu.Unlock()
	assert.Error(t, k.Reload(context.Background()), "a corrupt key is refused")
	assert.Equal(t, before, k.JWKS(clk.Now()))
}

func TestParseKeyRefusesInconsistentKeys(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	_, err := Rotate(context.Background(), src, clk.Now(), seeded(1))
	require.NoError(t, err)
	_, err = Rotate(context.Background(), src, clk.Now().Add(time.Second), seeded(2))
	require.NoError(t, err)
	good, other := src.keys[0], src.keys[1]
	_, err = parseKey(good)
	require.NoError(t, err)

	tests := []struct {
		name   string
		mutate func(k *mobileauth.SigningKey)
	}{
		{"wrong algorithm", func(k *mobileauth.SigningKey) { k.Algorithm = "ES256" }},
		{"kid not the thumbprint", func(k *mobileauth.SigningKey) { k.KID = "v1" }},
		{"garbage public key", func(k *mobileauth.SigningKey) { k.PublicDER = []byte{1, 2, 3} }},
		{"garbage private key", func(k *mobileauth.SigningKey) { k.PrivateDER = []byte{1, 2, 3} }},
		{"private key of another pair", func(k *mobileauth.SigningKey) { k.PrivateDER = other.PrivateDER }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := good
			tt.mutate(&k)
			_, err := parseKey(k)
			assert.Error(t, err)
		})
	}

	t.Run("accepts a verify-only key", func(t *testing.T) {
		k := good
		k.PrivateDER = nil
		p, err := parseKey(k)
		require.NoError(t, err)
		assert.Nil(t, p.priv)
	})
}

func TestKeyringWithOnlyVerifyKeysGeneratesASigningKey(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	_, err := Rotate(context.Background(), src, clk.Now(), seeded(1))
	require.NoError(t, err)
	src.keys[0].PrivateDER = nil
	k := newTestKeyring(t, src, clk, 2)
	assert.Len(t, jwksKIDs(t, k.JWKS(clk.Now())), 2)
	_, err = k.signer(clk.Now())
	assert.NoError(t, err)
}

func TestRunReloadsUntilCancelled(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	k, err := NewKeyring(context.Background(), src, KeyringOptions{Now: clk.Now, RefreshEvery: time.Millisecond})
	require.NoError(t, err)
	listed := make(chan struct{})
	src.mu.Lock()
	src.listed = listed
	src.mu.Unlock()
	_, err = Rotate(context.Background(), src, clk.Now().Add(time.Second), seeded(9))
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { k.Run(ctx); close(done) }()
	for range 2 { // two reads: the second starts after the first was installed
		select {
		case <-listed:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not reload")
		}
	}
	cancel()
	<-done
	assert.Len(t, jwksKIDs(t, k.JWKS(clk.Now())), 2)
}

func TestRotateReportsStoreFailures(t *testing.T) {
	_, err := Rotate(context.Background(), &failingAdd{}, time.Now(), seeded(1))
	assert.ErrorIs(t, err, errBoom)
	_, err = Rotate(context.Background(), &memKeys{}, time.Now(), errReader{})
	assert.ErrorIs(t, err, errBoom)
}

type failingAdd struct{ memKeys }

func (*failingAdd) AddSigningKey(context.Context, mobileauth.SigningKey) error { return errBoom }
