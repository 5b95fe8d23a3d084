package sso_test

import (
	"context"
	"crypto/rand"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/devidp"
	"github.com/nineminds/alga-mobile-auth/internal/sso"
	"github.com/nineminds/alga-mobile-auth/internal/testclock"
)

const origin = "http://127.0.0.1:8080"

func startDevIdP(t *testing.T, o devidp.Options) *devidp.Server {
	t.Helper()
	s, err := devidp.Start(o)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so each hop can be inspected.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

var formAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)

// signInAtProvider loads the provider's login page like a browser, fills
// in the e-mail, submits, and returns the redirect back to our callback.
func signInAtProvider(t *testing.T, c *http.Client, authURL, email string) *url.URL {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, authURL, nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Contains(t, string(body), "Sign in as")
	m := formAction.FindStringSubmatch(string(body))
	require.NotNil(t, m, "login form present")
	action, err := url.Parse(authURL)
	require.NoError(t, err)
	action, err = action.Parse(html.UnescapeString(m[1]))
	require.NoError(t, err)

	req, err = http.NewRequestWithContext(t.Context(), http.MethodPost, action.String(), strings.NewReader(url.Values{"email": {email}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = c.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := resp.Location()
	require.NoError(t, err)
	return loc
}

// providerFor wires one provider of kind id to the dev IdP.
func providerFor(t *testing.T, id sso.ID, idp *devidp.Server, tenant string) *sso.Provider {
	t.Helper()
	cs := sso.ClientSettings{ClientID: idp.ClientID(), ClientSecret: idp.ClientSecret(), Issuer: idp.Issuer()}
	s := sso.Settings{PublicOrigin: origin, MicrosoftTenant: tenant}
	switch id {
	case sso.Google:
		s.Google = cs
	case sso.Microsoft:
		s.Microsoft = cs
	case sso.Dev:
		s.Dev = &cs
	}
	ps := sso.NewProviders(s)
	require.Len(t, ps, 1)
	return ps[0]
}

// The whole round trip over real HTTP on loopback: AuthCodeURL → login form
// at the provider → redirect with code → state check → Finish.
func TestSignInAgainstTheDevProvider(t *testing.T) {
	tests := []struct {
		name   string
		id     sso.ID
		tenant string
	}{
		{"dev provider", sso.Dev, ""},
		{"as Google (issuer override)", sso.Google, ""},
		{"as Microsoft with a specific tenant (authority override)", sso.Microsoft, "72f988bf-86f1-41af-91ab-2d7cd011db47"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp := startDevIdP(t, devidp.Options{RedirectURIs: []string{origin + "/api/auth/callback/" + string(tt.id)}})
			p := providerFor(t, tt.id, idp, tt.tenant)
			ctx := context.Background()
			fl, err := sso.NewFlow(rand.Reader, tt.id, origin+"/auth/mobile/handoff", time.Now(), 10*time.Minute)
			require.NoError(t, err)
			authURL, err := p.AuthCodeURL(ctx, fl)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(authURL, idp.AuthorizationEndpoint()+"?"))

			back := signInAtProvider(t, browser(t), authURL, "Dana.Dev@Example.com")
			assert.Equal(t, p.CallbackURL(), back.Scheme+"://"+back.Host+back.Path)
			require.NoError(t, fl.CheckState(back.Query().Get("state")))

			id, err := p.Finish(ctx, fl, back.Query().Get("code"))
			require.NoError(t, err)
			assert.Equal(t, "dana.dev@example.com", id.Email)
			assert.Equal(t, tt.id, id.Provider)
			assert.Equal(t, idp.Issuer(), id.Issuer)
			assert.NotEmpty(t, id.Subject)
			assert.Equal(t, "Dana.Dev", id.Name)

			_, err = p.Finish(ctx, fl, back.Query().Get("code"))
			assert.ErrorIs(t, err, sso.ErrExchange, "a code is good once")
		})
	}
}

func TestDevProviderRefusals(t *testing.T) {
	ctx := context.Background()
	start := func(t *testing.T, o devidp.Options) (*sso.Provider, sso.Flow, *url.URL) {
		idp := startDevIdP(t, o)
		p := providerFor(t, sso.Dev, idp, "")
		fl, err := sso.NewFlow(rand.Reader, sso.Dev, "", time.Now(), 10*time.Minute)
		require.NoError(t, err)
		authURL, err := p.AuthCodeURL(ctx, fl)
		require.NoError(t, err)
		return p, fl, signInAtProvider(t, browser(t), authURL, "erin@example.com")
	}
	t.Run("unverified e-mail", func(t *testing.T) {
		p, fl, back := start(t, devidp.Options{UnverifiedEmail: true})
		_, err := p.Finish(ctx, fl, back.Query().Get("code"))
		assert.ErrorIs(t, err, sso.ErrEmailNotVerified)
	})
	t.Run("nonce of another flow", func(t *testing.T) {
		p, fl, back := start(t, devidp.Options{})
		other := fl
		other.Nonce = "another-flow's-nonce"
		_, err := p.Finish(ctx, other, back.Query().Get("code"))
		assert.ErrorIs(t, err, sso.ErrNonceMismatch)
	})
	t.Run("PKCE verifier of another flow", func(t *testing.T) {
		p, fl, back := start(t, devidp.Options{})
		other := fl
		other.Verifier = strings.Repeat("A", 43)
		_, err := p.Finish(ctx, other, back.Query().Get("code"))
		assert.ErrorIs(t, err, sso.ErrExchange)
	})
	t.Run("state of another flow", func(t *testing.T) {
		_, fl, back := start(t, devidp.Options{})
		assert.NoError(t, fl.CheckState(back.Query().Get("state")))
		other, err := sso.NewFlow(rand.Reader, sso.Dev, "", time.Now(), time.Minute)
		require.NoError(t, err)
		assert.ErrorIs(t, other.CheckState(back.Query().Get("state")), sso.ErrStateMismatch)
	})
}

func TestConcurrentSignInsGetTheirOwnIdentity(t *testing.T) {
	idp := startDevIdP(t, devidp.Options{})
	p := providerFor(t, sso.Dev, idp, "")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			email := "user" + string(rune('a'+i)) + "@example.com" //nolint:gosec // G115: i counts a handful of users
			fl, err := sso.NewFlow(rand.Reader, sso.Dev, "", time.Now(), time.Minute)
			if !assert.NoError(t, err) {
				return
			}
			authURL, err := p.AuthCodeURL(context.Background(), fl)
			if !assert.NoError(t, err) {
				return
			}
			back := signInAtProvider(t, browser(t), authURL, email)
			id, err := p.Finish(context.Background(), fl, back.Query().Get("code"))
			if assert.NoError(t, err) {
				assert.Equal(t, email, id.Email)
			}
		}()
	}
	wg.Wait()
}

