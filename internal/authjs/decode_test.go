package authjs_test

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authjs"
	"github.com/nineminds/alga-mobile-auth/internal/authjs/authjstest"
	"github.com/nineminds/alga-mobile-auth/internal/testclock"
)

const (
	testSecret = "tq3Wq1bM0k6hS8n2+yHn2pXQyZ9p1v6V4r0fJ8cK2dE="
	secure     = authjs.SecureCookieName
)

var mintTime = time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)

func errorsIsInvalid(err error) bool { return errors.Is(err, authjs.ErrInvalid) }

// algaClaims is a session as AlgaPSA's jwt callback shapes it.
func algaClaims() map[string]any {
	return map[string]any{
		"id":                  "6f1c2a8e-3a1b-4e55-9d55-0c7c1b2f9a10",
		"sub":                 "6f1c2a8e-3a1b-4e55-9d55-0c7c1b2f9a10",
		"email":               "dana.tech@example.com",
		"name":                "Dana Tech",
		"tenant":              "0b8d7f4e-2c6a-4d1e-8f3b-5a9c7e1d2b40",
		"tenantSlug":          "acme-0b8d7f",
		"user_type":           "internal",
		"plan":                "pro",
		"addons":              []string{},
		"trial_end":           nil,
		"session_id":          "9e2f6c1a-7b3d-4a8e-b5c2-1d4f7a9e3c60",
		"login_method":        "credentials",
		"last_plan_check":     mintTime.UnixMilli(),
		"last_session_extend": mintTime.UnixMilli(),
	}
}

func with(c map[string]any, kv ...any) map[string]any {
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil { //nolint:gosec // G602: kv holds key/value pairs, i+1 < len(kv) for every even i of a well-formed call
			delete(c, k)
		} else {
			c[k] = kv[i+1] //nolint:gosec // G602: as above
		}
	}
	return c
}

func mint(t *testing.T, tok authjstest.Token) map[string]string {
	t.Helper()
	if tok.Secret == "" {
		tok.Secret = testSecret
	}
	if tok.CookieName == "" {
		tok.CookieName = secure
	}
	if tok.Claims == nil {
		tok.Claims = algaClaims()
	}
	if tok.Now.IsZero() {
		tok.Now = mintTime
	}
	if tok.MaxAge == 0 {
		tok.MaxAge = 24 * time.Hour
	}
	c, err := authjstest.Cookies(tok)
	require.NoError(t, err)
	return c
}

// joseMint encrypts raw payload bytes under the Auth.js key with any
// algorithms and extra headers, for the headers Auth.js never writes.
func joseMint(t *testing.T, alg jose.KeyAlgorithm, enc jose.ContentEncryption, key []byte, payload string, opts *jose.EncrypterOptions) string {
	t.Helper()
	e, err := jose.NewEncrypter(enc, jose.Recipient{Algorithm: alg, Key: key}, opts)
	require.NoError(t, err)
	obj, err := e.Encrypt([]byte(payload))
	require.NoError(t, err)
	s, err := obj.CompactSerialize()
	require.NoError(t, err)
	return s
}

func derived(t *testing.T, n int) []byte {
	k, err := authjs.DeriveKey(testSecret, secure)
	require.NoError(t, err)
	return k[:n]
}

func validPayload() string {
	return `{"id":"u1","tenant":"t1","user_type":"internal","session_id":"s1","iat":` +
		strconv.FormatInt(mintTime.Unix(), 10) + `,"exp":` + strconv.FormatInt(mintTime.Unix()+3600, 10) + `}`
}

// replaceSegment swaps segment i of a compact JWE for s.
func replaceSegment(jwe string, i int, s string) string {
	p := strings.Split(jwe, ".")
	p[i] = s
	return strings.Join(p, ".")
}

