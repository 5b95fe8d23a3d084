package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

const testIssuer = "https://psa.example.com"

func newTestIssuer(t testing.TB, k *Keyring, clk *clock) *Issuer {
	t.Helper()
	i, err := NewIssuer(k, testIssuer, "", testTTL, clk.Now, rand.Reader)
	require.NoError(t, err)
	return i
}

func newTestVerifier(t testing.TB, k *Keyring, clk *clock, cache *VerifiedCache) *Verifier {
	t.Helper()
	v, err := NewVerifier(k, testIssuer, "", clk.Now, cache)
	require.NoError(t, err)
	return v
}

var testClaims = AccessClaims{Subject: "user-1", TenantID: "tenant-1", FamilyID: "family-1", Email: "ann@example.com"}

func issueWith(t testing.TB, k *Keyring, clk *clock) string {
	t.Helper()
	tok, _, err := newTestIssuer(t, k, clk).Issue(testClaims)
	require.NoError(t, err)
	return tok
}

// segments decodes a compact JWS's header and payload.
func segments(t *testing.T, tok string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	for i, dst := range []*map[string]any{&header, &payload} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, dst))
	}
	return header, payload
}

func TestIssueThenVerifyRoundTrips(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	k := newTestKeyring(t, src, clk, 1)
	tok, expiresIn, err := newTestIssuer(t, k, clk).Issue(testClaims)
	require.NoError(t, err)
	assert.Equal(t, testTTL, expiresIn)

	header, payload := segments(t, tok)
	assert.Equal(t, map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": jwksKIDs(t, k.JWKS(clk.Now()))[0]}, header)
	now := float64(clk.Now().Unix())
	assert.Equal(t, testIssuer, payload["iss"])
	assert.Equal(t, "user-1", payload["sub"])
	assert.Equal(t, []any{DefaultAudience}, payload["aud"])
	assert.Equal(t, now, payload["iat"])
	assert.Equal(t, now+testTTL.Seconds(), payload["exp"])
	assert.Equal(t, "alga-mobile", payload["client_id"])
	assert.Equal(t, "tenant-1", payload["tenant_id"])
	assert.Equal(t, "family-1", payload["sid"])
	assert.Equal(t, "ann@example.com", payload["email"])
	assert.Len(t, payload["jti"], 22)

	got, err := newTestVerifier(t, k, clk, nil).Verify(tok)
	require.NoError(t, err)
	want := testClaims
	want.ID = payload["jti"].(string)
	want.IssuedAt = clk.Now()
	want.ExpiresAt = clk.Now().Add(testTTL)
	want.KeyID = header["kid"].(string)
	assert.Equal(t, want.ID, got.ID)
	assert.True(t, want.IssuedAt.Equal(got.IssuedAt))
	assert.True(t, want.ExpiresAt.Equal(got.ExpiresAt))
	got.IssuedAt, got.ExpiresAt, want.IssuedAt, want.ExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	assert.Equal(t, want, got)
}

func TestIssueGivesEveryTokenItsOwnJTI(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	k := newTestKeyring(t, src, clk, 1)
	_, a := segments(t, issueWith(t, k, clk))
	_, b := segments(t, issueWith(t, k, clk))
	assert.NotEqual(t, a["jti"], b["jti"])
}

func TestIssueRefusesIncompleteClaims(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	i := newTestIssuer(t, newTestKeyring(t, src, clk, 1), clk)
	now := clk.Now()
	for _, c := range []AccessClaims{
		{TenantID: "t", FamilyID: "f"},
		{Subject: "u", FamilyID: "f"},
		{Subject: "u", TenantID: "t"},
		{Subject: "u", TenantID: "t", FamilyID: "f", ExpiresAt: now.Add(testTTL + time.Second)},
		{Subject: "u", TenantID: "t", FamilyID: "f", IssuedAt: now, ExpiresAt: now},
	} {
		_, _, err := i.Issue(c)
		assert.Error(t, err)
	}
}

func TestIssueKeepsGivenTimesAndID(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	k := newTestKeyring(t, src, clk, 1)
	c := testClaims
	c.ID = "jti-1"
	c.IssuedAt = clk.Now().Add(-time.Minute)
	c.ExpiresAt = clk.Now().Add(time.Minute)
	tok, expiresIn, err := newTestIssuer(t, k, clk).Issue(c)
	require.NoError(t, err)
	assert.Equal(t, time.Minute, expiresIn)
	got, err := newTestVerifier(t, k, clk, nil).Verify(tok)
	require.NoError(t, err)
	assert.Equal(t, "jti-1", got.ID)
	assert.True(t, c.IssuedAt.Equal(got.IssuedAt))
	assert.True(t, c.ExpiresAt.Equal(got.ExpiresAt))
}

func TestIssueReportsRandomnessFailure(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	i, err := NewIssuer(newTestKeyring(t, src, clk, 1), testIssuer, "", 0, clk.Now, errReader{})
	require.NoError(t, err)
	_, _, err = i.Issue(testClaims)
	assert.ErrorIs(t, err, errBoom)
}

func TestNewIssuerAndVerifierValidateArguments(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	k := newTestKeyring(t, src, clk, 1)
	_, err := NewIssuer(nil, testIssuer, "", 0, nil, nil)
	assert.Error(t, err)
	_, err = NewIssuer(k, "", "", 0, nil, nil)
	assert.Error(t, err)
	_, err = NewIssuer(k, testIssuer, "", testTTL+time.Second, nil, nil)
	assert.Error(t, err, "tokens may not outlive their key's publication")
	i, err := NewIssuer(k, testIssuer, "", 0, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, testTTL, i.ttl)

	_, err = NewVerifier(nil, testIssuer, "", nil, nil)
	assert.Error(t, err)
	_, err = NewVerifier(k, "", "", nil, nil)
	assert.Error(t, err)
}

// forge signs arbitrary header and claims; a nil header value deletes it.
func forge(t *testing.T, m jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func goodClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": testIssuer, "sub": "user-1", "aud": DefaultAudience,
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": "j1",
		"client_id": ClientID, "tenant_id": "tenant-1", "sid": "family-1",
	}
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for kk, vv := range c {
		out[kk] = vv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func TestVerify(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	k := newTestKeyring(t, src, clk, 1)
	now := clk.Now()
	kid := jwksKIDs(t, k.JWKS(now))[0]
	signer, err := k.signer(now)
	require.NoError(t, err)
	priv := signer.priv
	pub := signer.pub
	hdr := map[string]any{"typ": "at+jwt", "kid": kid}
	hdrWith := func(key string, v any) map[string]any {
		return map[string]any{"typ": "at+jwt", "kid": kid, key: v}
	}
	ed := func(h map[string]any, c jwt.MapClaims) string { return forge(t, jwt.SigningMethodEdDSA, priv, h, c) }

	_, stranger, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	valid := ed(hdr, goodClaims(now))
	parts := strings.Split(valid, ".")
	tamperedClaims, err := json.Marshal(with(goodClaims(now), "sub", "admin"))
	require.NoError(t, err)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(tamperedClaims) + "." + parts[2]

	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"accepts a well-formed token", valid, true},
		{"accepts typ application/at+jwt", ed(hdrWith("typ", "application/at+jwt"), goodClaims(now)), true},
		{"accepts typ in upper case", ed(hdrWith("typ", "AT+JWT"), goodClaims(now)), true},
		{"accepts exp just inside the leeway", ed(hdr, with(goodClaims(now), "exp", now.Add(-Leeway+time.Second).Unix())), true},
		{"accepts an audience list containing ours", ed(hdr, with(goodClaims(now), "aud", []string{"other", DefaultAudience})), true},
		{"refuses an expired token", ed(hdr, with(goodClaims(now), "exp", now.Add(-Leeway-time.Second).Unix())), false},
		{"refuses a token without exp", ed(hdr, with(goodClaims(now), "exp", nil)), false},
		{"refuses iat in the future", ed(hdr, with(goodClaims(now), "iat", now.Add(Leeway+time.Second).Unix())), false},
		{"refuses a token without iat", ed(hdr, with(goodClaims(now), "iat", nil)), false},
		{"refuses nbf in the future", ed(hdr, with(goodClaims(now), "nbf", now.Add(time.Minute).Unix())), false},
		{"refuses a wrong issuer", ed(hdr, with(goodClaims(now), "iss", "https://evil.example")), false},
		{"refuses an issuer differing in case", ed(hdr, with(goodClaims(now), "iss", strings.ToUpper(testIssuer))), false},
		{"refuses a missing issuer", ed(hdr, with(goodClaims(now), "iss", nil)), false},
		{"refuses a wrong audience", ed(hdr, with(goodClaims(now), "aud", "alga-psa-web")), false},
		{"refuses a missing audience", ed(hdr, with(goodClaims(now), "aud", nil)), false},
		{"refuses a missing subject", ed(hdr, with(goodClaims(now), "sub", nil)), false},
		{"refuses a missing tenant", ed(hdr, with(goodClaims(now), "tenant_id", nil)), false},
		{"refuses a missing session family", ed(hdr, with(goodClaims(now), "sid", nil)), false},
		{"refuses a missing jti", ed(hdr, with(goodClaims(now), "jti", nil)), false},
		{"refuses a claim of the wrong type", ed(hdr, with(goodClaims(now), "tenant_id", 42)), false},
		{"refuses typ JWT", ed(hdrWith("typ", "JWT"), goodClaims(now)), false},
		{"refuses a missing typ", ed(hdrWith("typ", nil), goodClaims(now)), false},
		{"refuses a non-string typ", ed(hdrWith("typ", 1), goodClaims(now)), false},
		{"refuses an unknown kid", ed(hdrWith("kid", "nope"), goodClaims(now)), false},
		{"refuses a missing kid", ed(hdrWith("kid", nil), goodClaims(now)), false},
		{"refuses a stranger's key under our kid", forge(t, jwt.SigningMethodEdDSA, stranger, hdr, goodClaims(now)), false},
		{"refuses alg none", forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, hdr, goodClaims(now)), false},
		{"refuses HS256 keyed with the raw public key", forge(t, jwt.SigningMethodHS256, []byte(pub), hdr, goodClaims(now)), false},
		{"refuses HS256 keyed with the public key PEM", forge(t, jwt.SigningMethodHS256, pubPEM, hdr, goodClaims(now)), false},
		{"refuses ES256 under our kid", forge(t, jwt.SigningMethodES256, ecKey, hdr, goodClaims(now)), false},
		{"refuses a tampered payload", tampered, false},
		{"refuses a stripped signature", parts[0] + "." + parts[1] + ".", false},
		{"refuses a padded signature", valid + "==", false},
		{"refuses an extra segment", valid + ".x", false},
		{"refuses an empty string", "", false},
		{"refuses an oversized token", valid + strings.Repeat("A", MaxTokenLen), false},
	}
	v := newTestVerifier(t, k, clk, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(tt.token)
			if tt.ok {
				require.NoError(t, err)
				assert.Equal(t, "user-1", c.Subject)
				return
			}
			assert.ErrorIs(t, err, ErrInvalidToken)
			assert.Equal(t, AccessClaims{}, c)
		})
	}
}

