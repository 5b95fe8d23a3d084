package e2e

// nginx for real (issue 5): deploy/proxy/nginx.conf, rendered with loopback
// ports, runs in front of the service and a stub "web app". The tests check
// the routing, the forwarded headers as the service sees them (rate limiter
// and audit trail), and the forward-auth example location.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/testenv"
)

// ngConfPath is the shipped configuration, relative to this package.
const ngConfPath = "../../deploy/proxy/nginx.conf"

// ngDevCallback routes the development provider's sign-in start and OAuth
// callback to the sidecar. The shipped file routes only the production
// providers' (google, azure-ad); the tests sign in through the development
// provider, so the rendered copy gets these two extra exact locations, next
// to their siblings.
const ngDevCallback = "location = /auth/signin/dev {\n            proxy_pass http://alga_mobile_auth;\n        }\n        " +
	"location = /api/auth/callback/dev {\n            proxy_pass http://alga_mobile_auth;\n        }\n        "

// ngSeen is what the stub web app received in one request.
type ngSeen struct {
	Path   string
	Header http.Header
}

// ngWebApp is the stub "AlgaPSA web app" behind nginx: it records every
// request and answers with a marker header the service never sets.
type ngWebApp struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []ngSeen
}

func ngStartWebApp(t *testing.T) *ngWebApp {
	t.Helper()
	w := &ngWebApp{}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.seen = append(w.seen, ngSeen{Path: r.URL.Path, Header: r.Header.Clone()})
		w.mu.Unlock()
		rw.Header().Set("X-Stub", "web-app")
		_, _ = io.WriteString(rw, "web app: "+r.URL.Path) //nolint:gosec // G705: a text/plain stub answer, never rendered
	}))
	t.Cleanup(w.srv.Close)
	return w
}

// last returns the latest request the stub saw for path.
func (w *ngWebApp) last(path string) (ngSeen, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := len(w.seen) - 1; i >= 0; i-- {
		if w.seen[i].Path == path {
			return w.seen[i], true
		}
	}
	return ngSeen{}, false
}

// count is how many requests for path reached the stub.
func (w *ngWebApp) count(path string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, s := range w.seen {
		if s.Path == path {
			n++
		}
	}
	return n
}

// ngStack is nginx (its origin is NEXTAUTH_URL) in front of the service
// and the stub web app.
type ngStack struct {
	URL string
	svc *instance
	web *ngWebApp
}

// ngStart brings up the stub, the service (trusting only loopback as a
// proxy, as a one-host install would) and nginx.
func ngStart(t *testing.T) *ngStack {
	t.Helper()
	bin := testenv.Binary(t, "ALGA_TEST_NGINX", "nginx", "/usr/sbin/nginx")
	web := ngStartWebApp(t)
	proxyAddr, svcAddr := freeAddr(t), freeAddr(t)
	env := baseEnv(t, svcAddr)
	env["NEXTAUTH_URL"] = "http://" + proxyAddr
	env["ALGA_MOBILE_TRUSTED_PROXIES"] = "127.0.0.1/32"
	svc := start(t, env)
	ngRun(t, bin, ngRender(t, proxyAddr, svcAddr, web.srv.Listener.Addr().String()), proxyAddr)
	return &ngStack{URL: "http://" + proxyAddr, svc: svc, web: web}
}

// ngRender fills the placeholders of the shipped standalone file, adds the
// development provider's locations and writes it into a fresh prefix
// directory; it returns the file's path.
func ngRender(t *testing.T, listen, sidecar, webapp string) string {
	t.Helper()
	return ngRenderFile(t, ngConfPath, listen, sidecar, webapp, func(conf string) string {
		anchor := "location = /api/auth/callback/google {"
		require.Contains(t, conf, anchor)
		return strings.Replace(conf, anchor, ngDevCallback+anchor, 1)
	})
}

