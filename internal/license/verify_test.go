package license

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

func TestVerify(t *testing.T) {
	vendor := newSigner(t, "v1")
	impostor := newSigner(t, "v1") // same kid, different key
	other := newSigner(t, "v2")
	base := licenseClaimsAt(t0)

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pubDER, err := x509.MarshalPKIXPublicKey(&vendor.key.PublicKey)
	require.NoError(t, err)

	valid := vendor.sign(t, base)

	tests := []struct {
		name   string
		token  string
		keys   Keys
		want   Reason
		claims func(t *testing.T, c Claims)
	}{
		{name: "accepts a valid license", token: valid, want: ReasonNone, claims: func(t *testing.T, c Claims) {
			assert.Equal(t, Claims{
				Subject:   "lic-0001",
				Customer:  "Acme MSP",
				Tier:      mobileauth.TierPro,
				IssuedAt:  t0.Add(-time.Hour),
				ExpiresAt: t0.Add(30 * 24 * time.Hour),
				Seats:     25,
			}, utcClaims(c))
		}},
		{name: "accepts surrounding whitespace such as a file's newline", token: "  " + valid + "\n", want: ReasonNone},
		{name: "accepts a license without seats", token: vendor.sign(t, with(base, "seats", nil)), want: ReasonNone,
			claims: func(t *testing.T, c Claims) { assert.Zero(t, c.Seats) }},

		// Time and skew.
		{name: "refuses a license expired two minutes ago", token: vendor.sign(t, with(base, "exp", t0.Add(-2*time.Minute).Unix())), want: ReasonExpired,
			claims: func(t *testing.T, c Claims) { assert.Equal(t, t0.Add(-2*time.Minute), c.ExpiresAt.UTC()) }},
		{name: "refuses a license expired 61 s ago", token: vendor.sign(t, with(base, "exp", t0.Add(-61*time.Second).Unix())), want: ReasonExpired},
		{name: "tolerates exp 59 s ago (skew)", token: vendor.sign(t, with(base, "exp", t0.Add(-59*time.Second).Unix())), want: ReasonNone},
		{name: "refuses iat two minutes ahead", token: vendor.sign(t, with(base, "iat", t0.Add(2*time.Minute).Unix())), want: ReasonNotYetValid,
			claims: func(t *testing.T, c Claims) { assert.Equal(t, "lic-0001", c.Subject) }},
		{name: "tolerates iat 59 s ahead (skew)", token: vendor.sign(t, with(base, "iat", t0.Add(59*time.Second).Unix())), want: ReasonNone},
		{name: "refuses nbf two minutes ahead", token: vendor.sign(t, with(base, "nbf", t0.Add(2*time.Minute).Unix())), want: ReasonNotYetValid},
		{name: "tolerates nbf 59 s ahead (skew)", token: vendor.sign(t, with(base, "nbf", t0.Add(59*time.Second).Unix())), want: ReasonNone},

		// Signature and key selection.
		{name: "refuses a signature by another key under the same kid", token: impostor.sign(t, base), want: ReasonBadSignature},
		{name: "refuses a tampered payload", token: tamper(t, valid, "tier", "pro", "seats", 1000), want: ReasonBadSignature},
		{name: "refuses a signature with one bit flipped", token: editSignature(t, valid, func(b []byte) []byte { b[10] ^= 1; return b }), want: ReasonBadSignature},
		{name: "refuses a truncated signature", token: editSignature(t, valid, func(b []byte) []byte { return b[:63] }), want: ReasonBadSignature},
		{name: "refuses an empty signature", token: editSignature(t, valid, func([]byte) []byte { return nil }), want: ReasonBadSignature},
		{name: "refuses non-canonical base64 in the signature", token: nonCanonical(valid), want: ReasonMalformed},
		{name: "refuses an unknown kid", token: other.sign(t, base), want: ReasonUnknownKID},
		{name: "refuses a missing kid", token: signToken(t, jwt.SigningMethodES256, vendor.key, map[string]any{"kid": nil}, base), want: ReasonMalformed},
		{name: "refuses an empty kid", token: signToken(t, jwt.SigningMethodES256, vendor.key, map[string]any{"kid": ""}, base), want: ReasonMalformed},
		{name: "refuses a numeric kid", token: signToken(t, jwt.SigningMethodES256, vendor.key, map[string]any{"kid": 1}, base), want: ReasonMalformed},
		{name: "refuses critical header extensions", token: signToken(t, jwt.SigningMethodES256, vendor.key, map[string]any{"kid": "v1", "crit": []string{"b64"}, "b64": false}, base), want: ReasonMalformed},
		{name: "refuses a license when no keys are configured", token: valid, keys: Keys{}, want: ReasonNoKeys},
		{name: "treats a non-P-256 entry in Keys as an unknown kid", token: valid, keys: Keys{"v1": &p384.PublicKey}, want: ReasonUnknownKID},
		{name: "treats a nil entry in Keys as an unknown kid", token: valid, keys: Keys{"v1": nil}, want: ReasonUnknownKID},

		// Algorithm swaps: the token never chooses the algorithm.
		{name: "refuses HS256 keyed with the public key PEM", token: signToken(t, jwt.SigningMethodHS256, vendor.publicPEM(t), map[string]any{"kid": "v1"}, base), want: ReasonBadSignature},
		{name: "refuses HS256 keyed with the public key DER", token: signToken(t, jwt.SigningMethodHS256, pubDER, map[string]any{"kid": "v1"}, base), want: ReasonBadSignature},
		{name: "refuses alg none", token: signToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"kid": "v1"}, base), want: ReasonBadSignature},
		{name: "refuses alg none carrying the real ES256 signature", token: withHeader(t, valid, map[string]any{"alg": "none", "kid": "v1"}), want: ReasonBadSignature},
		{name: "refuses ES384", token: signToken(t, jwt.SigningMethodES384, p384, map[string]any{"kid": "v1"}, base), want: ReasonBadSignature},
		{name: "refuses RS256", token: signToken(t, jwt.SigningMethodRS256, rsaKey, map[string]any{"kid": "v1"}, base), want: ReasonBadSignature},
		{name: "refuses an unknown alg", token: withHeader(t, valid, map[string]any{"alg": "XS999", "kid": "v1"}), want: ReasonBadSignature},
		{name: "refuses a header without alg", token: withHeader(t, valid, map[string]any{"kid": "v1"}), want: ReasonMalformed},

		// Claims.
		{name: "refuses a wrong issuer", token: vendor.sign(t, with(base, "iss", "someone-else")), want: ReasonMalformed},
		{name: "refuses a missing issuer", token: vendor.sign(t, with(base, "iss", nil)), want: ReasonMalformed},
		{name: "refuses an expired license with a wrong issuer as malformed", token: vendor.sign(t, with(base, "iss", "x", "exp", t0.Add(-time.Hour).Unix())), want: ReasonMalformed},
		{name: "refuses a missing sub", token: vendor.sign(t, with(base, "sub", nil)), want: ReasonMalformed},
		{name: "refuses a blank sub", token: vendor.sign(t, with(base, "sub", " ")), want: ReasonMalformed},
		{name: "refuses a missing cust", token: vendor.sign(t, with(base, "cust", nil)), want: ReasonMalformed},
		{name: "refuses a missing tier", token: vendor.sign(t, with(base, "tier", nil)), want: ReasonMalformed},
		{name: "refuses a missing iat", token: vendor.sign(t, with(base, "iat", nil)), want: ReasonMalformed},
		{name: "refuses a missing exp", token: vendor.sign(t, with(base, "exp", nil)), want: ReasonMalformed},
		{name: "refuses an exp that is not a number", token: vendor.sign(t, with(base, "exp", "tomorrow")), want: ReasonMalformed},
		{name: "refuses an unknown tier", token: vendor.sign(t, with(base, "tier", "gold")), want: ReasonMalformed},
		{name: "refuses a non-string tier", token: vendor.sign(t, with(base, "tier", 3)), want: ReasonMalformed},
		{name: "refuses negative seats", token: vendor.sign(t, with(base, "seats", -1)), want: ReasonMalformed},
		{name: "refuses two audiences", token: vendor.sign(t, with(base, "aud", []string{"t1", "t2"})), want: ReasonMalformed},
		{name: "reads premium as pro", token: vendor.sign(t, with(base, "tier", "premium")), want: ReasonNone,
			claims: func(t *testing.T, c Claims) { assert.Equal(t, mobileauth.TierPro, c.Tier) }},
		{name: "reads tier case-insensitively", token: vendor.sign(t, with(base, "tier", "Solo")), want: ReasonNone,
			claims: func(t *testing.T, c Claims) { assert.Equal(t, mobileauth.TierSolo, c.Tier) }},
		{name: "accepts an essentials license", token: vendor.sign(t, with(base, "tier", "essentials")), want: ReasonNone,
			claims: func(t *testing.T, c Claims) { assert.Equal(t, mobileauth.TierEssentials, c.Tier) }},
		{name: "reads aud as a string", token: vendor.sign(t, with(base, "aud", "tenant-1")), want: ReasonNone,
			claims: func(t *testing.T, c Claims) { assert.Equal(t, "tenant-1", c.Audience) }},
		{name: "reads aud as a one-element array", token: vendor.sign(t, with(base, "aud", []string{"tenant-1"})), want: ReasonNone,
			claims: func(t *testing.T, c Claims) { assert.Equal(t, "tenant-1", c.Audience) }},

		// Shape.
		{name: "refuses an empty token", token: "", want: ReasonMalformed},
		{name: "refuses garbage", token: "not a license", want: ReasonMalformed},
		{name: "refuses two segments", token: "a.b", want: ReasonMalformed},
		{name: "refuses four segments", token: valid + ".x", want: ReasonMalformed},
		{name: "refuses a header that is not JSON", token: "bm90anNvbg" + valid[strings.Index(valid, "."):], want: ReasonMalformed},
		{name: "refuses an oversized token", token: strings.Repeat("a", maxTokenLen+1), want: ReasonMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys := vendor.keys()
			if tc.keys != nil {
				keys = tc.keys
			}
			c, reason, err := Verify(tc.token, keys, t0)
			assert.Equal(t, tc.want, reason)
			if tc.want == ReasonNone {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), string(tc.want))
				if tc.token != "" {
					assert.NotContains(t, err.Error(), tc.token, "the token must not reach the logs")
				}
			}
			if tc.claims != nil {
				tc.claims(t, c)
			}
		})
	}
}

