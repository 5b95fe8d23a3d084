package authflow_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
)

// secret is a clear token a test must never find at rest.
type secret struct {
	name, value string
}

// forms are the spellings of a secret worth looking for: the string and,
// for base64url tokens, the raw bytes it encodes.
func (s secret) forms() [][]byte {
	out := [][]byte{[]byte(s.value)}
	if raw, err := base64.RawURLEncoding.DecodeString(s.value); err == nil && len(raw) >= 16 {
		out = append(out, raw)
	}
	return out
}

// cellBytes renders one scanned column value as bytes.
func cellBytes(v any) []byte {
	switch x := v.(type) {
	case nil:
		return nil
	case []byte:
		return x
	case string:
		return []byte(x)
	default:
		return []byte(fmt.Sprint(x))
	}
}

// dumpTables reads every row of every table: table name → rows of cells.
func (f *fixture) dumpTables() map[string][][]byte {
	f.t.Helper()
	db := f.store.DB()
	rows, err := db.QueryContext(f.ctx, "SELECT name FROM sqlite_master WHERE type = 'table'")
	require.NoError(f.t, err)
	var tables []string
	for rows.Next() {
		var n string
		require.NoError(f.t, rows.Scan(&n))
		tables = append(tables, n)
	}
	require.NoError(f.t, rows.Err())
	require.NoError(f.t, rows.Close())

	out := map[string][][]byte{}
	for _, table := range tables {
		rows, err := db.QueryContext(f.ctx, `SELECT * FROM "`+table+`"`) //nolint:gosec // G202: table names listed by the database's own catalog, quoted
		require.NoError(f.t, err)
		cols, err := rows.Columns()
		require.NoError(f.t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(f.t, rows.Scan(ptrs...))
			for _, v := range vals {
				out[table] = append(out[table], cellBytes(v))
			}
		}
		require.NoError(f.t, rows.Err())
		require.NoError(f.t, rows.Close())
	}
	return out
}

// containsCell reports whether one of cells equals want.
func containsCell(cells [][]byte, want []byte) bool {
	for _, c := range cells {
		if bytes.Equal(c, want) {
			return true
		}
	}
	return false
}

func TestTokensAreNeverStoredOrLoggedInClear(t *testing.T) {
	f := newFixture(t)
	f.addUsers(alice, bob)

	verifier, challenge := pkcePair(t)
	sessionID := f.signIn(alice.Email)
	ott := f.handoff(sessionID, "state-xyz", challenge, f.nextIP())
	req := exchangeReq(ott, "state-xyz", f.nextIP())
	req.CodeVerifier = verifier
	ex, err := f.svc.Exchange(f.ctx, req)
	require.NoError(t, err)
	r1 := f.refresh(ex.RefreshToken)
	replay := f.refresh(ex.RefreshToken) // grace replay
	r2 := f.refresh(r1.RefreshToken)
	otherSession := f.signIn(bob.Email)
	unusedOTT := f.handoff(otherSession, "state-2", "", f.nextIP())
	revoked := f.session(bob.Email)
	require.NoError(t, f.svc.Revoke(f.ctx, authflow.RevokeRequest{RefreshToken: revoked.RefreshToken}))
	require.NoError(t, f.svc.SignOut(f.ctx, sessionID))

	secrets := []secret{
		{"session id", sessionID}, {"other session id", otherSession},
		{"OTT", ott}, {"unused OTT", unusedOTT}, {"PKCE verifier", verifier},
		{"first refresh token", ex.RefreshToken}, {"successor", r1.RefreshToken},
		{"second successor", r2.RefreshToken}, {"revoked refresh token", revoked.RefreshToken},
		{"access token", ex.AccessToken}, {"rotated access token", r1.AccessToken},
		{"replayed access token", replay.AccessToken},
	}
	tables := f.dumpTables()
	for _, want := range []string{"one_time_tokens", "web_sessions", "refresh_tokens", "token_families", "audit_events"} {
		require.NotEmpty(t, tables[want], "table %s has rows to inspect", want)
	}
	for table, cells := range tables {
		for _, cell := range cells {
			for _, s := range secrets {
				for _, form := range s.forms() {
					assert.False(t, bytes.Contains(cell, form), "table %s holds the %s in clear", table, s.name)
				}
			}
		}
	}

	// Control: the dump does see what is stored, namely the hashes.
	assert.True(t, containsCell(tables["one_time_tokens"], hashBytes(ott)), "the OTT's hash is stored")
	assert.True(t, containsCell(tables["refresh_tokens"], hashBytes(r2.RefreshToken)), "the successor's hash is stored")
	assert.True(t, containsCell(tables["web_sessions"], hashBytes(sessionID)), "the session's hash is stored")

	logs := f.logs.String()
	require.Contains(t, logs, "MOBILE_AUTH_EXCHANGE", "the audit log is written")
	for _, s := range secrets {
		assert.NotContains(t, logs, s.value, "the log holds the %s", s.name)
		assert.NotContains(t, logs, url.QueryEscape(s.value), "the log holds the %s", s.name)
	}
}
