package sso

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// fakeIdP is a test-only OpenID Connect provider that signs whatever
// claims a test gives it, with its own RSA key or a deliberately wrong one.
// It stands in for a compromised or buggy provider (or a token-mixing
// attacker) in the ID-token attack tests; the happy path is also proven
// against the real provider in internal/devidp.
type fakeIdP struct {
	srv *httptest.Server
	// base is the issuer path prefix ("" for Google-like, "/common/v2.0" …).
	base string

	mu sync.Mutex
	// discIssuer is the issuer the discovery document announces.
	discIssuer string
	// token answers the token endpoint: status and body.
	token func(r *http.Request) (int, any)
	// lastForm is the last token request's form.
	lastForm map[string][]string
}

var (
	keysOnce        sync.Once
	goodKey, badKey *rsa.PrivateKey
)

func testKeys(t *testing.T) (good, bad *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		goodKey, err = rsa.GenerateKey(rand.Reader, 2048)
		if err == nil {
			badKey, err = rsa.GenerateKey(rand.Reader, 2048)
		}
		if err != nil {
			panic(err)
		}
	})
	return goodKey, badKey
}

// newFakeIdP serves discovery under base; the announced issuer is
// issuerPath appended to the server URL (issuerPath may hold "{tenantid}").
func newFakeIdP(t *testing.T, base, issuerPath string) *fakeIdP {
	t.Helper()
	good, _ := testKeys(t)
	f := &fakeIdP{base: base}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+base+"/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		iss := f.discIssuer
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                iss,
			"authorization_endpoint":                f.srv.URL + "/authorize",
			"token_endpoint":                        f.srv.URL + "/token",
			"jwks_uri":                              f.srv.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"keys": []any{map[string]string{
			"kty": "RSA", "kid": "good", "use": "sig", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(good.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(good.E)).Bytes()),
		}}})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.mu.Lock()
		f.lastForm = r.Form
		tok := f.token
		f.mu.Unlock()
		if tok == nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
			return
		}
		status, body := tok(r)
		writeJSON(w, status, body)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	f.discIssuer = f.srv.URL + issuerPath
	return f
}

// issuerURL is where discovery starts (the configured issuer/authority).
func (f *fakeIdP) issuerURL() string { return f.srv.URL + f.base }

// respondWithIDToken makes the token endpoint return idToken.
func (f *fakeIdP) respondWithIDToken(idToken string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token = func(*http.Request) (int, any) {
		return http.StatusOK, map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": idToken}
	}
}

func (f *fakeIdP) respond(fn func(*http.Request) (int, any)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token = fn
}

func (f *fakeIdP) form() map[string][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastForm
}

// signRS256 signs claims with key under kid.
func signRS256(t *testing.T, key *rsa.PrivateKey, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// withoutClaim returns a copy of c without the named claims.
func withoutClaim(c jwt.MapClaims, names ...string) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for _, n := range names {
		delete(out, n)
	}
	return out
}

// with returns a copy of c with kv pairs set.
func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := withoutClaim(c)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// tenantIssuer renders a Microsoft per-tenant issuer on the fake's origin.
func (f *fakeIdP) tenantIssuer(tid string) string {
	return strings.ReplaceAll(f.srv.URL+"/{tenantid}/v2.0", "{tenantid}", tid)
}