func TestVerifyHonoursConfiguredIssuerAndAudience(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	k := newTestKeyring(t, src, clk, 1)
	i, err := NewIssuer(k, "https://a.example", "aud-a", 0, clk.Now, nil)
	require.NoError(t, err)
	tok, _, err := i.Issue(testClaims)
	require.NoError(t, err)

	for _, tt := range []struct {
		name, iss, aud string
		ok             bool
	}{
		{"accepts matching iss and aud", "https://a.example", "aud-a", true},
		{"refuses another audience", "https://a.example", "aud-b", false},
		{"refuses the default audience", "https://a.example", "", false},
		{"refuses another issuer", "https://b.example", "aud-a", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(k, tt.iss, tt.aud, clk.Now, nil)
			require.NoError(t, err)
			_, err = v.Verify(tok)
			assert.Equal(t, tt.ok, err == nil, "%v", err)
		})
	}
}

func TestVerifyRefusesExpiredIssuedToken(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	k := newTestKeyring(t, src, clk, 1)
	tok := issueWith(t, k, clk)
	v := newTestVerifier(t, k, clk, nil)

	clk.Advance(testTTL + Leeway - time.Second)
	_, err := v.Verify(tok)
	assert.NoError(t, err, "inside the leeway")
	clk.Advance(time.Second)
	_, err = v.Verify(tok)
	assert.ErrorIs(t, err, ErrInvalidToken)
	assert.ErrorIs(t, err, jwt.ErrTokenExpired)
}

