package sso

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

const (
	testClientID     = "client-123"
	testClientSecret = "s3cret-value-never-logged"
	testTID          = "9f3c1e2a-5b6d-4c7e-8f90-1a2b3c4d5e6f"
	otherTID         = "0a0b0c0d-1111-4222-8333-444455556666"
)

var attackNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeSetup is a provider wired to a fake IdP, with a fresh flow.
type fakeSetup struct {
	idp  *fakeIdP
	p    *Provider
	flow Flow
}

// opts adjust the Settings before the providers are built.
func newFakeSetup(t *testing.T, id ID, tenant, base, issuerPath string, opts ...func(*Settings)) fakeSetup {
	t.Helper()
	idp := newFakeIdP(t, base, issuerPath)
	cs := ClientSettings{ClientID: testClientID, ClientSecret: testClientSecret, Issuer: idp.issuerURL()}
	s := Settings{PublicOrigin: "https://psa.example.com", MicrosoftTenant: tenant, Now: func() time.Time { return attackNow }}
	switch id {
	case Google:
		s.Google = cs
	case Microsoft:
		s.Microsoft = cs
	case Dev:
		s.Dev = &cs
	}
	for _, o := range opts {
		o(&s)
	}
	ps := NewProviders(s)
	require.Len(t, ps, 1)
	fl, err := NewFlow(rand.Reader, id, "", attackNow, 10*time.Minute)
	require.NoError(t, err)
	return fakeSetup{idp: idp, p: ps[0], flow: fl}
}

func googleClaims(iss string, fl Flow) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": iss, "aud": testClientID, "sub": "user-1",
		"iat": attackNow.Unix(), "exp": attackNow.Add(5 * time.Minute).Unix(),
		"nonce": fl.Nonce, "email": "Alice@Example.com", "email_verified": true, "name": "Alice Example",
	}
}

func microsoftClaims(iss, tid string, fl Flow) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": iss, "tid": tid, "aud": testClientID, "sub": "ms-user-1",
		"iat": attackNow.Unix(), "exp": attackNow.Add(5 * time.Minute).Unix(), "nbf": attackNow.Unix(),
		"nonce": fl.Nonce, "email": "Bob@Contoso.com", "preferred_username": "bob@contoso.com", "name": "Bob",
	}
}

type tokenCase struct {
	name string
	// token builds the ID token the provider returns.
	token func(t *testing.T, s fakeSetup) string
	// want is nil for acceptance.
	want      error
	wantEmail string
}

func runTokenCases(t *testing.T, newSetup func(t *testing.T) fakeSetup, cases []tokenCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			s := newSetup(t)
			s.idp.respondWithIDToken(tt.token(t, s))
			id, err := s.p.Finish(context.Background(), s.flow, "the-code")
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
				assert.Equal(t, Identity{}, id, "no identity on refusal")
				assert.NotContains(t, err.Error(), testClientSecret)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantEmail, id.Email)
			assert.Equal(t, s.p.ID(), id.Provider)
			assert.NotEmpty(t, id.Subject)
			form := s.idp.form()
			assert.Equal(t, []string{s.flow.Verifier}, form["code_verifier"], "PKCE verifier sent with the code")
			assert.Equal(t, []string{s.p.CallbackURL()}, form["redirect_uri"])
			assert.Equal(t, []string{testClientSecret}, form["client_secret"], "client_secret_post")
		})
	}
}

