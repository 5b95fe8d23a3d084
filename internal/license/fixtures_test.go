package license

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"maps"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// t0 is the fixed "now" of the tests: no test reads the real clock.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// signer is a test vendor: a P-256 key pair and its kid.
type signer struct {
	kid string
	key *ecdsa.PrivateKey
}

// newSigner generates a fresh P-256 key under kid.
func newSigner(tb testing.TB, kid string) signer {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	return signer{kid: kid, key: k}
}

// keys is the Keys holding only this signer's public key.
func (s signer) keys() Keys { return Keys{s.kid: &s.key.PublicKey} }

// publicPEM is the signer's public key as a PKIX PEM block.
func (s signer) publicPEM(tb testing.TB) []byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	require.NoError(tb, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// licenseClaimsAt returns the claims of a valid, unbound pro license issued
// an hour before now and valid for 30 days.
func licenseClaimsAt(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":   Issuer,
		"sub":   "lic-0001",
		"cust":  "Acme MSP",
		"tier":  "pro",
		"iat":   now.Add(-time.Hour).Unix(),
		"exp":   now.Add(30 * 24 * time.Hour).Unix(),
		"seats": 25,
	}
}

// with returns a copy of c with the given claims set (a nil value deletes).
func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := maps.Clone(c)
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, k)
			continue
		}
		out[k] = kv[i+1]
	}
	return out
}

// sign signs claims with ES256 under the signer's kid.
func (s signer) sign(tb testing.TB, claims jwt.MapClaims) string {
	tb.Helper()
	return signToken(tb, jwt.SigningMethodES256, s.key, map[string]any{"kid": s.kid}, claims)
}

// signToken signs claims with any method and key, setting the given header
// fields (a nil value deletes the field).
func signToken(tb testing.TB, m jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	tb.Helper()
	tok := jwt.NewWithClaims(m, claims)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
			continue
		}
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	require.NoError(tb, err)
	return s
}
