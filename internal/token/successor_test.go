package token

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewDeriverRefusesShortSecrets(t *testing.T) {
	_, err := NewDeriver(make([]byte, 31))
	assert.Error(t, err)
	_, err = NewDeriver(nil)
	assert.Error(t, err)
	_, err = NewDeriver(make([]byte, 32))
	assert.NoError(t, err)
}

func TestSuccessorIsDeterministic(t *testing.T) {
	d, err := NewDeriver(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	a := d.Successor("presented")
	assert.Equal(t, a, d.Successor("presented"))
	assert.Len(t, a, OpaqueLen)
	raw, err := base64.RawURLEncoding.Strict().DecodeString(a)
	require.NoError(t, err)
	assert.Len(t, raw, 32)

	// Another Deriver with the same secret (another replica) agrees.
	d2, err := NewDeriver(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	assert.Equal(t, a, d2.Successor("presented"))
}

func TestSuccessorDependsOnKeyAndToken(t *testing.T) {
	d1, err := NewDeriver(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	d2, err := NewDeriver(bytes.Repeat([]byte{2}, 32))
	require.NoError(t, err)
	assert.NotEqual(t, d1.Successor("t"), d2.Successor("t"))
	assert.NotEqual(t, d1.Successor("t"), d1.Successor("u"))
	assert.NotEqual(t, d1.Successor("t"), d1.Successor(d1.Successor("t")))
}

func TestSuccessorMatchesTheDocumentedFormula(t *testing.T) {
	// HMAC-SHA256(key = 32 × 0x01, "refresh-successor:presented"), computed
	// independently with: printf 'refresh-successor:presented' |
	//   openssl dgst -sha256 -mac HMAC -macopt hexkey:0101…01 -binary | basenc --base64url
	d, err := NewDeriver(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	assert.Equal(t, opensslSuccessor, d.Successor("presented"))
}

func TestNewDeriverCopiesTheSecret(t *testing.T) {
	secret := bytes.Repeat([]byte{1}, 32)
	d, err := NewDeriver(secret)
	require.NoError(t, err)
	before := d.Successor("t")
	secret[0] = 9
	assert.Equal(t, before, d.Successor("t"))
}

const opensslSuccessor = "pVWqXQ4Wsu9mpbx89Tpt-Q-f60OLSOAPmwMUApqrV0I"
