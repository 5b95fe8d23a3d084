package e2e

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
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// tkJWK is one entry of the published JWKS.
type tkJWK struct {
	Kty, Crv, X, Kid, Use, Alg string
}

// tkFetchJWKS reads /.well-known/jwks.json.
func tkFetchJWKS(t *testing.T, base string) []tkJWK {
	t.Helper()
	r := tkDo(t, http.MethodGet, base+tkJWKSPath, nil)
	require.Equal(t, http.StatusOK, r.Status)
	assert.Contains(t, r.Header.Get("Content-Type"), "json")
	var set struct {
		Keys []tkJWK `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &set), "%s", r.Body)
	require.NotEmpty(t, set.Keys)
	return set.Keys
}

// tkSegments splits a compact JWS and decodes its header and claims.
func tkSegments(t *testing.T, jws string) (header, claims map[string]any, signingInput string, sig []byte) {
	t.Helper()
	parts := strings.Split(jws, ".")
	require.Len(t, parts, 3)
	dec := func(s string, v any) {
		b, err := base64.RawURLEncoding.DecodeString(s)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, v))
	}
	dec(parts[0], &header)
	dec(parts[1], &claims)
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	require.NoError(t, err)
	return header, claims, parts[0] + "." + parts[1], sig
}

// TestAccessTokenVerifiesAgainstPublishedJWKS checks an issued access token
// from outside, as the main app would: the header (alg EdDSA, typ at+jwt,
// a published kid), the Ed25519 signature against the JWKS key, and the
// claims of SPEC §3.7, which forward-auth echoes in its headers.
func TestAccessTokenVerifiesAgainstPublishedJWKS(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	u := tkUser(t, in, "jwt@example.com")
	before := time.Now().Add(-time.Second)
	ex := tkExchange(t, in, tkOTT(t, in, "jwt@example.com", "st"), "st")

	header, claims, input, sig := tkSegments(t, ex.AccessToken)
	assert.Equal(t, "at+jwt", header["typ"])
	assert.Equal(t, "EdDSA", header["alg"])
	keys := tkFetchJWKS(t, in.URL)
	var pub ed25519.PublicKey
	for _, k := range keys {
		assert.Equal(t, "OKP", k.Kty)
		assert.Equal(t, "Ed25519", k.Crv)
		if k.Kid == header["kid"] {
			x, err := base64.RawURLEncoding.DecodeString(k.X)
			require.NoError(t, err)
			require.Len(t, x, ed25519.PublicKeySize)
			pub = x
			assert.Equal(t, token.Thumbprint(pub), k.Kid, "kid is the RFC 7638 thumbprint")
		}
	}
	require.NotNil(t, pub, "kid %v is published", header["kid"])
	assert.True(t, ed25519.Verify(pub, []byte(input), sig), "signature verifies with the published key")
	assert.False(t, ed25519.Verify(pub, []byte(input+"x"), sig))

	assert.Equal(t, in.URL, claims["iss"], "iss is the NEXTAUTH_URL origin")
	assert.Equal(t, u.ID, claims["sub"])
	assert.Contains(t, []any{"alga-psa-mobile", []any{"alga-psa-mobile"}}, claims["aud"])
	assert.Equal(t, tenantA, claims["tenant_id"])
	assert.NotEmpty(t, claims["jti"])
	sid, _ := claims["sid"].(string)
	assert.NotEmpty(t, sid)
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	assert.GreaterOrEqual(t, int64(iat), before.Unix())
	assert.LessOrEqual(t, int64(iat), time.Now().Unix())
	assert.Equal(t, float64(900), exp-iat, "exp = iat + ALGA_MOBILE_ACCESS_TTL_SEC")

	v := tkVerify(t, in.URL, ex.AccessToken)
	require.Equal(t, http.StatusOK, v.Status)
	assert.Equal(t, sid, v.Header.Get("X-Alga-Session-Id"))
	assert.Equal(t, u.ID, v.Header.Get("X-Alga-User-Id"))
	assert.Equal(t, tenantA, v.Header.Get("X-Alga-Tenant-Id"))
	assert.Equal(t, u.Email, v.Header.Get("X-Alga-User-Email"))
}

// tkServerKey returns the instance's active signing key (read from the
// store) to forge tokens that differ from genuine ones in one respect.
func tkServerKey(t *testing.T, in *instance) (string, ed25519.PrivateKey) {
	t.Helper()
	keys, err := in.App.Store.ListSigningKeys(context.Background())
	require.NoError(t, err)
	for _, k := range keys {
		if k.RetiredAt == nil && len(k.PrivateDER) > 0 {
			priv, err := x509.ParsePKCS8PrivateKey(k.PrivateDER)
			require.NoError(t, err)
			return k.KID, priv.(ed25519.PrivateKey)
		}
	}
	t.Fatal("no active signing key")
	return "", nil
}

// tkSign signs claims with method and key under the given header fields.
func tkSign(t *testing.T, method jwt.SigningMethod, key any, hdr map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range hdr {
		if v == nil {
			delete(tok.Header, k)
			continue
		}
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// TestVerifyRefusesForgedAndAlteredTokens: forward-auth answers 401 with
// error="invalid_token" for every token that differs from a genuine one
// in one respect — and 200 for the genuine-looking control, which proves
// the forgeries fail for the reason named.
func TestVerifyRefusesForgedAndAlteredTokens(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	u := tkUser(t, in, "forge@example.com")
	ex := tkExchange(t, in, tkOTT(t, in, "forge@example.com", "st"), "st")
	_, genuine, _, _ := tkSegments(t, ex.AccessToken)
	kid, priv := tkServerKey(t, in)
	pub := priv.Public().(ed25519.PublicKey)
	now := time.Now()
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": in.URL, "sub": u.ID, "aud": []string{"alga-psa-mobile"}, "exp": now.Add(10 * time.Minute).Unix(),
			"iat": now.Unix(), "jti": "forged-" + rand.Text(), "tenant_id": tenantA, "sid": genuine["sid"], "client_id": "alga-mobile"}
		if edit != nil {
			edit(c)
		}
		return c
	}
	hdr := map[string]any{"typ": "at+jwt", "kid": kid}
	_, foreign, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	foreignKid := token.Thumbprint(foreign.Public().(ed25519.PublicKey))
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	jwkX := base64.RawURLEncoding.EncodeToString(pub)

	control := tkSign(t, jwt.SigningMethodEdDSA, priv, hdr, claims(nil))
	require.Equal(t, http.StatusOK, tkVerify(t, in.URL, control).Status, "a token made like ours verifies")

	parts := strings.Split(control, ".")
	otherPayload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"someone-else"}`))
	noneTok := tkSign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"typ": "at+jwt", "kid": kid}, claims(nil))

	forged := map[string]string{
		"garbage":           "not-a-jwt",
		"the refresh token": ex.RefreshToken,
		"expired an hour ago": tkSign(t, jwt.SigningMethodEdDSA, priv, hdr, claims(func(c jwt.MapClaims) {
			c["exp"] = now.Add(-time.Hour).Unix()
			c["iat"] = now.Add(-2 * time.Hour).Unix()
		})),
		"expired a minute ago":           tkSign(t, jwt.SigningMethodEdDSA, priv, hdr, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })),
		"no exp":                         tkSign(t, jwt.SigningMethodEdDSA, priv, hdr, claims(func(c jwt.MapClaims) { delete(c, "exp") })),
		"issued in the future":           tkSign(t, jwt.SigningMethodEdDSA, priv, hdr, claims(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() })),
		"other iss":                      tkSign(t, jwt.SigningMethodEdDSA, priv, hdr, claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })),
		"no iss":                         tkSign(t, jwt.SigningMethodEdDSA, priv, hdr, claims(func(c jwt.MapClaims) { delete(c, "iss") })),
		"other aud":                      tkSign(t, jwt.SigningMethodEdDSA, priv, hdr, claims(func(c jwt.MapClaims) { c["aud"] = "someone-else" })),
		"no aud":                         tkSign(t, jwt.SigningMethodEdDSA, priv, hdr, claims(func(c jwt.MapClaims) { delete(c, "aud") })),
		"no sub":                         tkSign(t, jwt.SigningMethodEdDSA, priv, hdr, claims(func(c jwt.MapClaims) { delete(c, "sub") })),
		"no tenant_id":                   tkSign(t, jwt.SigningMethodEdDSA, priv, hdr, claims(func(c jwt.MapClaims) { delete(c, "tenant_id") })),
		"no sid":                         tkSign(t, jwt.SigningMethodEdDSA, priv, hdr, claims(func(c jwt.MapClaims) { delete(c, "sid") })),
		"typ JWT":                        tkSign(t, jwt.SigningMethodEdDSA, priv, map[string]any{"typ": "JWT", "kid": kid}, claims(nil)),
		"no typ":                         tkSign(t, jwt.SigningMethodEdDSA, priv, map[string]any{"typ": nil, "kid": kid}, claims(nil)),
		"no kid":                         tkSign(t, jwt.SigningMethodEdDSA, priv, map[string]any{"typ": "at+jwt"}, claims(nil)),
		"key not in JWKS":                tkSign(t, jwt.SigningMethodEdDSA, foreign, map[string]any{"typ": "at+jwt", "kid": foreignKid}, claims(nil)),
		"key not in JWKS, our kid":       tkSign(t, jwt.SigningMethodEdDSA, foreign, hdr, claims(nil)),
		"alg none":                       noneTok,
		"alg none, signature stripped":   strings.Join([]string{strings.Split(noneTok, ".")[0], parts[1], ""}, "."),
		"HS256 keyed with the raw key":   tkSign(t, jwt.SigningMethodHS256, []byte(pub), hdr, claims(nil)),
		"HS256 keyed with the JWK x":     tkSign(t, jwt.SigningMethodHS256, []byte(jwkX), hdr, claims(nil)),
		"HS256 keyed with the PKIX DER":  tkSign(t, jwt.SigningMethodHS256, pubDER, hdr, claims(nil)),
		"HS256 keyed with the PEM":       tkSign(t, jwt.SigningMethodHS256, pubPEM, hdr, claims(nil)),
		"ES256 with our kid":             tkSign(t, jwt.SigningMethodES256, ecKey, hdr, claims(nil)),
		"payload swapped under our sig":  parts[0] + "." + otherPayload + "." + parts[2],
		"signature of another token":     parts[0] + "." + parts[1] + "." + strings.Split(ex.AccessToken, ".")[2],
		"signature truncated":            control[:len(control)-4],
		"oversized":                      control + strings.Repeat("A", 5000),
		"genuine token with a space in":  strings.Replace(ex.AccessToken, ".", ". ", 1),
		"genuine token, header replaced": base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","typ":"at+jwt","kid":"`+kid+`","x":1}`)) + "." + parts[1] + "." + parts[2],
	}
	for name, tok := range forged {
		t.Run("refuses "+name, func(t *testing.T) {
			for _, hdr := range [][]string{{"Authorization", "Bearer " + tok}, {"x-api-key", tok}} {
				r := tkDo(t, http.MethodGet, in.URL+tkVerifyPath, nil, hdr...)
				tkAssertError(t, r, http.StatusUnauthorized, mobileauth.CodeUnauthorized)
				assert.Equal(t, `Bearer realm="alga-mobile", error="invalid_token"`, r.Header.Get("WWW-Authenticate"))
				assert.Empty(t, r.Header.Get("X-Alga-User-Id"))
			}
		})
	}
}

