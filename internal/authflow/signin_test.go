package authflow_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sso"
)

// miniIdP is an OpenID Connect provider reduced to what one sign-in needs:
// discovery, JWKS and a token endpoint answering with an ID token for
// email and the nonce of the last authorization request it was told about.
type miniIdP struct {
	srv   *httptest.Server
	key   *rsa.PrivateKey
	mu    sync.Mutex
	nonce string
	email string
}

func newMiniIdP(t *testing.T) *miniIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	p := &miniIdP{key: key, email: alice.Email}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": p.srv.URL, "authorization_endpoint": p.srv.URL + "/authorize",
			"token_endpoint": p.srv.URL + "/token", "jwks_uri": p.srv.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		b64 := base64.RawURLEncoding.EncodeToString
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())}}})
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, _ *http.Request) {
		p.mu.Lock()
		nonce, email := p.nonce, p.email
		p.mu.Unlock()
		now := time.Now()
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": p.srv.URL, "aud": "client-1", "sub": "sub-1",
			"email": email, "email_verified": true, "nonce": nonce, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
		tok.Header["kid"] = "k1"
		raw, err := tok.SignedString(key)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": raw})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// withSignIn gives the fixture Google, served by idp.
func withSignIn(idp *miniIdP) option {
	return func(c *config) {
		c.signIn = authflow.SignInOptions{FlowKey: []byte(strings.Repeat("k", 32)),
			Providers: sso.NewProviders(sso.Settings{PublicOrigin: origin, HTTPClient: idp.srv.Client(),
				Google: sso.ClientSettings{ClientID: "client-1", ClientSecret: "secret-1", Issuer: idp.srv.URL}})}
	}
}

// startSignIn starts a Google sign-in back to callback and returns the
// sealed flow and the state sent to the provider.
func (f *fixture) startSignIn(idp *miniIdP, callback string) (flow, state string) {
	f.t.Helper()
	start := f.svc.StartSignIn(f.ctx, "google", callback)
	require.Empty(f.t, start.Refusal)
	to, err := url.Parse(start.Location)
	require.NoError(f.t, err)
	require.True(f.t, strings.HasPrefix(start.Location, idp.srv.URL+"/authorize"), start.Location)
	idp.mu.Lock()
	idp.nonce = to.Query().Get("nonce")
	idp.mu.Unlock()
	require.NotEmpty(f.t, start.FlowCookie)
	return start.FlowCookie, to.Query().Get("state")
}

func TestFinishSignInChecksState(t *testing.T) {
	idp := newMiniIdP(t)
	f := newFixture(t, withSignIn(idp))
	f.addUsers(alice)
	flow, state := f.startSignIn(idp, "/auth/mobile/handoff")
	require.NotEmpty(t, state)

	cases := []struct {
		name string
		cb   authflow.SignInCallback
		want string
	}{
		{"wrong state", authflow.SignInCallback{FlowCookie: flow, State: state + "x", Code: "c"}, authflow.SignInFlowExpired},
		{"no state", authflow.SignInCallback{FlowCookie: flow, Code: "c"}, authflow.SignInFlowExpired},
		{"right state without the flow cookie", authflow.SignInCallback{State: state, Code: "c"}, authflow.SignInFlowExpired},
		{"right state, provider refused", authflow.SignInCallback{FlowCookie: flow, State: state, Error: "access_denied"}, authflow.SignInAccessDenied},
		{"right state, no code", authflow.SignInCallback{FlowCookie: flow, State: state}, authflow.SignInAccessDenied},
		{"a flow of another provider", authflow.SignInCallback{Provider: "azure-ad", FlowCookie: flow, State: state, Code: "c"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cb.Provider == "" {
				tc.cb.Provider = "google"
			}
			res, err := f.svc.FinishSignIn(f.ctx, tc.cb)
			require.NoError(t, err)
			if tc.want == "" {
				assert.Equal(t, authflow.SignInNotFound, res.Outcome, "an unconfigured provider's callback is not served")
			} else {
				assert.Equal(t, authflow.SignInBack, res.Outcome)
				assert.Equal(t, tc.want, res.Refusal)
			}
			assert.Empty(t, res.SessionID)
		})
	}
	assert.Zero(t, f.count("SELECT COUNT(*) FROM web_sessions"), "no refused callback opens a session")
	assert.Empty(t, f.audits(mobileauth.AuditSignIn), "no refused callback reaches the sign-in")

	res, err := f.svc.FinishSignIn(f.ctx, authflow.SignInCallback{Provider: "google", FlowCookie: flow, State: state, Code: "c"})
	require.NoError(t, err)
	require.Equal(t, authflow.SignInDone, res.Outcome)
	assert.Equal(t, "/auth/mobile/handoff", res.Location)
	info, err := f.svc.WebSession(f.ctx, cookies(res.SessionID))
	require.NoError(t, err, "the right state signs in")
	assert.Equal(t, alice.ID, info.User.ID)
}

func TestSignInRefusalsAndPage(t *testing.T) {
	idp := newMiniIdP(t)
	f := newFixture(t, withSignIn(idp))
	f.addUsers(eve1, eve2)

	t.Run("unknown provider", func(t *testing.T) {
		start := f.svc.StartSignIn(f.ctx, "nope", "/x")
		assert.Equal(t, authflow.SignInUnknownProvider, start.Refusal)
		assert.Equal(t, "/x", start.Callback)
		assert.Empty(t, start.FlowCookie)
	})
	t.Run("a foreign callbackUrl is dropped", func(t *testing.T) {
		start := f.svc.StartSignIn(f.ctx, "google", "https://evil.example/x")
		assert.Empty(t, start.Callback)
		assert.Empty(t, f.svc.SignInPage(f.ctx, nil, "//evil.example/x").Callback)
	})
	t.Run("an address in two tenants is refused with no session", func(t *testing.T) {
		idp.mu.Lock()
		idp.email = "eve@example.com"
		idp.mu.Unlock()
		flow, state := f.startSignIn(idp, "")
		res, err := f.svc.FinishSignIn(f.ctx, authflow.SignInCallback{Provider: "google", FlowCookie: flow, State: state, Code: "c"})
		require.NoError(t, err)
		assert.Equal(t, authflow.SignInRefused, res.Outcome)
		assert.ErrorIs(t, res.Err, authflow.ErrAmbiguousUser)
		assert.Equal(t, "eve@example.com", res.Email)
		assert.Empty(t, res.SessionID)
	})
	t.Run("the page lists the providers and sends a signed-in browser on", func(t *testing.T) {
		page := f.svc.SignInPage(f.ctx, nil, "/auth/mobile/handoff?state=x")
		assert.Empty(t, page.Redirect)
		assert.Equal(t, "/auth/mobile/handoff?state=x", page.Callback)
		assert.Equal(t, []authflow.ProviderChoice{{ID: "google", Name: "Google"}}, page.Providers)

		f.addUsers(alice)
		id := f.signIn(alice.Email)
		page = f.svc.SignInPage(f.ctx, cookies(id), origin+"/auth/mobile/handoff?state=x")
		assert.Equal(t, "/auth/mobile/handoff?state=x", page.Redirect)
		page = f.svc.SignInPage(f.ctx, cookies(id), "")
		assert.Empty(t, page.Redirect)
		assert.Equal(t, alice.Email, page.SignedInAs)
	})
}