func TestVerifyLeavesClaimsZeroWhenUntrusted(t *testing.T) {
	vendor := newSigner(t, "v1")
	for name, tok := range map[string]string{
		"bad signature": newSigner(t, "v1").sign(t, licenseClaimsAt(t0)),
		"wrong issuer":  vendor.sign(t, with(licenseClaimsAt(t0), "iss", "x")),
	} {
		t.Run(name, func(t *testing.T) {
			c, _, err := Verify(tok, vendor.keys(), t0)
			require.Error(t, err)
			assert.Zero(t, c)
		})
	}
}

func TestVerifyWithNilKeysReportsNoKeys(t *testing.T) {
	tok := newSigner(t, "v1").sign(t, licenseClaimsAt(t0))
	_, reason, err := Verify(tok, nil, t0)
	assert.Equal(t, ReasonNoKeys, reason)
	assert.Error(t, err)
}

func TestReasonHint(t *testing.T) {
	assert.Empty(t, ReasonNone.Hint())
	for _, r := range []Reason{ReasonExpired, ReasonNotYetValid, ReasonBadSignature, ReasonUnknownKID, ReasonMalformed, ReasonNoKeys} {
		assert.NotEmpty(t, r.Hint(), r)
	}
}

// utcClaims normalises the times of c for comparison.
func utcClaims(c Claims) Claims {
	c.IssuedAt, c.ExpiresAt = c.IssuedAt.UTC(), c.ExpiresAt.UTC()
	return c
}

// tamper rewrites claims in the payload of tok, keeping its signature.
func tamper(t *testing.T, tok string, kv ...any) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, json.Unmarshal(raw, &claims))
	for i := 0; i+1 < len(kv); i += 2 {
		claims[kv[i].(string)] = kv[i+1]
	}
	raw, err = json.Marshal(claims)
	require.NoError(t, err)
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

// editSignature rewrites the decoded signature of tok.
func editSignature(t *testing.T, tok string, edit func([]byte) []byte) string {
	t.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	require.NoError(t, err)
	return tok[:i+1] + base64.RawURLEncoding.EncodeToString(edit(sig))
}

// withHeader replaces the header of tok, keeping payload and signature.
func withHeader(t *testing.T, tok string, header map[string]any) string {
	t.Helper()
	raw, err := json.Marshal(header)
	require.NoError(t, err)
	_, rest, ok := strings.Cut(tok, ".")
	require.True(t, ok)
	return base64.RawURLEncoding.EncodeToString(raw) + "." + rest
}

// nonCanonical sets unused low bits in the last base64 character of tok's
// signature: lenient decoders read the same bytes, strict ones refuse.
func nonCanonical(tok string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	return tok[:len(tok)-1] + string(alphabet[last|1])
}
