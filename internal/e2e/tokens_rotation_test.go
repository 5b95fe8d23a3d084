package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// tkTokens is the string pair the app holds.
type tkTokens struct{ Access, Refresh string }

// tkRotate refreshes and requires a 200.
func tkRotate(t *testing.T, base, refresh string) tkTokens {
	t.Helper()
	r := tkRefresh(t, base, refresh)
	require.Equal(t, http.StatusOK, r.Status, "refresh: %s", r.Body)
	m := r.JSON(t)
	return tkTokens{Access: m["accessToken"].(string), Refresh: m["refreshToken"].(string)}
}

// tkAssertDead checks that an access token fails forward-auth and a
// refresh token fails refresh.
func tkAssertDead(t *testing.T, base string, tok tkTokens, what string) {
	t.Helper()
	if tok.Access != "" {
		r := tkVerify(t, base, tok.Access)
		tkAssertError(t, r, http.StatusUnauthorized, mobileauth.CodeUnauthorized)
		assert.Equal(t, `Bearer realm="alga-mobile", error="invalid_token"`, r.Header.Get("WWW-Authenticate"), what)
	}
	if tok.Refresh != "" {
		tkAssertError(t, tkRefresh(t, base, tok.Refresh), http.StatusUnauthorized, mobileauth.CodeUnauthorized)
	}
}

// tkReuseAudit returns the reasons of the user's refresh-reuse events.
func tkReuseAudit(t *testing.T, in *instance, userID string) []string {
	t.Helper()
	events, err := in.App.AuditLog().ListAudit(context.Background(), mobileauth.AuditFilter{TenantID: tenantA, UserID: userID, Limit: 100})
	require.NoError(t, err)
	var reasons []string
	for _, e := range events {
		if e.Operation == mobileauth.AuditRefreshReuse {
			reasons = append(reasons, e.Details["reason"])
		}
	}
	return reasons
}

// TestRefreshGraceReplayThenTheftAfterSuccessorUse: a replay inside the
// grace period (default 10 s) gets the same successor; once the successor
// has been used, the same replay is theft and ends the whole family.
func TestRefreshGraceReplayThenTheftAfterSuccessorUse(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	u := tkUser(t, in, "grace@example.com")
	ex := tkExchange(t, in, tkOTT(t, in, "grace@example.com", "st"), "st")
	t0 := tkTokens{Access: ex.AccessToken, Refresh: ex.RefreshToken}

	t1 := tkRotate(t, in.URL, t0.Refresh)
	replay := tkRotate(t, in.URL, t0.Refresh)
	assert.Equal(t, t1.Refresh, replay.Refresh, "the retried refresh gets the same successor")
	assert.NotEqual(t, t1.Access, replay.Access, "and a fresh access token")
	for _, a := range []string{t0.Access, t1.Access, replay.Access} {
		assert.Equal(t, http.StatusOK, tkVerify(t, in.URL, a).Status)
	}
	assert.Empty(t, tkReuseAudit(t, in, u.ID), "a grace replay is not theft")

	t2 := tkRotate(t, in.URL, t1.Refresh)
	assert.NotEqual(t, t1.Refresh, t2.Refresh)
	t3 := tkRotate(t, in.URL, t2.Refresh)

	// The successor of t0 has been used: presenting t0 now is theft.
	r := tkRefresh(t, in.URL, t0.Refresh)
	tkAssertError(t, r, http.StatusUnauthorized, mobileauth.CodeUnauthorized)
	for name, tok := range map[string]tkTokens{"t0": t0, "t1": t1, "replay": replay, "t2": t2, "t3": t3} {
		tkAssertDead(t, in.URL, tok, name)
	}
	assert.Equal(t, []string{"successor_used"}, tkReuseAudit(t, in, u.ID))

	// Another family of the same user is untouched.
	other := tkExchange(t, in, tkOTT(t, in, "grace@example.com", "st"), "st")
	assert.Equal(t, http.StatusOK, tkVerify(t, in.URL, other.AccessToken).Status)
	tkRotate(t, in.URL, other.RefreshToken)
}

