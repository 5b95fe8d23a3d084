package token

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A kid never starts with "-" (it would read as a flag on a command line):
// a key whose thumbprint does is drawn again.
func TestRotateNeverMakesAKidStartingWithADash(t *testing.T) {
	var dashed []byte
	for i := 0; dashed == nil; i++ {
		seed := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		if strings.HasPrefix(Thumbprint(ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)), "-") {
			dashed = seed[:]
		}
	}
	src := &memKeys{}
	k, err := Rotate(context.Background(), src, newClock().Now(), io.MultiReader(bytes.NewReader(dashed), seeded(3)))
	require.NoError(t, err)
	assert.False(t, strings.HasPrefix(k.KID, "-"), k.KID)
	parsed, err := parseKey(k)
	require.NoError(t, err, "the kid is still the key's thumbprint")
	assert.Equal(t, k.KID, parsed.kid)
}