func TestDecodeAccepts(t *testing.T) {
	wantFull := authjs.Session{
		UserID: "6f1c2a8e-3a1b-4e55-9d55-0c7c1b2f9a10", Tenant: "0b8d7f4e-2c6a-4d1e-8f3b-5a9c7e1d2b40",
		UserType: "internal", Email: "dana.tech@example.com", Name: "Dana Tech",
		SessionID: "9e2f6c1a-7b3d-4a8e-b5c2-1d4f7a9e3c60",
		IssuedAt:  mintTime, ExpiresAt: mintTime.Add(24 * time.Hour),
	}
	manyAddons := make([]string, 250)
	for i := range manyAddons {
		manyAddons[i] = "addon-" + strings.Repeat(string(rune('a'+i%26)), 20) + strconv.Itoa(i)
	}
	tests := []struct {
		name    string
		cookies map[string]string
		at      time.Time
		want    func(s *authjs.Session)
		chunks  int
	}{
		{name: "small session", cookies: mint(t, authjstest.Token{}), chunks: 1},
		{name: "plain cookie name", cookies: mint(t, authjstest.Token{CookieName: authjs.PlainCookieName}), chunks: 1},
		{
			name:    "large session in chunks",
			cookies: mint(t, authjstest.Token{Claims: with(algaClaims(), "addons", manyAddons)}),
			chunks:  3,
		},
		{
			name:    "sub when id is absent",
			cookies: mint(t, authjstest.Token{Claims: with(algaClaims(), "id", nil, "sub", "sub-user")}),
			want:    func(s *authjs.Session) { s.UserID = "sub-user" },
		},
		{
			name:    "sub when id is empty (AlgaPSA reads id || sub)",
			cookies: mint(t, authjstest.Token{Claims: with(algaClaims(), "id", "", "sub", "sub-user")}),
			want:    func(s *authjs.Session) { s.UserID = "sub-user" },
		},
		{
			name:    "client user (refusing it is the hand-off's rule)",
			cookies: mint(t, authjstest.Token{Claims: with(algaClaims(), "user_type", "client")}),
			want:    func(s *authjs.Session) { s.UserType = "client" },
		},
		{
			name:    "no email or name",
			cookies: mint(t, authjstest.Token{Claims: with(algaClaims(), "email", nil, "name", nil)}),
			want:    func(s *authjs.Session) { s.Email, s.Name = "", "" },
		},
		{name: "no kid", cookies: mint(t, authjstest.Token{OmitKeyID: true})},
		{name: "14 s after exp (Auth.js' leeway)", cookies: mint(t, authjstest.Token{}), at: mintTime.Add(24*time.Hour + 14*time.Second)},
		{name: "nbf 15 s ahead", cookies: mint(t, authjstest.Token{Claims: with(algaClaims(), "nbf", mintTime.Unix()+15)})},
		{
			name:    "an unrelated cookie sharing the prefix is ignored",
			cookies: withCookie(mint(t, authjstest.Token{}), secure+".x", "junk", secure+"-other", "junk", secure+".01", "junk"),
		},
		{
			name:    "an empty chunk beside the whole cookie is ignored (a deleted cookie)",
			cookies: withCookie(mint(t, authjstest.Token{}), secure+".0", ""),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at := tc.at
			if at.IsZero() {
				at = mintTime
			}
			d, err := authjs.NewDecoder(testSecret, cookieNameOf(tc.cookies), testclock.New(at).Now)
			require.NoError(t, err)
			if tc.chunks > 0 {
				require.Equal(t, tc.chunks, len(tc.cookies), "chunks")
			}
			got, err := d.Decode(tc.cookies)
			require.NoError(t, err)
			want := wantFull
			if tc.want != nil {
				tc.want(&want)
			}
			assert.Equal(t, want, got)
		})
	}
}

// cookieNameOf returns the session cookie name a minted set uses.
func cookieNameOf(c map[string]string) string {
	for k := range c {
		if strings.HasPrefix(k, authjs.PlainCookieName) {
			return authjs.PlainCookieName
		}
	}
	return secure
}

func withCookie(c map[string]string, kv ...string) map[string]string {
	for i := 0; i < len(kv); i += 2 {
		c[kv[i]] = kv[i+1] //nolint:gosec // G602: kv holds key/value pairs
	}
	return c
}