// ngRenderFile fills the four documented placeholders of the nginx
// configuration at rel, applies edit (if any) and writes the result into a
// fresh prefix directory; it returns the file's path.
func ngRenderFile(t *testing.T, rel, listen, sidecar, webapp string, edit func(string) string) string {
	t.Helper()
	raw, err := os.ReadFile(rel) //nolint:gosec // G304: a configuration file of the repository
	require.NoError(t, err)
	conf := string(raw)
	for _, p := range []string{"{{LISTEN}}", "{{SIDECAR}}", "{{WEBAPP}}", "{{PREFIX}}"} {
		require.Contains(t, conf, p, "placeholder documented in the file's header")
	}
	prefix := t.TempDir()
	conf = strings.NewReplacer("{{LISTEN}}", listen, "{{SIDECAR}}", sidecar, "{{WEBAPP}}", webapp, "{{PREFIX}}", prefix).Replace(conf)
	require.NotContains(t, conf, "{{", "every placeholder is one of the four documented")
	if edit != nil {
		conf = edit(conf)
	}
	path := filepath.Join(prefix, "nginx.conf")
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o600)) //nolint:gosec // G703: a file in the test's temporary directory
	return path
}

var ngUserDirective = regexp.MustCompile(`(?m)^\s*user\s`)

// ngRun checks the configuration with `nginx -t`, starts nginx in the
// foreground and stops it (SIGQUIT, then SIGKILL) when the test ends.
func ngRun(t *testing.T, bin, conf, listen string) {
	t.Helper()
	prefix := filepath.Dir(conf)
	raw, err := os.ReadFile(conf) //nolint:gosec // G304: the configuration the test just rendered
	require.NoError(t, err)
	global := "daemon off;"
	// As root the master would switch its workers to the compiled-in user,
	// who cannot enter the test's private temporary directory.
	if os.Geteuid() == 0 && !ngUserDirective.Match(raw) {
		global += " user root;"
	}
	// -e: the startup error log, before the file's own error_log applies.
	args := []string{"-p", prefix, "-e", filepath.Join(prefix, "startup.log"), "-c", conf, "-g", global}
	out, err := exec.CommandContext(t.Context(), bin, append([]string{"-t"}, args...)...).CombinedOutput() //nolint:gosec // G204: nginx (ALGA_TEST_NGINX or PATH) -t on the test's own configuration
	require.NoError(t, err, "nginx -t:\n%s", out)

	var stderr bytes.Buffer
	cmd := exec.Command(bin, args...) //nolint:gosec,noctx // G204: nginx on the test's own configuration; it outlives this call and the cleanup below stops it with SIGQUIT
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited: //nolint:errcheck // nginx's exit status after our SIGQUIT tells nothing
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited //nolint:errcheck // killed: its exit status is ours
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(prefix, "error.log")) //nolint:gosec // G304: nginx's error log in the test's prefix directory
			t.Logf("nginx output:\n%s\nerror.log:\n%s", stderr.String(), log)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("nginx exited at startup: %v\n%s", err, stderr.String())
		default:
		}
		if c, err := (&net.Dialer{Timeout: 200 * time.Millisecond}).DialContext(t.Context(), "tcp", listen); err == nil {
			_ = c.Close()
			return
		}
		require.True(t, time.Now().Before(deadline), "nginx did not listen on %s", listen)
		time.Sleep(20 * time.Millisecond) // polling for readiness, not timing logic
	}
}