func TestGoogleIDTokenAttacksAreRefused(t *testing.T) {
	_, wrongKey := testKeys(t)
	good := func(t *testing.T, s fakeSetup, c jwt.MapClaims) string {
		key, _ := testKeys(t)
		return signRS256(t, key, "good", c)
	}
	base := func(s fakeSetup) jwt.MapClaims { return googleClaims(s.idp.issuerURL(), s.flow) }
	cases := []tokenCase{
		{"accepts a proper token and lower-cases the e-mail", func(t *testing.T, s fakeSetup) string { return good(t, s, base(s)) }, nil, "alice@example.com"},
		{"accepts email_verified sent as the string true", func(t *testing.T, s fakeSetup) string {
			return good(t, s, with(base(s), "email_verified", "true"))
		}, nil, "alice@example.com"},
		{"accepts an audience list that contains us", func(t *testing.T, s fakeSetup) string {
			return good(t, s, with(base(s), "aud", []string{"other", testClientID}))
		}, nil, "alice@example.com"},
		{"refuses wrong aud", func(t *testing.T, s fakeSetup) string {
			return good(t, s, with(base(s), "aud", "someone-else"))
		}, ErrAudienceMismatch, ""},
		{"refuses wrong iss", func(t *testing.T, s fakeSetup) string {
			return good(t, s, with(base(s), "iss", "https://evil.example.com"))
		}, ErrIssuerMismatch, ""},
		{"refuses an expired token", func(t *testing.T, s fakeSetup) string {
			return good(t, s, with(base(s), "exp", attackNow.Add(-time.Second).Unix()))
		}, ErrTokenExpired, ""},
		{"refuses a token signed by another key under our kid", func(t *testing.T, s fakeSetup) string {
			return signRS256(t, wrongKey, "good", base(s))
		}, ErrBadSignature, ""},
		{"refuses a token signed by an unknown kid", func(t *testing.T, s fakeSetup) string {
			return signRS256(t, wrongKey, "attacker", base(s))
		}, ErrBadSignature, ""},
		{"refuses alg none", func(t *testing.T, s fakeSetup) string {
			v, err := jwt.NewWithClaims(jwt.SigningMethodNone, base(s)).SignedString(jwt.UnsafeAllowNoneSignatureType)
			require.NoError(t, err)
			return v
		}, ErrBadSignature, ""},
		{"refuses HS256 keyed with the client secret", func(t *testing.T, s fakeSetup) string {
			v, err := jwt.NewWithClaims(jwt.SigningMethodHS256, base(s)).SignedString([]byte(testClientSecret))
			require.NoError(t, err)
			return v
		}, ErrBadSignature, ""},
		{"refuses a payload swapped under a valid signature", func(t *testing.T, s fakeSetup) string {
			a := good(t, s, base(s))
			b := good(t, s, with(base(s), "email", "mallory@example.com"))
			return a[:indexDot(a)] + b[indexDot(b):lastDot(b)] + a[lastDot(a):]
		}, ErrBadSignature, ""},
		{"refuses garbage", func(t *testing.T, s fakeSetup) string { return "not.a.jwt" }, ErrBadSignature, ""},
		{"refuses a nonce mismatch", func(t *testing.T, s fakeSetup) string {
			return good(t, s, with(base(s), "nonce", "replayed-nonce"))
		}, ErrNonceMismatch, ""},
		{"refuses a missing nonce", func(t *testing.T, s fakeSetup) string {
			return good(t, s, withoutClaim(base(s), "nonce"))
		}, ErrNonceMismatch, ""},
		{"refuses email_verified false", func(t *testing.T, s fakeSetup) string {
			return good(t, s, with(base(s), "email_verified", false))
		}, ErrEmailNotVerified, ""},
		{"refuses email_verified as the string false", func(t *testing.T, s fakeSetup) string {
			return good(t, s, with(base(s), "email_verified", "false"))
		}, ErrEmailNotVerified, ""},
		{"refuses a missing email_verified", func(t *testing.T, s fakeSetup) string {
			return good(t, s, withoutClaim(base(s), "email_verified"))
		}, ErrEmailNotVerified, ""},
		{"refuses a garbled email_verified", func(t *testing.T, s fakeSetup) string {
			return good(t, s, with(base(s), "email_verified", "yes"))
		}, ErrInvalidIDToken, ""},
		{"refuses a token without e-mail", func(t *testing.T, s fakeSetup) string {
			return good(t, s, withoutClaim(base(s), "email"))
		}, ErrNoEmail, ""},
		{"refuses an e-mail that is not an address", func(t *testing.T, s fakeSetup) string {
			return good(t, s, with(base(s), "email", "Alice <alice@example.com>"))
		}, ErrNoEmail, ""},
		{"refuses a token not yet valid", func(t *testing.T, s fakeSetup) string {
			return good(t, s, with(base(s), "nbf", attackNow.Add(time.Hour).Unix()))
		}, ErrInvalidIDToken, ""},
	}
	runTokenCases(t, func(t *testing.T) fakeSetup { return newFakeSetup(t, Google, "", "", "") }, cases)
}

