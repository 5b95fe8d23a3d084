package license

import (
	"crypto/elliptic"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
)

// knownReasons is every Reason Verify may return.
var knownReasons = map[Reason]bool{
	ReasonNone: true, ReasonExpired: true, ReasonNotYetValid: true, ReasonBadSignature: true,
	ReasonUnknownKID: true, ReasonMalformed: true, ReasonNoKeys: true,
}

func FuzzVerify(f *testing.F) {
	vendor := newSigner(f, "v1")
	base := licenseClaimsAt(t0)
	valid := vendor.sign(f, base)
	for _, seed := range []string{
		valid,
		vendor.sign(f, with(base, "aud", []string{"a", "b"}, "tier", "premium")),
		vendor.sign(f, with(base, "exp", t0.Unix()-3600)),
		vendor.sign(f, with(base, "iss", nil, "sub", nil)),
		newSigner(f, "v2").sign(f, base),
		signToken(f, jwt.SigningMethodHS256, vendor.publicPEM(f), map[string]any{"kid": "v1"}, base),
		signToken(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"kid": "v1"}, base),
		valid[:len(valid)/2],
		"", ".", "..", "...", "a.b.c", "eyJ9.e30.", "e30.e30.e30", "eyJhbGciOiJFUzI1NiJ9.bnVsbA.",
	} {
		f.Add(seed)
	}
	keys := vendor.keys()
	f.Fuzz(func(t *testing.T, token string) {
		c, reason, err := Verify(token, keys, t0)
		assert.True(t, knownReasons[reason], "unknown reason %q", reason)
		if reason == ReasonNone {
			assert.NoError(t, err)
			assert.True(t, c.Tier.Rank() > 0, "a valid license has a known tier")
			assert.NotEmpty(t, c.Subject)
			assert.NotEmpty(t, c.Customer)
		} else {
			assert.Error(t, err)
		}
	})
}

func FuzzParseJWKS(f *testing.F) {
	f.Add(jwksJSON(f, jwkOf(f, newSigner(f, "v1"))))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"","y":""}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseJWKS(data)
		if err != nil {
			assert.Nil(t, keys)
			return
		}
		for kid, k := range keys {
			assert.NotEmpty(t, kid)
			assert.Equal(t, elliptic.P256(), k.Curve)
		}
	})
}

func FuzzParsePEM(f *testing.F) {
	f.Add(newSigner(f, "v1").publicPEM(f))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePEM(data)
		if err == nil {
			assert.Equal(t, elliptic.P256(), k.Curve)
		}
	})
}
