package token

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RFC 7636 appendix B (checked with: printf '%s' "$verifier" |
// openssl dgst -sha256 -binary | basenc --base64url).
const (
	rfcVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func TestNewOpaqueIs256BitsOfBase64url(t *testing.T) {
	tok, err := NewOpaque(rand.Reader)
	require.NoError(t, err)
	assert.Len(t, tok, OpaqueLen)
	raw, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	require.NoError(t, err)
	assert.Len(t, raw, OpaqueBytes)
	assert.NotContains(t, tok, "=")

	other, err := NewOpaque(rand.Reader)
	require.NoError(t, err)
	assert.NotEqual(t, tok, other)
}

func TestNewOpaqueUsesTheGivenReader(t *testing.T) {
	a, err := NewOpaque(bytes.NewReader(bytes.Repeat([]byte{0xff}, 32)))
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("_", 42)+"8", a)

	b1, err := NewOpaque(seeded(7))
	require.NoError(t, err)
	b2, err := NewOpaque(seeded(7))
	require.NoError(t, err)
	assert.Equal(t, b1, b2)
}

func TestNewOpaqueFailsOnShortRandomness(t *testing.T) {
	_, err := NewOpaque(bytes.NewReader(make([]byte, 31)))
	assert.Error(t, err)
	_, err = NewOpaque(errReader{})
	assert.ErrorIs(t, err, errBoom)
}

func TestHashOfIsSHA256(t *testing.T) {
	h := HashOf("abc")
	assert.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hex.EncodeToString(h[:]))
}

func TestEqualComparesHashes(t *testing.T) {
	assert.True(t, Equal(HashOf("a"), HashOf("a")))
	assert.False(t, Equal(HashOf("a"), HashOf("b")))
}

func TestVerifyPKCE(t *testing.T) {
	tests := []struct {
		name      string
		challenge string
		verifier  string
		want      bool
	}{
		{"accepts the RFC 7636 appendix B vector", rfcChallenge, rfcVerifier, true},
		{"refuses another verifier", rfcChallenge, "eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", false},
		{"refuses the challenge as verifier", rfcChallenge, rfcChallenge, false},
		{"refuses a garbled 44-character challenge", "E9Melhoa2OwvFrEMTJguCQaoWL4-Ej2cIXq0YSgUxhfM", rfcVerifier, false},
		{"refuses a padded challenge", rfcChallenge + "=", rfcVerifier, false},
		{"refuses an empty challenge", "", rfcVerifier, false},
		{"refuses an empty verifier", rfcChallenge, "", false},
		{"refuses a 42-character verifier", challengeOf(strings.Repeat("a", 42)), strings.Repeat("a", 42), false},
		{"accepts a 43-character verifier", challengeOf(strings.Repeat("a", 43)), strings.Repeat("a", 43), true},
		{"accepts a 128-character verifier", challengeOf(strings.Repeat("~", 128)), strings.Repeat("~", 128), true},
		{"refuses a 129-character verifier", challengeOf(strings.Repeat("a", 129)), strings.Repeat("a", 129), false},
		{"refuses a verifier with a space", challengeOf(strings.Repeat("a", 42) + " "), strings.Repeat("a", 42) + " ", false},
		{"refuses a verifier with '+'", challengeOf(strings.Repeat("a", 42) + "+"), strings.Repeat("a", 42) + "+", false},
		{"refuses a verifier with non-ASCII", challengeOf(strings.Repeat("a", 42) + "é"), strings.Repeat("a", 42) + "é", false},
		{"accepts every unreserved character", challengeOf("AZaz09-._~" + strings.Repeat("x", 33)), "AZaz09-._~" + strings.Repeat("x", 33), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, VerifyPKCE(tt.challenge, tt.verifier))
		})
	}
}

// challengeOf computes an S256 challenge without VerifyPKCE's checks.
func challengeOf(verifier string) string {
	h := HashOf(verifier)
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func TestValidChallenge(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"accepts the RFC vector", rfcChallenge, true},
		{"refuses 42 characters", rfcChallenge[:42], false},
		{"refuses 44 characters", rfcChallenge + "A", false},
		{"refuses padding", rfcChallenge[:42] + "=", false},
		{"refuses standard base64 alphabet", strings.Replace(rfcChallenge, "-", "+", 1), false},
		{"refuses a non-canonical last character", rfcChallenge[:42] + "N", false},
		{"refuses empty", "", false},
		{"refuses the plain method's verifier shape", rfcVerifier + "x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, ValidChallenge(tt.in))
		})
	}
}

func FuzzVerifyPKCE(f *testing.F) {
	f.Add(rfcChallenge, rfcVerifier)
	f.Add("", "")
	f.Add(rfcChallenge+"=", strings.Repeat("~", 200))
	f.Fuzz(func(t *testing.T, challenge, verifier string) {
		if VerifyPKCE(challenge, verifier) {
			assert.True(t, ValidChallenge(challenge))
			assert.True(t, validVerifier(verifier))
		}
		ValidChallenge(challenge)
	})
}