func TestDecodeRefuses(t *testing.T) {
	small := mint(t, authjstest.Token{})[secure]
	big := mint(t, authjstest.Token{Claims: with(algaClaims(), "blob", strings.Repeat("x", 6000))})
	require.Equal(t, 3, len(big), "chunks")
	key := derived(t, 64)
	kid := authjs.KeyID(key)
	withKid := func() *jose.EncrypterOptions {
		return (&jose.EncrypterOptions{}).WithHeader("kid", kid)
	}
	b64 := base64.RawURLEncoding.EncodeToString

	tests := []struct {
		name    string
		cookies map[string]string
		secret  string
		cookie  string
		at      time.Time
		want    error
	}{
		{name: "no cookie at all", cookies: map[string]string{}, want: authjs.ErrNoCookie},
		{name: "only other cookies", cookies: map[string]string{"theme": "dark", "authjs.csrf-token": "x"}, want: authjs.ErrNoCookie},
		{name: "an empty session cookie", cookies: map[string]string{secure: ""}, want: authjs.ErrNoCookie},
		{name: "the other name's cookie only", cookies: mint(t, authjstest.Token{CookieName: authjs.PlainCookieName}), want: authjs.ErrNoCookie},

		{name: "wrong secret", cookies: mint(t, authjstest.Token{}), secret: "another secret", want: authjs.ErrDecrypt},
		{name: "wrong secret, no kid", cookies: mint(t, authjstest.Token{OmitKeyID: true}), secret: "another secret", want: authjs.ErrDecrypt},
		{
			name:    "minted as authjs.session-token, presented as __Secure-",
			cookies: map[string]string{secure: mint(t, authjstest.Token{CookieName: authjs.PlainCookieName})[authjs.PlainCookieName]},
			want:    authjs.ErrDecrypt,
		},
		{
			name:    "minted as __Secure-, presented as authjs.session-token",
			cookies: map[string]string{authjs.PlainCookieName: small},
			cookie:  authjs.PlainCookieName,
			want:    authjs.ErrDecrypt,
		},
		{name: "tampered ciphertext", cookies: map[string]string{secure: flipSegment(small, 3)}, want: authjs.ErrDecrypt},
		{name: "tampered tag", cookies: map[string]string{secure: flipSegment(small, 4)}, want: authjs.ErrDecrypt},
		{name: "tampered iv", cookies: map[string]string{secure: flipSegment(small, 2)}, want: authjs.ErrDecrypt},
		{
			name:    "tampered header (kid removed)",
			cookies: map[string]string{secure: replaceSegment(small, 0, b64([]byte(`{"alg":"dir","enc":"A256CBC-HS512"}`)))},
			want:    authjs.ErrDecrypt,
		},
		{
			name:    "tampered header (kid of another key)",
			cookies: map[string]string{secure: replaceSegment(small, 0, b64([]byte(`{"alg":"dir","enc":"A256CBC-HS512","kid":"x"}`)))},
			want:    authjs.ErrDecrypt,
		},
		{
			name:    "truncated ciphertext (one block less)",
			cookies: map[string]string{secure: truncateCiphertext(t, small)},
			want:    authjs.ErrDecrypt,
		},

		{name: "expired: 15 s after exp", cookies: mint(t, authjstest.Token{}), at: mintTime.Add(24*time.Hour + 15*time.Second), want: authjs.ErrExpired},
		{name: "expired: minted with a negative max age", cookies: mint(t, authjstest.Token{MaxAge: -time.Hour}), want: authjs.ErrExpired},
		{name: "nbf 16 s ahead", cookies: mint(t, authjstest.Token{Claims: with(algaClaims(), "nbf", mintTime.Unix()+16)}), want: authjs.ErrNotYetValid},
		{name: "nbf not a number", cookies: mint(t, authjstest.Token{Claims: with(algaClaims(), "nbf", "soon")}), want: authjs.ErrClaims},

		{name: "missing session_id", cookies: mint(t, authjstest.Token{Claims: with(algaClaims(), "session_id", nil)}), want: authjs.ErrClaims},
		{name: "missing tenant", cookies: mint(t, authjstest.Token{Claims: with(algaClaims(), "tenant", nil)}), want: authjs.ErrClaims},
		{name: "missing id and sub", cookies: mint(t, authjstest.Token{Claims: with(algaClaims(), "id", nil, "sub", nil)}), want: authjs.ErrClaims},
		{name: "id a number (AlgaPSA fails it closed)", cookies: mint(t, authjstest.Token{Claims: with(algaClaims(), "id", 7)}), want: authjs.ErrClaims},
		{name: "tenant empty", cookies: mint(t, authjstest.Token{Claims: with(algaClaims(), "tenant", "")}), want: authjs.ErrClaims},
		{name: "session_id an object", cookies: mint(t, authjstest.Token{Claims: with(algaClaims(), "session_id", map[string]any{})}), want: authjs.ErrClaims},
		{name: "user_type missing", cookies: mint(t, authjstest.Token{Claims: with(algaClaims(), "user_type", nil)}), want: authjs.ErrClaims},
		{name: "user_type admin", cookies: mint(t, authjstest.Token{Claims: with(algaClaims(), "user_type", "admin")}), want: authjs.ErrClaims},
		{name: "Tenant is not tenant (names are case-sensitive)", cookies: mint(t, authjstest.Token{Claims: with(algaClaims(), "tenant", nil, "Tenant", "t1")}), want: authjs.ErrClaims},
		{
			name:    "no exp (Auth.js always writes one)",
			cookies: map[string]string{secure: joseMint(t, jose.DIRECT, jose.A256CBC_HS512, key, `{"id":"u","tenant":"t","user_type":"internal","session_id":"s"}`, withKid())},
			want:    authjs.ErrClaims,
		},
		{
			name:    "exp a string",
			cookies: map[string]string{secure: joseMint(t, jose.DIRECT, jose.A256CBC_HS512, key, `{"id":"u","tenant":"t","user_type":"internal","session_id":"s","exp":"tomorrow"}`, withKid())},
			want:    authjs.ErrClaims,
		},
		{
			name:    "payload an array",
			cookies: map[string]string{secure: joseMint(t, jose.DIRECT, jose.A256CBC_HS512, key, `[1,2]`, withKid())},
			want:    authjs.ErrMalformed,
		},
		{
			name:    "payload with trailing data",
			cookies: map[string]string{secure: joseMint(t, jose.DIRECT, jose.A256CBC_HS512, key, validPayload()+`{}`, withKid())},
			want:    authjs.ErrMalformed,
		},
		{
			name:    "payload not UTF-8",
			cookies: map[string]string{secure: joseMint(t, jose.DIRECT, jose.A256CBC_HS512, key, "{\"id\":\"\xff\"}", withKid())},
			want:    authjs.ErrMalformed,
		},

		{name: "chunk .1 missing", cookies: without(big, secure+".1"), want: authjs.ErrChunks},
		{name: "chunk .0 missing", cookies: without(big, secure+".0"), want: authjs.ErrChunks},
		{name: "chunks .0 and .1 swapped", cookies: swap(big, secure+".0", secure+".1"), want: authjs.ErrMalformed},
		{name: "whole cookie and chunks", cookies: withCookie(copyMap(big), secure, small), want: authjs.ErrChunks},
		{name: "a chunk past the limit", cookies: withCookie(copyMap(big), secure+"."+strconv.Itoa(authjs.MaxChunks), "x"), want: authjs.ErrTooLarge},
		{name: "oversized whole cookie", cookies: map[string]string{secure: strings.Repeat("A", authjs.MaxCookieBytes+1)}, want: authjs.ErrTooLarge},
		{
			name:    "oversized chunked cookie",
			cookies: mint(t, authjstest.Token{Claims: with(algaClaims(), "blob", strings.Repeat("x", authjs.MaxCookieBytes))}),
			want:    authjs.ErrTooLarge,
		},

		{name: "malformed value", cookies: map[string]string{secure: "not-a-session-token"}, want: authjs.ErrMalformed},
		{name: "a JWS", cookies: map[string]string{secure: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}, want: authjs.ErrMalformed},
		{name: "six segments", cookies: map[string]string{secure: small + ".x"}, want: authjs.ErrMalformed},
		{name: "header not base64url", cookies: map[string]string{secure: replaceSegment(small, 0, "e30=")}, want: authjs.ErrMalformed},
		{name: "header not JSON", cookies: map[string]string{secure: replaceSegment(small, 0, b64([]byte("alg")))}, want: authjs.ErrMalformed},
		{name: "an encrypted key with dir", cookies: map[string]string{secure: replaceSegment(small, 1, "AAAA")}, want: authjs.ErrMalformed},
		{name: "short iv", cookies: map[string]string{secure: replaceSegment(small, 2, "AAAA")}, want: authjs.ErrMalformed},
		{name: "short tag", cookies: map[string]string{secure: replaceSegment(small, 4, "AAAA")}, want: authjs.ErrMalformed},
		{name: "ciphertext not base64url", cookies: map[string]string{secure: replaceSegment(small, 3, "!!!!")}, want: authjs.ErrMalformed},

		{
			name:    "enc A256GCM",
			cookies: map[string]string{secure: joseMint(t, jose.DIRECT, jose.A256GCM, derived(t, 32), validPayload(), nil)},
			want:    authjs.ErrHeader,
		},
		{
			name:    "enc A128CBC-HS256",
			cookies: map[string]string{secure: joseMint(t, jose.DIRECT, jose.A128CBC_HS256, derived(t, 32), validPayload(), nil)},
			want:    authjs.ErrHeader,
		},
		{
			name:    "alg A256KW",
			cookies: map[string]string{secure: joseMint(t, jose.A256KW, jose.A256CBC_HS512, derived(t, 32), validPayload(), nil)},
			want:    authjs.ErrHeader,
		},
		{
			name: "zip DEF",
			cookies: map[string]string{secure: joseMint(t, jose.DIRECT, jose.A256CBC_HS512, key, validPayload(),
				(&jose.EncrypterOptions{Compression: jose.DEFLATE}).WithHeader("kid", kid))},
			want: authjs.ErrHeader,
		},
		{
			name:    "crit header",
			cookies: map[string]string{secure: joseMint(t, jose.DIRECT, jose.A256CBC_HS512, key, validPayload(), withKid().WithHeader("crit", []string{"exp"}))},
			want:    authjs.ErrHeader,
		},
		{
			name:    "typ header",
			cookies: map[string]string{secure: joseMint(t, jose.DIRECT, jose.A256CBC_HS512, key, validPayload(), withKid().WithType("JWT"))},
			want:    authjs.ErrHeader,
		},
		{
			name:    "alg none in a forged header",
			cookies: map[string]string{secure: replaceSegment(small, 0, b64([]byte(`{"alg":"none","enc":"A256CBC-HS512"}`)))},
			want:    authjs.ErrHeader,
		},
		{
			name:    "header without enc",
			cookies: map[string]string{secure: replaceSegment(small, 0, b64([]byte(`{"alg":"dir"}`)))},
			want:    authjs.ErrHeader,
		},
		{
			name:    "kid not a string",
			cookies: map[string]string{secure: replaceSegment(small, 0, b64([]byte(`{"alg":"dir","enc":"A256CBC-HS512","kid":1}`)))},
			want:    authjs.ErrHeader,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			secret, name, at := tc.secret, tc.cookie, tc.at
			if secret == "" {
				secret = testSecret
			}
			if name == "" {
				name = secure
			}
			if at.IsZero() {
				at = mintTime
			}
			d, err := authjs.NewDecoder(secret, name, testclock.New(at).Now)
			require.NoError(t, err)
			got, err := d.Decode(tc.cookies)
			require.ErrorIs(t, err, tc.want)
			assert.Equal(t, tc.want != authjs.ErrNoCookie, errorsIsInvalid(err), "ErrInvalid iff a cookie was present")
			assert.Equal(t, authjs.Session{}, got)
			assertNoLeak(t, err, secret, tc.cookies)
			assertNoLeak(t, err, testSecret, nil)
		})
	}
}