func TestVerifyRefusesKeysNoLongerPublished(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	k := newTestKeyring(t, src, clk, 1)
	old, err := k.signer(clk.Now())
	require.NoError(t, err)
	clk.Advance(time.Hour)
	_, err = Rotate(context.Background(), src, clk.Now(), seeded(2))
	require.NoError(t, err)
	require.NoError(t, k.Reload(context.Background()))
	v := newTestVerifier(t, k, clk, nil)

	// A token of the retired key, with a lifetime no issuer would give it,
	// isolates the publication check from expiry: the key is looked up
	// before the claims (and their lifetime cap) are checked.
	long := func() string {
		return forge(t, jwt.SigningMethodEdDSA, old.priv, map[string]any{"typ": "at+jwt", "kid": old.kid},
			with(goodClaims(clk.Now()), "exp", clk.Now().Add(24*time.Hour).Unix()))
	}
	normal := forge(t, jwt.SigningMethodEdDSA, old.priv, map[string]any{"typ": "at+jwt", "kid": old.kid}, goodClaims(clk.Now()))
	_, err = v.Verify(normal)
	assert.NoError(t, err, "still published right after rotation")
	_, err = v.Verify(long())
	assert.ErrorIs(t, err, ErrInvalidToken)
	assert.Contains(t, err.Error(), "exceeds the access-token lifetime", "published, but the lifetime is capped")

	clk.Advance(testWindow)
	_, err = v.Verify(long())
	assert.ErrorIs(t, err, ErrInvalidToken)
	assert.Contains(t, err.Error(), "not published")
	assert.NotContains(t, string(k.JWKS(clk.Now())), old.kid)
}

