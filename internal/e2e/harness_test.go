package e2e

import (
	"context"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/app"
	"github.com/nineminds/alga-mobile-auth/internal/config"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// instance is one running service on loopback.
type instance struct {
	URL string
	App *app.App
}

// handedOut remembers every port freeAddr gave, so two calls never return
// the same one (the kernel may offer a just-closed port again).
var (
	handedOutMu sync.Mutex
	handedOut   = map[string]bool{}
)

// freeAddr reserves a loopback port (closed again before use; fine for
// tests), never one it handed out before in this process.
func freeAddr(t testing.TB) string {
	t.Helper()
	handedOutMu.Lock()
	defer handedOutMu.Unlock()
	for {
		ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		if !handedOut[addr] {
			handedOut[addr] = true
			return addr
		}
	}
}

// baseEnv is a demo-like Enterprise configuration on a fresh SQLite file
// with the development identity provider.
func baseEnv(t testing.TB, addr string) map[string]string {
	return map[string]string{
		"NEXTAUTH_URL":                   "http://" + addr,
		"EDITION":                        "ee",
		"ALGA_TRIAL_STARTED_AT":          time.Now().UTC().Add(-time.Hour).Format(time.RFC3339),
		"ALGA_MOBILE_DATABASE_URL":       "sqlite:" + filepath.Join(t.TempDir(), "e2e.db"),
		"ALGA_MOBILE_LISTEN_ADDR":        addr,
		"ALGA_MOBILE_DEV_IDP":            "true",
		"ALGA_MOBILE_DEV_IDP_ADDR":       freeAddr(t),
		"ALGA_MOBILE_SHUTDOWN_DRAIN_SEC": "1",
		"SECRET_FS_BASE_PATH":            t.TempDir(),
	}
}

// start loads env into the process environment (t.Setenv), opens the app
// and serves it until the test ends.
func start(t *testing.T, env map[string]string) *instance {
	t.Helper()
	for _, k := range []string{"GOOGLE_OAUTH_CLIENT_ID", "GOOGLE_OAUTH_CLIENT_SECRET", "MICROSOFT_OAUTH_CLIENT_ID",
		"MICROSOFT_OAUTH_CLIENT_SECRET", "ALGA_LICENSE", "ALGA_MOBILE_HOST_ALLOWLIST", "ALGA_MOBILE_REDIS_URL",
		"NEXT_PUBLIC_EDITION", "ALGA_MOBILE_TRUSTED_PROXIES", "GOOGLE_OAUTH_ISSUER"} {
		t.Setenv(k, "")
		require.NoError(t, os.Unsetenv(k))
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := config.Load()
	require.NoError(t, err)
	if cfg.DevIDP && !app.DevIDPBuiltIn {
		require.FailNow(t, "these tests sign in through the development identity provider: run them with -tags devidp (make test does)")
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Open(ctx, cfg, app.Options{Version: "e2e"})
	require.NoError(t, err)
	ready := make(chan string, 2)
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, func(addr string) { ready <- addr }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("service did not start")
	}
	t.Cleanup(func() {
		cancel()
		<-done //nolint:errcheck // Serve's verdict after cancel; the test under way has its own
		_ = a.Close()
	})
	return &instance{URL: cfg.Origin(), App: a}
}

// addUser puts an internal user into the directory.
func (in *instance) addUser(t *testing.T, tenant, email string, typ mobileauth.UserType) mobileauth.User {
	t.Helper()
	u := mobileauth.User{TenantID: tenant, ID: "u-" + strings.ReplaceAll(email, "@", "-"), Email: email,
		FirstName: "Test", LastName: "User", Type: typ, Active: true, CreatedAt: time.Now()}
	require.NoError(t, in.App.Store.AddUser(context.Background(), u))
	return u
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so each hop can be inspected.
func browser(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var formAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)

// signIn walks sign-in page → provider → login form → callback and
// returns the final Location (the callbackUrl, or the sign-in page).
func signIn(t *testing.T, c *http.Client, base, callback, email string) *http.Response {
	t.Helper()
	start := base + "/auth/signin/dev"
	if callback != "" {
		start += "?" + url.Values{"callbackUrl": {callback}}.Encode()
	}
	resp := get(t, c, start)
	require.Equal(t, http.StatusFound, resp.StatusCode, "start sign-in")
	authURL := resp.Header.Get("Location")
	// The development provider shows a login form; post the e-mail to it.
	page := get(t, c, authURL)
	require.Equal(t, http.StatusOK, page.StatusCode)
	body := readAll(t, page)
	m := formAction.FindStringSubmatch(body)
	require.NotNil(t, m, "login form on the provider page")
	action, err := url.Parse(htmlUnescape(m[1]))
	require.NoError(t, err)
	target, _ := url.Parse(authURL)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, target.ResolveReference(action).String(),
		strings.NewReader(url.Values{"email": {email}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = c.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode, "provider redirects back")
	cb := resp.Header.Get("Location")
	require.Contains(t, cb, "/api/auth/callback/dev")
	return get(t, c, cb)
}

func get(t testing.TB, c *http.Client, u string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t testing.TB, r *http.Response) string {
	t.Helper()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return sb.String()
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#39;", "'", "&quot;", `"`).Replace(s)
}