// ngPostJSON posts body with extra header pairs and decodes the JSON answer.
func ngPostJSON(t *testing.T, u string, body any, hdr ...string) (*http.Response, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

// ngTokens signs email in through nginx (sign-in page, provider, callback,
// handoff, exchange) and returns the access and refresh tokens. hdr is
// sent on the handoff and the exchange.
func ngTokens(t *testing.T, st *ngStack, email string, hdr ...string) (access, refresh string) {
	t.Helper()
	c := browser(t)
	handoff := st.URL + "/auth/mobile/handoff?" + url.Values{"redirect": {"alga://auth/callback"}, "state": {"ng-state"}}.Encode()
	r := signIn(t, c, st.URL, handoff, email)
	require.Equal(t, http.StatusFound, r.StatusCode, "callback through nginx signs in")
	loc := r.Header.Get("Location")
	require.True(t, strings.HasPrefix(loc, "/auth/mobile/handoff?"), "back to the handoff: %q", loc)
	r = get(t, c, st.URL+loc, hdr...)
	require.Equal(t, http.StatusFound, r.StatusCode)
	deep, err := url.Parse(r.Header.Get("Location"))
	require.NoError(t, err)
	ott := deep.Query().Get("ott")
	require.NotEmpty(t, ott, "deep link %s", deep)
	resp, ex := ngPostJSON(t, st.URL+"/api/v1/mobile/auth/exchange", map[string]any{"ott": ott, "state": "ng-state"}, hdr...)
	require.Equal(t, http.StatusOK, resp.StatusCode, "exchange through nginx: %v", ex)
	access, _ = ex["accessToken"].(string)
	refresh, _ = ex["refreshToken"].(string)
	require.NotEmpty(t, access)
	require.NotEmpty(t, refresh)
	return access, refresh
}

// ngResign re-signs an access token's header and (edited) claims with key:
// with the service's own key this forges nothing the test could not do
// with the database, and it makes an expired token without waiting.
func ngResign(t *testing.T, tok string, key ed25519.PrivateKey, edit func(claims map[string]any)) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, json.Unmarshal(raw, &claims))
	edit(claims)
	raw, err = json.Marshal(claims)
	require.NoError(t, err)
	input := parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw)
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, []byte(input)))
}

// ngSigningKey is the service's private key that signed tok.
func ngSigningKey(t *testing.T, st *ngStack, tok string) ed25519.PrivateKey {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	require.NoError(t, err)
	var hdr struct{ Kid string }
	require.NoError(t, json.Unmarshal(raw, &hdr))
	keys, err := st.svc.App.Store.ListSigningKeys(context.Background())
	require.NoError(t, err)
	for _, k := range keys {
		if k.KID == hdr.Kid {
			priv, err := x509.ParsePKCS8PrivateKey(k.PrivateDER)
			require.NoError(t, err)
			ed, ok := priv.(ed25519.PrivateKey)
			require.True(t, ok, "EdDSA key")
			return ed
		}
	}
	t.Fatalf("no signing key %q in the store", hdr.Kid)
	return nil
}