func TestVerifyUsesTheCacheUntilExpiry(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	k := newTestKeyring(t, src, clk, 1)
	cache := NewVerifiedCache(100)
	v := newTestVerifier(t, k, clk, cache)
	tok := issueWith(t, k, clk)

	first, err := v.Verify(tok)
	require.NoError(t, err)
	assert.Equal(t, 1, cache.Len())
	again, err := v.Verify(tok)
	require.NoError(t, err)
	assert.Equal(t, first, again)

	// The cache only answers what a full check would: past exp it misses,
	// and the full check refuses.
	clk.Advance(testTTL)
	_, err = v.Verify(tok)
	require.NoError(t, err, "inside the leeway the full check still accepts")
	clk.Advance(Leeway + time.Second)
	_, err = v.Verify(tok)
	assert.ErrorIs(t, err, ErrInvalidToken)

	// Failures are not cached.
	_, err = v.Verify("garbage")
	assert.Error(t, err)
	_, ok := cache.Get("garbage", clk.Now())
	assert.False(t, ok)
}

func FuzzVerify(f *testing.F) {
	src, clk := &memKeys{}, newClock()
	k, err := NewKeyring(context.Background(), src, KeyringOptions{Now: clk.Now, Rand: seeded(1)})
	require.NoError(f, err)
	i, err := NewIssuer(k, testIssuer, "", 0, clk.Now, seeded(2))
	require.NoError(f, err)
	tok, _, err := i.Issue(testClaims)
	require.NoError(f, err)
	v, err := NewVerifier(k, testIssuer, "", clk.Now, NewVerifiedCache(16))
	require.NoError(f, err)

	f.Add(tok)
	f.Add(tok[:len(tok)-1])
	f.Add("")
	f.Add("..")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(strings.Repeat(".", 3))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := v.Verify(s)
		if err != nil {
			assert.ErrorIs(t, err, ErrInvalidToken)
			return
		}
		assert.NotEmpty(t, c.Subject)
		assert.NotEmpty(t, c.TenantID)
		assert.NotEmpty(t, c.FamilyID)
	})
}

// A key removed from the store (say, purged after a database theft) must
// stop verifying at the next reload, cached verifications included: the
// cache remembers each token's kid and re-checks its publication.
func TestVerifyCacheForgetsTokensOfAKeyNoLongerPublished(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	k := newTestKeyring(t, src, clk, 1)
	old, err := k.signer(clk.Now())
	require.NoError(t, err)
	cache := NewVerifiedCache(100)
	v := newTestVerifier(t, k, clk, cache)
	tok := issueWith(t, k, clk)
	c, err := v.Verify(tok)
	require.NoError(t, err)
	require.Equal(t, old.kid, c.KeyID)
	require.Equal(t, 1, cache.Len())

	_, err = Rotate(context.Background(), src, clk.Now(), seeded(2))
	require.NoError(t, err)
	src.mu.Lock()
	src.keys = slices.DeleteFunc(src.keys, func(sk mobileauth.SigningKey) bool { return sk.KID == old.kid })
	src.mu.Unlock()
	require.NoError(t, k.Reload(context.Background()))

	_, err = v.Verify(tok)
	assert.ErrorIs(t, err, ErrInvalidToken, "a cached token of a removed key is refused")
	assert.Contains(t, err.Error(), "not published")
}

// exp - iat may not exceed the access lifetime (plus the leeway): a token
// claiming a longer life was not issued by us.
func TestVerifyCapsTheTokenLifetime(t *testing.T) {
	src, clk := &memKeys{}, newClock()
	k := newTestKeyring(t, src, clk, 1)
	key, err := k.signer(clk.Now())
	require.NoError(t, err)
	now := clk.Now()
	mint := func(life time.Duration) string {
		return forge(t, jwt.SigningMethodEdDSA, key.priv, map[string]any{"typ": "at+jwt", "kid": key.kid},
			with(goodClaims(now), "exp", now.Add(life).Unix()))
	}
	for _, tt := range []struct {
		name string
		life time.Duration
		ok   bool
	}{
		{"accepts the access lifetime", testTTL, true},
		{"accepts the lifetime plus the leeway", testTTL + Leeway, true},
		{"refuses a second more", testTTL + Leeway + time.Second, false},
		{"refuses a year", 365 * 24 * time.Hour, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cache := NewVerifiedCache(10)
			_, err := newTestVerifier(t, k, clk, cache).Verify(mint(tt.life))
			if tt.ok {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, ErrInvalidToken)
			assert.Equal(t, 0, cache.Len(), "nothing cached")
		})
	}
}