// flipSegment changes one base64url character in the middle of segment i.
func flipSegment(jwe string, i int) string {
	p := strings.Split(jwe, ".")
	s := []byte(p[i])
	at := len(s) / 2
	if s[at] == 'A' {
		s[at] = 'B'
	} else {
		s[at] = 'A'
	}
	p[i] = string(s)
	return strings.Join(p, ".")
}

// truncateCiphertext drops the ciphertext's last AES block.
func truncateCiphertext(t *testing.T, jwe string) string {
	p := strings.Split(jwe, ".")
	ct, err := base64.RawURLEncoding.DecodeString(p[3])
	require.NoError(t, err)
	require.Greater(t, len(ct), 16)
	p[3] = base64.RawURLEncoding.EncodeToString(ct[:len(ct)-16])
	return strings.Join(p, ".")
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func without(m map[string]string, k string) map[string]string {
	out := copyMap(m)
	delete(out, k)
	return out
}

func swap(m map[string]string, a, b string) map[string]string {
	out := copyMap(m)
	out[a], out[b] = m[b], m[a]
	return out
}

func TestNewDecoderValidates(t *testing.T) {
	now := testclock.New(mintTime).Now
	for _, tc := range []struct {
		name, secret, cookie string
		now                  func() time.Time
	}{
		{"empty secret", "", secure, now},
		{"empty cookie name", testSecret, "", now},
		{"cookie name with a space", testSecret, "authjs session", now},
		{"cookie name with a semicolon", testSecret, "a;b", now},
		{"no clock", testSecret, secure, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := authjs.NewDecoder(tc.secret, tc.cookie, tc.now)
			require.Error(t, err)
			assert.Nil(t, d)
			if tc.secret != "" {
				assert.NotContains(t, err.Error(), tc.secret)
			}
		})
	}
	d, err := authjs.NewDecoder(testSecret, "authjs.session-token.3000", now)
	require.NoError(t, err, "AlgaPSA's development names (port suffix) are valid")
	assert.Equal(t, "authjs.session-token.3000", d.CookieName())
}

