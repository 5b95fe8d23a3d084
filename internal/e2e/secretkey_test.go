package e2e

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// TestSecretKeyKeepsSecretsOutOfTheDatabase: with ALGA_MOBILE_SECRET_KEY
// the whole flow works, the stored signing key is sealed, and no server
// secret is written to the database.
func TestSecretKeyKeepsSecretsOutOfTheDatabase(t *testing.T) {
	env := baseEnv(t, freeAddr(t))
	env["ALGA_MOBILE_SECRET_KEY"] = "e2eQ7Vx2LrN0pW9nB4tK8sD1fH6yJ3mC5gAZe+R/uTo1ic2Xb7hM4kPqS0wYd9aF" // a predictable key is refused (issue 11 item 5)
	in := start(t, env)
	in.addUser(t, tenantA, "sk@example.com", mobileauth.UserInternal)

	c := browser(t)
	handoff := in.URL + "/auth/mobile/handoff?" + url.Values{"redirect": {"alga://auth/callback"}, "state": {"sk"}}.Encode()
	r := signIn(t, c, in.URL, handoff, "sk@example.com")
	require.Equal(t, http.StatusFound, r.StatusCode)
	r = get(t, c, in.URL+r.Header.Get("Location"))
	deep, err := url.Parse(r.Header.Get("Location"))
	require.NoError(t, err)
	resp, ex := postJSON(t, in.URL+"/api/v1/mobile/auth/exchange", map[string]any{"ott": deep.Query().Get("ott"), "state": "sk"})
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", ex)
	resp, rf := postJSON(t, in.URL+"/api/v1/mobile/auth/refresh", map[string]any{"refreshToken": ex["refreshToken"]})
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", rf)
	v := get(t, http.DefaultClient, in.URL+"/api/v1/mobile/auth/verify", "Authorization", "Bearer "+rf["accessToken"].(string))
	assert.Equal(t, http.StatusOK, v.StatusCode)

	db := in.App.Store.DB()
	ctx := context.Background()
	var n int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM server_secrets").Scan(&n))
	assert.Zero(t, n, "server secrets are derived, not stored")
	rows, err := db.QueryContext(ctx, "SELECT private_der FROM signing_keys")
	require.NoError(t, err)
	defer rows.Close()
	keys := 0
	for rows.Next() {
		var der []byte
		require.NoError(t, rows.Scan(&der))
		assert.True(t, bytes.HasPrefix(der, []byte("amk1:")), "private key sealed at rest")
		keys++
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, 1, keys)
}
