package e2e

// deploy/proxy/appliance/nginx.conf for real: a stub AlgaPSA web app and a
// stub sidecar on loopback behind nginx. Each sidecar path of SPEC §8.6
// reaches the sidecar; the web app's sign-in, Auth.js routes, its own
// /api/v1/mobile/... routes and its REST API reach the web app.

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/testenv"
)

const pxApplianceNginx = "../../deploy/proxy/appliance/nginx.conf"

// pxStub records the paths it served and marks its answers.
type pxStub struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen map[string]http.Header
}

func pxStartStub(t *testing.T, name string) *pxStub {
	t.Helper()
	s := &pxStub{seen: map[string]http.Header{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.seen[r.URL.Path] = r.Header.Clone()
		s.mu.Unlock()
		w.Header().Set("X-Stub", name)
		_, _ = io.WriteString(w, name+": "+r.URL.Path) //nolint:gosec // G705: a text/plain stub answer, never rendered
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *pxStub) saw(path string) (http.Header, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.seen[path]
	return h, ok
}

func TestApplianceNginxRoutesOnlySpecPathsToTheSidecar(t *testing.T) {
	bin := testenv.Binary(t, "ALGA_TEST_NGINX", "nginx", "/usr/sbin/nginx")
	web, sidecar := pxStartStub(t, "web-app"), pxStartStub(t, "sidecar")
	listen := freeAddr(t)
	conf := ngRenderFile(t, pxApplianceNginx, listen, sidecar.srv.Listener.Addr().String(), web.srv.Listener.Addr().String(), nil)
	ngRun(t, bin, conf, listen)
	base := "http://" + listen
	c := browser(t)

	for _, path := range pxSamplePaths(pxApplianceRoutes) {
		t.Run("sidecar "+path, func(t *testing.T) {
			resp := get(t, c, base+path+"?redirect=alga%3A%2F%2Fauth%2Fcallback&state=s")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "sidecar", resp.Header.Get("X-Stub"))
			assert.Equal(t, "sidecar: "+path, readAll(t, resp))
			_, onWeb := web.saw(path)
			assert.False(t, onWeb, "the web app saw nothing")
		})
	}
	for _, path := range pxApplianceWebAppPaths {
		t.Run("web app "+path, func(t *testing.T) {
			resp := get(t, c, base+path)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "web-app", resp.Header.Get("X-Stub"))
			assert.Equal(t, "web-app: "+path, readAll(t, resp))
			_, onSidecar := sidecar.saw(path)
			assert.False(t, onSidecar, "the sidecar saw nothing")
		})
	}
	t.Run("both see the public host and the client's address", func(t *testing.T) {
		get(t, c, base+"/auth/mobile/handoff", "X-Forwarded-For", "203.0.113.7", "Cookie", "__Secure-authjs.session-token=x")
		h, ok := sidecar.saw("/auth/mobile/handoff")
		require.True(t, ok)
		assert.Equal(t, "203.0.113.7, 127.0.0.1", h.Get("X-Forwarded-For"), "nginx appends the peer")
		assert.Equal(t, "127.0.0.1", h.Get("X-Forwarded-Host"))
		assert.Equal(t, "http", h.Get("X-Forwarded-Proto"))
		assert.Equal(t, "__Secure-authjs.session-token=x", h.Get("Cookie"), "the web app's session cookie reaches the hand-off")
		get(t, c, base+"/api/auth/session", "X-Forwarded-For", "203.0.113.8")
		h, ok = web.saw("/api/auth/session")
		require.True(t, ok)
		assert.Equal(t, "203.0.113.8, 127.0.0.1", h.Get("X-Forwarded-For"))
	})
}