func TestNginxRoutesMobilePathsToTheServiceAndTheRestToTheWebApp(t *testing.T) {
	st := ngStart(t)
	c := browser(t)
	toService := []struct {
		path   string
		status int    // 0: any non-5xx answer of the service
		body   string // a fragment only the service's answer has
	}{
		{"/api/v1/mobile/auth/capabilities", http.StatusOK, `"providers"`},
		{"/auth/signin", http.StatusOK, "<html"},
		{"/auth/mobile/handoff", http.StatusFound, ""},
		{"/api/auth/callback/google", 0, ""},
		{"/api/auth/callback/azure-ad", 0, ""},
		{"/.well-known/jwks.json", http.StatusOK, `"keys"`},
		{"/mobile/connect", http.StatusOK, "/api/v1/mobile/connect-qr.svg"},
		{"/api/v1/mobile/connect-qr.png", http.StatusOK, "\x89PNG"},
		{"/api/v1/mobile/connect-qr.svg", http.StatusOK, "<svg"},
	}
	for _, tc := range toService {
		t.Run("service "+tc.path, func(t *testing.T) {
			resp := get(t, c, st.URL+tc.path, "X-Correlation-Id", "ng-route-check")
			body := readAll(t, resp)
			// The service echoes a sane correlation id; the stub never does.
			assert.Equal(t, "ng-route-check", resp.Header.Get("X-Correlation-Id"))
			assert.Empty(t, resp.Header.Get("X-Stub"))
			assert.Zero(t, st.web.count(tc.path), "the web app saw nothing")
			if tc.status != 0 {
				assert.Equal(t, tc.status, resp.StatusCode)
			} else {
				assert.Less(t, resp.StatusCode, 500)
			}
			assert.Contains(t, body, tc.body)
		})
	}
	// Every path of the single list (proxy_routes_test.go) reaches the service.
	for _, path := range pxSamplePaths(pxStandaloneRoutes) {
		t.Run("service (list) "+path, func(t *testing.T) {
			resp := get(t, c, st.URL+path, "X-Correlation-Id", "ng-route-list")
			assert.Equal(t, "ng-route-list", resp.Header.Get("X-Correlation-Id"))
			assert.Empty(t, resp.Header.Get("X-Stub"))
			assert.Less(t, resp.StatusCode, 500)
			assert.Zero(t, st.web.count(path), "the web app saw nothing")
		})
	}
	t.Run("the connect page names the nginx origin", func(t *testing.T) {
		assert.Contains(t, readAll(t, get(t, c, st.URL+"/mobile/connect")), "<code>"+st.URL+"</code>")
	})
	// /healthz, /readyz and /metrics are deliberately not routed (see the
	// file's header): they fall through to the web app like any other path.
	// AlgaPSA's own /api/v1/mobile/... routes included (SPEC §8.6).
	for _, path := range pxWebAppPaths {
		t.Run("web app "+path, func(t *testing.T) {
			resp := get(t, c, st.URL+path)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "web app: "+path, readAll(t, resp))
			assert.Equal(t, "web-app", resp.Header.Get("X-Stub"))
			assert.Empty(t, resp.Header.Get("X-Correlation-Id"))
			assert.Equal(t, 1, st.web.count(path))
		})
	}
	t.Run("forwarded headers and no client-chosen identity reach the web app", func(t *testing.T) {
		get(t, c, st.URL+"/msp/tickets", "X-Forwarded-For", "203.0.113.7", "X-Alga-User-Id", "admin", "X-Alga-Tenant-Id", "other")
		seen, ok := st.web.last("/msp/tickets")
		require.True(t, ok)
		assert.Equal(t, "203.0.113.7, 127.0.0.1", seen.Header.Get("X-Forwarded-For"), "nginx appends the peer")
		assert.Equal(t, "http", seen.Header.Get("X-Forwarded-Proto"))
		assert.Equal(t, "127.0.0.1", seen.Header.Get("X-Forwarded-Host"))
		assert.Empty(t, seen.Header.Values("X-Alga-User-Id"))
		assert.Empty(t, seen.Header.Values("X-Alga-Tenant-Id"))
	})
}

func TestNginxPassesTheRealClientAddressToTheService(t *testing.T) {
	st := ngStart(t)
	exchange := func(xff string) (*http.Response, map[string]any) {
		return ngPostJSON(t, st.URL+"/api/v1/mobile/auth/exchange", map[string]any{"ott": "no-such-ott", "state": "s"},
			"X-Forwarded-For", xff)
	}
	// 10 per minute per client IP before the lookup (SPEC §3.4).
	for i := 0; i < 10; i++ {
		resp, body := exchange("203.0.113.7")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "attempt %d: %v", i+1, body)
	}
	resp, body := exchange("203.0.113.7")
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "the 11th from one client is limited: %v", body)
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
	resp, body = exchange("203.0.113.8")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "another client behind the same nginx is not: %v", body)

	// The audit trail records the client, not nginx.
	in := st.svc
	in.addUser(t, tenantA, "tech@example.com", mobileauth.UserInternal)
	ngTokens(t, st, "tech@example.com", "X-Forwarded-For", "198.51.100.23", "X-Correlation-Id", "ng-audit-1")
	events, err := in.App.AuditLog().ListAudit(context.Background(), mobileauth.AuditFilter{TenantID: tenantA})
	require.NoError(t, err)
	got := map[string]mobileauth.AuditEvent{}
	for _, e := range events {
		got[e.Operation] = e
	}
	for _, op := range []string{mobileauth.AuditOTTIssued, mobileauth.AuditExchange} {
		require.Contains(t, got, op)
		assert.Equal(t, "198.51.100.23", got[op].ClientIP, op)
		assert.Equal(t, "ng-audit-1", got[op].CorrelationID, op)
	}
}