// TestVerifyWithoutTokenChallengesBare: no token, or a non-Bearer scheme,
// is a 401 with a bare challenge (RFC 6750 §3.1: no error= without a token).
func TestVerifyWithoutTokenChallengesBare(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	for name, hdr := range map[string][]string{
		"no header":          nil,
		"Basic credentials":  {"Authorization", "Basic dXNlcjpwYXNz"},
		"empty Bearer":       {"Authorization", "Bearer "},
		"empty x-api-key":    {"x-api-key", "  "},
		"Bearer and nothing": {"Authorization", "Bearer"},
	} {
		t.Run(name, func(t *testing.T) {
			r := tkDo(t, http.MethodGet, in.URL+tkVerifyPath, nil, hdr...)
			tkAssertError(t, r, http.StatusUnauthorized, mobileauth.CodeUnauthorized)
			assert.Equal(t, `Bearer realm="alga-mobile"`, r.Header.Get("WWW-Authenticate"))
		})
	}
}

// TestVerifyRefusesTokenOfAnotherInstance: a second service with the same
// NEXTAUTH_URL but its own database (hence its own signing key) issues a
// genuine token; the first instance's JWKS lacks that key, so it fails.
func TestVerifyRefusesTokenOfAnotherInstance(t *testing.T) {
	addrA := freeAddr(t)
	inA := start(t, baseEnv(t, addrA))
	addrB := freeAddr(t)
	envB := baseEnv(t, addrB)
	envB["NEXTAUTH_URL"] = "http://" + addrA
	inB := start(t, envB)
	inB = &instance{URL: "http://" + addrB, App: inB.App}
	tkUser(t, inA, "twin@example.com")
	tkUser(t, inB, "twin@example.com")

	exB := tkExchange(t, inB, tkOTT(t, inB, "twin@example.com", "st"), "st")
	require.Equal(t, http.StatusOK, tkVerify(t, inB.URL, exB.AccessToken).Status, "B accepts its own token")
	hB, cB, _, _ := tkSegments(t, exB.AccessToken)
	assert.Equal(t, inA.URL, cB["iss"], "same issuer as A")
	for _, k := range tkFetchJWKS(t, inA.URL) {
		assert.NotEqual(t, hB["kid"], k.Kid, "B's key is not in A's JWKS")
	}
	r := tkVerify(t, inA.URL, exB.AccessToken)
	tkAssertError(t, r, http.StatusUnauthorized, mobileauth.CodeUnauthorized)
	assert.Equal(t, `Bearer realm="alga-mobile", error="invalid_token"`, r.Header.Get("WWW-Authenticate"))
	tkAssertError(t, tkRefresh(t, inA.URL, exB.RefreshToken), http.StatusUnauthorized, mobileauth.CodeUnauthorized)
}