func indexDot(s string) int {
	for i := range s {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}

func TestFinishRefusesBadExchanges(t *testing.T) {
	t.Run("no id_token in the response", func(t *testing.T) {
		s := newFakeSetup(t, Google, "", "", "")
		s.idp.respond(func(*http.Request) (int, any) {
			return http.StatusOK, map[string]any{"access_token": "at", "token_type": "Bearer"}
		})
		_, err := s.p.Finish(context.Background(), s.flow, "code")
		assert.ErrorIs(t, err, ErrNoIDToken)
	})
	t.Run("provider error never leaks what it echoes", func(t *testing.T) {
		s := newFakeSetup(t, Google, "", "", "")
		s.idp.respond(func(r *http.Request) (int, any) {
			return http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "bad secret " + r.Form.Get("client_secret")}
		})
		_, err := s.p.Finish(context.Background(), s.flow, "code")
		require.ErrorIs(t, err, ErrExchange)
		assert.Contains(t, err.Error(), "invalid_client")
		assert.NotContains(t, err.Error(), testClientSecret)
	})
	t.Run("empty code", func(t *testing.T) {
		s := newFakeSetup(t, Google, "", "", "")
		_, err := s.p.Finish(context.Background(), s.flow, "")
		assert.ErrorIs(t, err, ErrExchange)
	})
	t.Run("flow of another provider", func(t *testing.T) {
		s := newFakeSetup(t, Google, "", "", "")
		fl := s.flow
		fl.Provider = Microsoft
		_, err := s.p.Finish(context.Background(), fl, "code")
		assert.ErrorIs(t, err, ErrUnknownProvider)
		_, err = s.p.AuthCodeURL(context.Background(), fl)
		assert.ErrorIs(t, err, ErrUnknownProvider)
	})
	t.Run("flow without nonce", func(t *testing.T) {
		s := newFakeSetup(t, Google, "", "", "")
		fl := s.flow
		fl.Nonce = ""
		_, err := s.p.Finish(context.Background(), fl, "code")
		assert.ErrorIs(t, err, ErrFlowInvalid)
		_, err = s.p.AuthCodeURL(context.Background(), fl)
		assert.ErrorIs(t, err, ErrFlowInvalid)
	})
}

func TestAuthCodeURLCarriesPKCENonceAndState(t *testing.T) {
	tests := []struct {
		id         ID
		wantPrompt string
	}{{Google, "select_account"}, {Microsoft, ""}, {Dev, ""}}
	for _, tt := range tests {
		t.Run(string(tt.id), func(t *testing.T) {
			s := newFakeSetup(t, tt.id, "72f988bf-86f1-41af-91ab-2d7cd011db47", "", "")
			raw, err := s.p.AuthCodeURL(context.Background(), s.flow)
			require.NoError(t, err)
			u, err := url.Parse(raw)
			require.NoError(t, err)
			assert.Equal(t, s.idp.srv.URL+"/authorize", u.Scheme+"://"+u.Host+u.Path)
			q := u.Query()
			assert.Equal(t, "code", q.Get("response_type"))
			assert.Equal(t, testClientID, q.Get("client_id"))
			assert.Equal(t, "https://psa.example.com/api/auth/callback/"+string(tt.id), q.Get("redirect_uri"))
			assert.Equal(t, "openid email profile", q.Get("scope"))
			assert.Equal(t, s.flow.State, q.Get("state"))
			assert.Equal(t, s.flow.Nonce, q.Get("nonce"))
			assert.Equal(t, "S256", q.Get("code_challenge_method"))
			assert.Equal(t, oauth2.S256ChallengeFromVerifier(s.flow.Verifier), q.Get("code_challenge"))
			assert.Equal(t, tt.wantPrompt, q.Get("prompt"))
			assert.NotContains(t, raw, s.flow.Verifier, "the verifier never leaves in the URL")
			assert.NotContains(t, raw, testClientSecret)
		})
	}
}
