package devidp_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/nineminds/alga-mobile-auth/internal/devidp"
)

const redirect = "http://127.0.0.1:8080/api/auth/callback/dev"

func start(t *testing.T, o devidp.Options) *devidp.Server {
	t.Helper()
	s, err := devidp.Start(o)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

func noRedirects() *http.Client {
	return &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// authParams is a valid authorization request for s.
func authParams(s *devidp.Server, verifier string) url.Values {
	return url.Values{
		"client_id":             {s.ClientID()},
		"response_type":         {"code"},
		"redirect_uri":          {redirect},
		"scope":                 {"openid email profile"},
		"state":                 {"the-state"},
		"nonce":                 {"the-nonce"},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"},
	}
}

// get fetches u without following redirects and returns the status, the
// headers and the body (read and closed).
func get(t *testing.T, u string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	require.NoError(t, err)
	resp, err := noRedirects().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

// postForm posts form to u with c; the caller closes the body.
func postForm(t *testing.T, c *http.Client, u string, form url.Values) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.Do(req)
}

func TestStartRefusesNonLoopbackAddresses(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.10:0", "[::]:0", "example.com:0", "no-port"} {
		t.Run(addr, func(t *testing.T) {
			_, err := devidp.Start(devidp.Options{Addr: addr})
			assert.Error(t, err)
		})
	}
}

func TestDiscoveryDocumentAdvertisesS256Only(t *testing.T) {
	s := start(t, devidp.Options{})
	assert.True(t, strings.HasPrefix(s.Issuer(), "http://127.0.0.1:"))
	status, _, body := get(t, s.Issuer()+"/.well-known/openid-configuration")
	require.Equal(t, http.StatusOK, status)
	var doc struct {
		Issuer  string   `json:"issuer"`
		Methods []string `json:"code_challenge_methods_supported"`
		Auth    string   `json:"authorization_endpoint"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &doc))
	assert.Equal(t, s.Issuer(), doc.Issuer)
	assert.Equal(t, []string{"S256"}, doc.Methods)
	assert.Equal(t, s.AuthorizationEndpoint(), doc.Auth)
	assert.NotEmpty(t, s.ClientID(), "generated when not given")
	assert.NotEmpty(t, s.ClientSecret())
}

var styleBlock = regexp.MustCompile(`<style>(.*?)</style>`)

func TestLoginFormIsAccessibleAndSelfContained(t *testing.T) {
	s := start(t, devidp.Options{})
	status, header, body := get(t, s.AuthorizationEndpoint()+"?"+authParams(s, strings.Repeat("v", 43)).Encode())
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, `<html lang="en">`)
	assert.Contains(t, body, `<meta name="viewport"`)
	assert.Contains(t, body, `<label for="email">Sign in as</label>`)
	assert.Regexp(t, `<input id="email" name="email" type="email"[^>]*autocomplete="email"[^>]*required`, body)
	assert.Contains(t, body, `<button type="submit">Sign in</button>`)
	assert.Contains(t, body, `<form method="post" action="/oidc/authorize?`)
	for _, banned := range []string{"<script", "<link", "src=", "http://", "https://", "onload", "onclick"} {
		assert.NotContains(t, body, banned)
	}
	csp := header.Get("Content-Security-Policy")
	assert.Contains(t, csp, "default-src 'none'")
	assert.NotContains(t, csp, "unsafe-inline")
	m := styleBlock.FindStringSubmatch(body)
	require.NotNil(t, m)
	sum := sha256.Sum256([]byte(m[1]))
	assert.Contains(t, csp, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'", "the inline style is allowed by its hash")
	assert.Equal(t, "DENY", header.Get("X-Frame-Options"))
	assert.Equal(t, "no-referrer", header.Get("Referrer-Policy"))
	assert.Equal(t, "no-store", header.Get("Cache-Control"))
}

func TestAuthorizeRefusesWhatOurClientMustNeverSend(t *testing.T) {
	s := start(t, devidp.Options{RedirectURIs: []string{redirect}})
	tests := []struct {
		name   string
		change func(url.Values)
		want   string
	}{
		{"unknown client", func(q url.Values) { q.Set("client_id", "nope") }, "Unknown client"},
		{"implicit flow", func(q url.Values) { q.Set("response_type", "token") }, "authorization-code"},
		{"no openid scope", func(q url.Values) { q.Set("scope", "email") }, "openid"},
		{"no state", func(q url.Values) { q.Del("state") }, "no state"},
		{"no nonce", func(q url.Values) { q.Del("nonce") }, "no nonce"},
		{"no PKCE", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, "PKCE"},
		{"plain PKCE", func(q url.Values) { q.Set("code_challenge_method", "plain") }, "PKCE"},
		{"unregistered redirect_uri", func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:9999/steal") }, "not registered"},
		{"non-http redirect_uri", func(q url.Values) { q.Set("redirect_uri", "javascript:alert(1)") }, "not an absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := authParams(s, strings.Repeat("v", 43))
			tt.change(q)
			status, _, body := get(t, s.AuthorizationEndpoint()+"?"+q.Encode())
			assert.Equal(t, http.StatusBadRequest, status)
			assert.Contains(t, body, tt.want)
			assert.NotContains(t, body, "<form")

			// The POST is checked the same way: the form cannot be bypassed.
			pr, err := postForm(t, noRedirects(), s.AuthorizationEndpoint()+"?"+q.Encode(), url.Values{"email": {"a@example.com"}})
			require.NoError(t, err)
			require.NoError(t, pr.Body.Close())
			assert.Equal(t, http.StatusBadRequest, pr.StatusCode)
		})
	}
}

func TestLoginRejectsAnInvalidEmailAccessibly(t *testing.T) {
	s := start(t, devidp.Options{})
	u := s.AuthorizationEndpoint() + "?" + authParams(s, strings.Repeat("v", 43)).Encode()
	for _, email := range []string{"", "not-an-email", "a@localhost", "Eve <eve@example.com>"} {
		resp, err := postForm(t, noRedirects(), u, url.Values{"email": {email}})
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, email)
		assert.Contains(t, string(b), `aria-invalid="true" aria-describedby="email-error"`)
		assert.Contains(t, string(b), `<p id="email-error" class="error" role="alert">`)
	}
}

// exchange runs the whole authorization-code flow with x/oauth2 and go-oidc
// and returns the verified ID token's claims.
func signIn(t *testing.T, s *devidp.Server, email string, style oauth2.AuthStyle) map[string]any {
	t.Helper()
	ctx := context.Background()
	op, err := oidc.NewProvider(ctx, s.Issuer())
	require.NoError(t, err)
	ep := op.Endpoint()
	ep.AuthStyle = style
	conf := oauth2.Config{ClientID: s.ClientID(), ClientSecret: s.ClientSecret(), Endpoint: ep, RedirectURL: redirect, Scopes: []string{"openid", "email", "profile"}}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nn"))

	resp, err := postForm(t, noRedirects(), authURL, url.Values{"email": {email}})
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := resp.Location()
	require.NoError(t, err)
	assert.Equal(t, redirect, loc.Scheme+"://"+loc.Host+loc.Path)
	assert.Equal(t, "st", loc.Query().Get("state"))
	code := loc.Query().Get("code")
	require.NotEmpty(t, code)

	_, err = conf.Exchange(ctx, code, oauth2.VerifierOption(strings.Repeat("x", 43)))
	require.Error(t, err, "a wrong PKCE verifier is refused")
	// A refused exchange burns the code (RFC 6749 §4.1.2: use it once), so
	// sign in again for the real exchange.
	resp, err = postForm(t, noRedirects(), authURL, url.Values{"email": {email}})
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	loc, err = resp.Location()
	require.NoError(t, err)
	code = loc.Query().Get("code")

	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	require.NoError(t, err)
	raw, _ := tok.Extra("id_token").(string)
	require.NotEmpty(t, raw)
	idt, err := op.Verifier(&oidc.Config{ClientID: s.ClientID()}).Verify(ctx, raw)
	require.NoError(t, err)
	assert.Equal(t, "nn", idt.Nonce)
	var claims map[string]any
	require.NoError(t, idt.Claims(&claims))

	_, err = conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	assert.Error(t, err, "a code is good once")
	return claims
}

func TestSignInIssuesAVerifiableIDToken(t *testing.T) {
	for _, style := range []struct {
		name  string
		style oauth2.AuthStyle
	}{{"client_secret_basic", oauth2.AuthStyleInHeader}, {"client_secret_post", oauth2.AuthStyleInParams}} {
		t.Run(style.name, func(t *testing.T) {
			s := start(t, devidp.Options{RedirectURIs: []string{redirect}})
			c := signIn(t, s, "Frank@Example.com", style.style)
			assert.Equal(t, "Frank@Example.com", c["email"])
			assert.Equal(t, true, c["email_verified"])
			assert.Equal(t, "Frank", c["name"])
			assert.Regexp(t, `^dev-[0-9a-f]{24}$`, c["sub"])
		})
	}
}

func TestUnverifiedEmailOptionSendsFalseExplicitly(t *testing.T) {
	s := start(t, devidp.Options{UnverifiedEmail: true})
	c := signIn(t, s, "gina@example.com", oauth2.AuthStyleInParams)
	v, present := c["email_verified"]
	assert.True(t, present)
	assert.Equal(t, false, v)
}

func TestTokenRequestMustRepeatTheRedirectURI(t *testing.T) {
	s := start(t, devidp.Options{})
	q := authParams(s, strings.Repeat("v", 43))
	resp, err := postForm(t, noRedirects(), s.AuthorizationEndpoint()+"?"+q.Encode(), url.Values{"email": {"h@example.com"}})
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	loc, err := resp.Location()
	require.NoError(t, err)
	tr, err := postForm(t, http.DefaultClient, s.Issuer()+"/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()},
		"redirect_uri": {"http://127.0.0.1:9999/other"}, "code_verifier": {strings.Repeat("v", 43)},
	})
	require.NoError(t, err)
	b, err := io.ReadAll(tr.Body)
	require.NoError(t, err)
	require.NoError(t, tr.Body.Close())
	assert.Equal(t, http.StatusBadRequest, tr.StatusCode)
	assert.Contains(t, string(b), "invalid_grant")
}

func TestConcurrentLoginsDoNotMixUsers(t *testing.T) {
	s := start(t, devidp.Options{})
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			email := "u" + string(rune('a'+i)) + "@example.com" //nolint:gosec // G115: i counts a handful of users
			c := signIn(t, s, email, oauth2.AuthStyleInParams)
			assert.Equal(t, email, c["email"])
		}()
	}
	wg.Wait()
}

func TestCloseIsIdempotentAndStopsServing(t *testing.T) {
	s, err := devidp.Start(devidp.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.Issuer()+"/.well-known/openid-configuration", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		_ = resp.Body.Close()
	}
	assert.Error(t, err)
}
