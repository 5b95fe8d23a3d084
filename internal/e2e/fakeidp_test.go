package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// siIdP is a small OpenID Connect provider on loopback that stands in for
// Google in the ID-token attack tests. Its authorize endpoint approves at
// once (no login form) and sends the browser straight back with a code;
// its token endpoint answers with whatever ID token the test's mint
// function crafts for that authorization. It checks what a real provider
// checks of our client — client credentials, redirect_uri, single-use
// code and the PKCE verifier — so the attacks fail for the reason the test
// names, not because our client was sloppy.
type siIdP struct {
	URL          string // issuer and base URL
	ClientID     string
	ClientSecret string

	srv *httptest.Server

	mu      sync.Mutex
	pending map[string]siAuthz // code → the authorization it answers
	mint    func(a siAuthz) (string, error)
	// tokenCalls counts token-endpoint requests (a forged callback must
	// never reach it).
	tokenCalls int
	// lastTokenErr is why the last token request was refused, if it was.
	lastTokenErr string
	// issuerPath, when set, is appended to URL as the issuer discovery
	// announces (Microsoft multi-tenant: "/{tenantid}/v2.0").
	issuerPath string
}

// siAuthz is one authorization request as the provider saw it.
type siAuthz struct {
	ClientID, RedirectURI, State, Nonce, Challenge, Method, Scope string
}

var (
	siKeysOnce          sync.Once
	siGoodKey, siBadKey *rsa.PrivateKey
)

// siKeys returns the provider's signing key and an unrelated one, made
// once per test binary (RSA generation is slow under -race).
func siKeys() (good, bad *rsa.PrivateKey) {
	siKeysOnce.Do(func() {
		var err error
		if siGoodKey, err = rsa.GenerateKey(rand.Reader, 2048); err == nil {
			siBadKey, err = rsa.GenerateKey(rand.Reader, 2048)
		}
		if err != nil {
			panic(err)
		}
	})
	return siGoodKey, siBadKey
}

// siStartIdP serves the provider until the test ends. By default it mints
// a valid ID token for siValidEmail.
func siStartIdP(t *testing.T) *siIdP {
	t.Helper()
	good, _ := siKeys()
	p := &siIdP{ClientID: "e2e-google-client", ClientSecret: "e2e-google-secret", pending: map[string]siAuthz{}}
	p.mint = func(a siAuthz) (string, error) { return siSign(good, "good", p.claims(a, siValidEmail)) }
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		iss := p.URL + p.issuerPath
		p.mu.Unlock()
		siWriteJSON(w, http.StatusOK, map[string]any{
			"issuer":                                iss,
			"authorization_endpoint":                p.URL + "/authorize",
			"token_endpoint":                        p.URL + "/token",
			"jwks_uri":                              p.URL + "/jwks",
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"code_challenge_methods_supported":      []string{"S256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		siWriteJSON(w, http.StatusOK, map[string]any{"keys": []any{map[string]string{
			"kty": "RSA", "kid": "good", "use": "sig", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(good.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(good.E)).Bytes()),
		}}})
	})
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	p.URL = p.srv.URL
	return p
}

// env configures the provider as Google (SPEC §2: GOOGLE_OAUTH_ISSUER is
// the override for tests).
func (p *siIdP) env(env map[string]string) map[string]string {
	env["GOOGLE_OAUTH_CLIENT_ID"] = p.ClientID
	env["GOOGLE_OAUTH_CLIENT_SECRET"] = p.ClientSecret
	env["GOOGLE_OAUTH_ISSUER"] = p.URL
	return env
}

// msEnv configures the provider as a multi-tenant Microsoft authority
// (tenant common): discovery announces the issuer template
// "<URL>/{tenantid}/v2.0", and tokens must carry iss and tid to match
// (see msClaims).
func (p *siIdP) msEnv(env map[string]string) map[string]string {
	p.mu.Lock()
	p.issuerPath = "/{tenantid}/v2.0"
	p.mu.Unlock()
	env["MICROSOFT_OAUTH_CLIENT_ID"] = p.ClientID
	env["MICROSOFT_OAUTH_CLIENT_SECRET"] = p.ClientSecret
	env["MICROSOFT_OAUTH_AUTHORITY"] = p.URL
	env["MICROSOFT_OAUTH_TENANT_ID"] = "common"
	return env
}

