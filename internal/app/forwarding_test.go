package app

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A proxy missing from ALGA_MOBILE_TRUSTED_PROXIES makes every phone share
// one rate-limit bucket; the service says so, naming the peer, once a minute.
func TestUntrustedForwardingIsLoggedOnceAMinute(t *testing.T) {
	cfg := testConfig(t, filepath.Join(t.TempDir(), "a.db"))
	var log lockedBuffer
	a, err := Open(context.Background(), cfg, Options{LogWriter: &log})
	require.NoError(t, err)
	defer func() { _ = a.Close() }()

	for i := range 3 {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/mobile/auth/capabilities", nil)
		r.RemoteAddr = "172.18.0.1:4000" + string(rune('0'+i))
		r.Header.Set("X-Forwarded-For", "198.51.100.7")
		w := httptest.NewRecorder()
		a.Handler().ServeHTTP(w, r)
		assert.Equal(t, http.StatusOK, w.Code)
	}
	out := log.String()
	assert.Equal(t, 1, strings.Count(out, "forwarding headers from a peer that is not a trusted proxy are ignored"), out)
	assert.Contains(t, out, `"peer":"172.18.0.1"`)
	assert.Contains(t, out, "add 172.18.0.1 (the address the proxy connects from) to ALGA_MOBILE_TRUSTED_PROXIES")

	// From loopback (trusted by default) nothing is said.
	r := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	r.RemoteAddr = "127.0.0.1:5000"
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	a.Handler().ServeHTTP(httptest.NewRecorder(), r)
	assert.Equal(t, 1, strings.Count(log.String(), "not a trusted proxy"))
}