func TestCookieName(t *testing.T) {
	for in, want := range map[string]string{
		"https://psa.example.com":       authjs.SecureCookieName,
		"HTTPS://psa.example.com:8443/": authjs.SecureCookieName,
		" https://psa.example.com ":     authjs.SecureCookieName,
		"http://localhost:3000":         authjs.PlainCookieName,
		"":                              authjs.PlainCookieName,
		"psa.example.com":               authjs.PlainCookieName,
		"://bad":                        authjs.PlainCookieName,
	} {
		assert.Equal(t, want, authjs.CookieName(in), in)
	}
}

// TestKeyDerivation pins HKDF's inputs: another salt or secret gives another
// key, and the kid is the key's SHA-512 JWK thumbprint (86 characters).
func TestKeyDerivation(t *testing.T) {
	a, err := authjs.DeriveKey(testSecret, secure)
	require.NoError(t, err)
	require.Len(t, a, 64)
	b, err := authjs.DeriveKey(testSecret, authjs.PlainCookieName)
	require.NoError(t, err)
	c, err := authjs.DeriveKey(testSecret+"x", secure)
	require.NoError(t, err)
	assert.NotEqual(t, a, b)
	assert.NotEqual(t, a, c)
	assert.Len(t, authjs.KeyID(a), 86)
	assert.NotEqual(t, authjs.KeyID(a), authjs.KeyID(b))
}

// TestDecodeAtUsesTheGivenTime: DecodeAt judges expiry at the time passed,
// not at the decoder's clock.
func TestDecodeAtUsesTheGivenTime(t *testing.T) {
	cookies := mint(t, authjstest.Token{})
	d, err := authjs.NewDecoder(testSecret, secure, testclock.New(mintTime.Add(48*time.Hour)).Now)
	require.NoError(t, err)
	_, err = d.Decode(cookies)
	require.ErrorIs(t, err, authjs.ErrExpired)
	s, err := d.DecodeAt(cookies, mintTime)
	require.NoError(t, err)
	assert.Equal(t, "9e2f6c1a-7b3d-4a8e-b5c2-1d4f7a9e3c60", s.SessionID)
	_, err = d.DecodeAt(cookies, mintTime.Add(24*time.Hour+15*time.Second))
	require.ErrorIs(t, err, authjs.ErrExpired)
}