// msClaims is a valid Entra ID token's claim set for a from tenant tid.
func (p *siIdP) msClaims(a siAuthz, tid, email string) jwt.MapClaims {
	c := p.claims(a, email)
	delete(c, "email_verified")
	c["iss"], c["tid"] = p.URL+"/"+tid+"/v2.0", tid
	return c
}

// setMint replaces how the token endpoint crafts the ID token.
func (p *siIdP) setMint(fn func(a siAuthz) (string, error)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mint = fn
}

func (p *siIdP) calls() (int, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tokenCalls, p.lastTokenErr
}

// claims is a valid ID token's claim set for a, vouching for email.
func (p *siIdP) claims(a siAuthz, email string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": p.URL, "aud": p.ClientID, "sub": "sub-" + email, "email": email, "email_verified": true,
		"name": "Fake Person", "nonce": a.Nonce, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}
}

// authorize approves every well-formed request at once.
func (p *siIdP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	a := siAuthz{ClientID: q.Get("client_id"), RedirectURI: q.Get("redirect_uri"), State: q.Get("state"),
		Nonce: q.Get("nonce"), Challenge: q.Get("code_challenge"), Method: q.Get("code_challenge_method"), Scope: q.Get("scope")}
	if a.ClientID != p.ClientID || q.Get("response_type") != "code" || a.RedirectURI == "" || a.State == "" ||
		a.Nonce == "" || a.Method != "S256" || a.Challenge == "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	code := rand.Text()
	p.mu.Lock()
	p.pending[code] = a
	p.mu.Unlock()
	back, err := url.Parse(a.RedirectURI)
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	back.RawQuery = url.Values{"code": {code}, "state": {a.State}}.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// token redeems a code once, after checking the client and PKCE.
func (p *siIdP) token(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tokenCalls++
	refuse := func(why string) {
		p.lastTokenErr = why
		siWriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": why})
	}
	if err := r.ParseForm(); err != nil {
		refuse("form")
		return
	}
	code := r.PostForm.Get("code")
	a, ok := p.pending[code]
	delete(p.pending, code)
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case !ok:
		refuse("unknown or used code")
	case r.PostForm.Get("grant_type") != "authorization_code":
		refuse("grant_type")
	case r.PostForm.Get("client_id") != p.ClientID ||
		subtle.ConstantTimeCompare([]byte(r.PostForm.Get("client_secret")), []byte(p.ClientSecret)) != 1:
		refuse("client authentication")
	case r.PostForm.Get("redirect_uri") != a.RedirectURI:
		refuse("redirect_uri differs from the authorization request")
	case base64.RawURLEncoding.EncodeToString(sum[:]) != a.Challenge:
		refuse("PKCE verifier does not match")
	default:
		idt, err := p.mint(a)
		if err != nil {
			p.lastTokenErr = "mint: " + err.Error()
			siWriteJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
			return
		}
		p.lastTokenErr = ""
		siWriteJSON(w, http.StatusOK, map[string]any{"access_token": "at-" + rand.Text(), "token_type": "Bearer",
			"expires_in": 3600, "id_token": idt})
	}
}

// siSign signs claims with RS256 under kid.
func siSign(key *rsa.PrivateKey, kid string, claims jwt.MapClaims) (string, error) {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = kid
	return tok.SignedString(key)
}

// siSignNone is the classic "alg": "none" forgery.
func siSignNone(claims jwt.MapClaims) (string, error) {
	return jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
}

// siSignHS256 forges a token MACed with a shared secret (the client
// secret is the one an attacker might hope a verifier accepts).
func siSignHS256(secret string, claims jwt.MapClaims) (string, error) {
	if secret == "" {
		return "", errors.New("no secret")
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = "good"
	return tok.SignedString([]byte(secret))
}

func siWriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// siValidEmail is the address the fake provider vouches for by default.
const siValidEmail = "tech@example.com"