// clock is a settable time source.
type clock = testclock.Clock

func newClock(t time.Time) *clock { return testclock.New(t) }

// freeLoopbackAddr reserves a port and releases it for the provider that
// will come up later.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// The service starts while the provider is down; the first sign-in fails
// with ErrDiscovery and the failure is remembered for the retry delay; once
// that has passed and the provider is up, the next one succeeds, and the
// discovery is then cached for good.
func TestLazyDiscoveryRetriesUntilTheProviderIsUp(t *testing.T) {
	addr := freeLoopbackAddr(t)
	const id, secret = "lazy-client", "lazy-secret"
	clock := newClock(time.Now())
	ps := sso.NewProviders(sso.Settings{
		PublicOrigin:        origin,
		Dev:                 &sso.ClientSettings{ClientID: id, ClientSecret: secret, Issuer: "http://" + addr + "/oidc"},
		DiscoveryTimeout:    2 * time.Second,
		DiscoveryRetryDelay: 5 * time.Second,
		Now:                 clock.Now,
	})
	require.Len(t, ps, 1, "building providers does no I/O")
	p := ps[0]
	ctx := context.Background()
	fl, err := sso.NewFlow(rand.Reader, sso.Dev, "", time.Now(), time.Minute)
	require.NoError(t, err)

	_, err = p.AuthCodeURL(ctx, fl)
	require.ErrorIs(t, err, sso.ErrDiscovery)

	idp, err := devidp.Start(devidp.Options{Addr: addr, ClientID: id, ClientSecret: secret})
	require.NoError(t, err)
	clock.Advance(4 * time.Second)
	require.ErrorIs(t, p.Discover(ctx), sso.ErrDiscovery, "within the retry delay the failure answers from memory")
	clock.Advance(time.Second)
	authURL, err := p.AuthCodeURL(ctx, fl)
	require.NoError(t, err, "after the retry delay discovery is tried again")
	back := signInAtProvider(t, browser(t), authURL, "late@example.com")
	got, err := p.Finish(ctx, fl, back.Query().Get("code"))
	require.NoError(t, err)
	assert.Equal(t, "late@example.com", got.Email)

	require.NoError(t, idp.Close())
	_, err = p.AuthCodeURL(ctx, fl)
	assert.NoError(t, err, "a successful discovery is cached")
}

// A hung provider costs one timeout, not one per waiting sign-in.
func TestDiscoveryIsBoundedByItsTimeout(t *testing.T) {
	release := make(chan struct{})
	var hits atomic.Int32
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { close(release); _ = srv.Close() })

	ps := sso.NewProviders(sso.Settings{
		PublicOrigin:     origin,
		Google:           sso.ClientSettings{ClientID: "a", ClientSecret: "b", Issuer: "http://" + ln.Addr().String()},
		DiscoveryTimeout: 100 * time.Millisecond,
	})
	require.Len(t, ps, 1)
	begin := time.Now()
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.ErrorIs(t, ps[0].Discover(context.Background()), sso.ErrDiscovery)
		}()
	}
	wg.Wait()
	assert.Less(t, time.Since(begin), 5*time.Second)
	assert.Equal(t, int32(1), hits.Load(), "one attempt served every waiter")
}