func TestNginxForwardAuthAdmitsOnlyValidAccessTokens(t *testing.T) {
	st := ngStart(t)
	u := st.svc.addUser(t, tenantA, "tech@example.com", mobileauth.UserInternal)
	access, refresh := ngTokens(t, st, "tech@example.com")
	key := ngSigningKey(t, st, access)
	const path = "/api/protected-example/tickets"
	c := browser(t)

	admitted := func(t *testing.T, hdr ...string) {
		t.Helper()
		before := st.web.count(path)
		resp := get(t, c, st.URL+path, hdr...)
		require.Equal(t, http.StatusOK, resp.StatusCode, readAll(t, resp))
		assert.Equal(t, "web-app", resp.Header.Get("X-Stub"))
		require.Equal(t, before+1, st.web.count(path))
		seen, _ := st.web.last(path)
		assert.Equal(t, u.ID, seen.Header.Get("X-Alga-User-Id"))
		assert.Equal(t, tenantA, seen.Header.Get("X-Alga-Tenant-Id"))
		assert.Equal(t, "tech@example.com", seen.Header.Get("X-Alga-User-Email"))
		assert.NotEmpty(t, seen.Header.Get("X-Alga-Session-Id"))
	}
	refused := func(t *testing.T, presented bool, hdr ...string) {
		t.Helper()
		before := st.web.count(path)
		resp := get(t, c, st.URL+path, hdr...)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		var e struct{ Error struct{ Code string } }
		require.NoError(t, json.Unmarshal([]byte(readAll(t, resp)), &e))
		assert.Equal(t, "UNAUTHORIZED", e.Error.Code, "the contract's error shape")
		challenge := resp.Header.Get("WWW-Authenticate")
		assert.True(t, strings.HasPrefix(challenge, "Bearer"), "challenge %q", challenge)
		if presented {
			assert.Contains(t, challenge, `error="invalid_token"`)
		}
		assert.Equal(t, before, st.web.count(path), "the web app saw nothing")
	}

	t.Run("a valid bearer token is admitted with the identity headers, not the client's", func(t *testing.T) {
		admitted(t, "Authorization", "Bearer "+access, "X-Alga-User-Id", "admin", "X-Alga-Tenant-Id", "other")
	})
	t.Run("a valid token in x-api-key is admitted", func(t *testing.T) {
		admitted(t, "X-Api-Key", access)
	})
	t.Run("the same claims re-signed with the service's key are admitted", func(t *testing.T) {
		// Control for the expired case below: re-signing alone changes nothing.
		admitted(t, "Authorization", "Bearer "+ngResign(t, access, key, func(m map[string]any) { m["jti"] = "ng-control" }))
	})
	t.Run("no token is refused", func(t *testing.T) {
		refused(t, false)
	})
	t.Run("a malformed token is refused", func(t *testing.T) {
		refused(t, true, "Authorization", "Bearer not-a-jwt")
	})
	t.Run("an expired token is refused", func(t *testing.T) {
		now := time.Now()
		expired := ngResign(t, access, key, func(m map[string]any) {
			m["jti"] = "ng-expired"
			m["iat"] = now.Add(-20 * time.Minute).Unix()
			m["exp"] = now.Add(-5 * time.Minute).Unix()
		})
		refused(t, true, "Authorization", "Bearer "+expired)
	})
	t.Run("a token signed by a foreign key is refused", func(t *testing.T) {
		_, foreign, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		refused(t, true, "Authorization", "Bearer "+ngResign(t, access, foreign, func(map[string]any) {}))
	})
	t.Run("a revoked session is refused at once", func(t *testing.T) {
		resp, body := ngPostJSON(t, st.URL+"/api/v1/mobile/auth/revoke", map[string]any{"refreshToken": refresh})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, map[string]any{"ok": true}, body)
		refused(t, true, "Authorization", "Bearer "+access)
		refused(t, true, "X-Api-Key", access)
	})
}