// TestRefreshTheftAfterGracePeriod: with a 1 s grace, replaying the
// rotated token after it revokes the family — the successor refresh token
// and its access token stop working.
func TestRefreshTheftAfterGracePeriod(t *testing.T) {
	env := baseEnv(t, freeAddr(t))
	env["ALGA_MOBILE_REFRESH_GRACE_SEC"] = "1"
	in := start(t, env)
	u := tkUser(t, in, "thief@example.com")
	ex := tkExchange(t, in, tkOTT(t, in, "thief@example.com", "st"), "st")
	t0 := tkTokens{Access: ex.AccessToken, Refresh: ex.RefreshToken}

	t1 := tkRotate(t, in.URL, t0.Refresh)
	rotatedBefore := time.Now()
	require.Equal(t, http.StatusOK, tkVerify(t, in.URL, t1.Access).Status)

	// The server stamped the rotation before its response arrived; past
	// that moment, 1 s of grace and a margin for timestamp rounding.
	time.Sleep(time.Until(rotatedBefore.Add(1100 * time.Millisecond)))

	r := tkRefresh(t, in.URL, t0.Refresh)
	tkAssertError(t, r, http.StatusUnauthorized, mobileauth.CodeUnauthorized)
	tkAssertDead(t, in.URL, t1, "successor")
	tkAssertDead(t, in.URL, t0, "original")
	assert.Equal(t, []string{"after_grace"}, tkReuseAudit(t, in, u.ID))
}

// TestRevokeEndsTheFamilyAtOnce: revoking any token of a family (even an
// already rotated one) stops its refresh and access tokens; other families
// live on.
func TestRevokeEndsTheFamilyAtOnce(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	tkUser(t, in, "revoke@example.com")
	ex := tkExchange(t, in, tkOTT(t, in, "revoke@example.com", "st"), "st")
	other := tkExchange(t, in, tkOTT(t, in, "revoke@example.com", "st"), "st")
	t1 := tkRotate(t, in.URL, ex.RefreshToken)

	r := tkPost(t, in.URL+tkRevokePath, map[string]any{"refreshToken": ex.RefreshToken}, tkNextIP())
	require.Equal(t, http.StatusOK, r.Status)
	assert.JSONEq(t, `{"ok":true}`, string(r.Body))
	tkAssertDead(t, in.URL, t1, "successor")
	tkAssertDead(t, in.URL, tkTokens{Access: ex.AccessToken}, "first access token")

	r = tkPost(t, in.URL+tkRevokePath, map[string]any{"refreshToken": t1.Refresh}, tkNextIP())
	assert.Equal(t, http.StatusOK, r.Status, "revoking again answers the same")
	assert.Equal(t, http.StatusOK, tkVerify(t, in.URL, other.AccessToken).Status, "other family lives on")
	tkRotate(t, in.URL, other.RefreshToken)
}

// TestTokensNeverStoredInClear walks the whole flow, then reads every
// table of the SQLite file: no OTT, refresh token (first or successor),
// access token or web-session id appears in any column.
func TestTokensNeverStoredInClear(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	tkUser(t, in, "clear@example.com")
	res, err := in.App.Auth.SignIn(context.Background(), authflow.SignInRequest{Provider: "dev", Email: "clear@example.com"})
	require.NoError(t, err)
	sess := tkWebSession{ID: res.SessionID, IDHash: token.HashOf(res.SessionID)}
	info, err := in.App.Auth.WebSession(context.Background(), tkCookies(in, sess))
	require.NoError(t, err)
	u := info.User
	ott := tkOTTFor(t, in, sess, u, "st", "")
	unused := tkOTTFor(t, in, sess, u, "st", "")
	ex := tkExchange(t, in, ott, "st")
	t1 := tkRotate(t, in.URL, ex.RefreshToken)
	secrets := map[string]string{"session id": res.SessionID, "used OTT": ott, "unused OTT": unused,
		"first refresh": ex.RefreshToken, "successor": t1.Refresh, "access": ex.AccessToken, "access 2": t1.Access}

	db := in.App.Store.DB()
	tables := tkQueryStrings(t, db, `SELECT name FROM sqlite_master WHERE type = 'table'`)
	require.Contains(t, tables, "refresh_tokens")
	require.Contains(t, tables, "one_time_tokens")
	for _, table := range tables {
		rows, err := db.QueryContext(context.Background(), fmt.Sprintf(`SELECT * FROM %q`, table))
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			for i, v := range vals {
				cell := fmt.Sprintf("%s", v)
				for name, s := range secrets {
					assert.NotContains(t, cell, s, "%s found in %s.%s", name, table, cols[i])
				}
			}
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
	}
}

func tkQueryStrings(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, strings.TrimSpace(s))
	}
	require.NoError(t, rows.Err())
	return out
}
