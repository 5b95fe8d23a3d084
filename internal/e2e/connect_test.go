package e2e

import (
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/qr"
	"github.com/nineminds/alga-mobile-auth/internal/testenv"
)

var connectPaths = []string{"/api/v1/mobile/connect-qr.png", "/api/v1/mobile/connect-qr.svg", "/mobile/connect"}

// TestConnectQROnlyOnSelfHostLicensing: SPEC §3.8 — served with a trial or
// license, 404 on hosted licensing and on Community Edition.
func TestConnectQROnlyOnSelfHostLicensing(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(env map[string]string)
		status int
	}{
		{"self-host trial", func(map[string]string) {}, http.StatusOK},
		{"hosted licensing", func(env map[string]string) { delete(env, "ALGA_TRIAL_STARTED_AT") }, http.StatusNotFound},
		{"community edition", func(env map[string]string) { env["EDITION"] = "" }, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := baseEnv(t, freeAddr(t))
			tt.edit(env)
			in := start(t, env)
			for _, p := range connectPaths {
				r := get(t, http.DefaultClient, in.URL+p)
				assert.Equal(t, tt.status, r.StatusCode, p)
			}
		})
	}
}

// TestConnectQRDecodesToThePayload reads the served PNG back with zbarimg
// and checks the page carries the store links and the typed address.
func TestConnectQRDecodesToThePayload(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	want := "alga://server?url=" + url.QueryEscape(in.URL)
	assert.Equal(t, want, qr.Payload(in.URL))

	page := readAll(t, get(t, http.DefaultClient, in.URL+"/mobile/connect"))
	assert.Contains(t, page, "https://apps.apple.com/app/id6760326836")
	assert.Contains(t, page, "https://play.google.com/store/apps/details?id=com.alga.psa.mobile")
	assert.Contains(t, page, in.URL)

	r := get(t, http.DefaultClient, in.URL+"/api/v1/mobile/connect-qr.png")
	require.Equal(t, http.StatusOK, r.StatusCode)
	assert.Equal(t, "image/png", r.Header.Get("Content-Type"))
	png := filepath.Join(t.TempDir(), "qr.png")
	require.NoError(t, os.WriteFile(png, []byte(readAll(t, r)), 0o600))
	zbar := testenv.Binary(t, "ALGA_TEST_ZBARIMG", "zbarimg", "/usr/bin/zbarimg")
	out, err := exec.CommandContext(t.Context(), zbar, "--quiet", "--raw", png).Output() //nolint:gosec // G204: zbarimg (ALGA_TEST_ZBARIMG or PATH) on the PNG the test fetched
	require.NoError(t, err)
	assert.Equal(t, want, strings.TrimSpace(string(out)))
	origin, err := qr.ParsePayload(strings.TrimSpace(string(out)))
	require.NoError(t, err, "the app's parser accepts it")
	assert.Equal(t, in.URL, origin)
}
