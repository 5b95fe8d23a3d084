package e2e

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/authjs"
	"github.com/nineminds/alga-mobile-auth/internal/authjs/authjstest"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
)

// apTwoInstances starts two service instances in appliance mode sharing one
// PostgreSQL schema as their own store and one stand-in of AlgaPSA's
// database, with one public URL, as replicas behind a proxy are. Both
// returned instances carry their own listen URL.
func apTwoInstances(t *testing.T) (a, b *instance, db *algapsatest.DB) {
	t.Helper()
	db = algapsatest.New(t)
	own := tkPostgresURL(t)
	addrA, addrB := freeAddr(t), freeAddr(t)
	envA := apApplianceEnv(t, addrA, "http://"+addrA, db)
	envA["ALGA_MOBILE_DATABASE_URL"] = own
	a = start(t, envA)
	envB := apApplianceEnv(t, addrB, "http://"+addrA, db)
	envB["ALGA_MOBILE_DATABASE_URL"] = own
	b = start(t, envB)
	require.Equal(t, sqlstore.DialectPostgres, a.App.Store.Dialect())
	require.True(t, a.App.Config.ApplianceMode() && b.App.Config.ApplianceMode())
	return a, &instance{URL: "http://" + addrB, App: b.App}, db
}

// apHandOff signs u in to the web app (a sessions row and its Auth.js
// cookie, as the stub's sign-in does) and has in's hand-off issue an OTT.
func apHandOff(t *testing.T, in *instance, db *algapsatest.DB, u algapsatest.User, state string) string {
	t.Helper()
	sessionID := db.AddSession(t, u.TenantID, u.ID, apWebSessionTTL)
	name := authjs.CookieName(in.App.Config.Origin())
	cookies, err := authjstest.Cookies(authjstest.Token{Secret: apNextAuthSecret, CookieName: name, Now: time.Now(),
		MaxAge: apWebSessionTTL, Claims: map[string]any{"id": u.ID, "sub": u.ID, "tenant": u.TenantID, "user_type": u.Type,
			"email": u.Email, "name": u.FirstName + " " + u.LastName, "session_id": sessionID}})
	require.NoError(t, err)
	var hdr []string
	for k, v := range cookies {
		hdr = append(hdr, k+"="+v)
	}
	handoff := in.URL + "/auth/mobile/handoff?" + url.Values{"redirect": {"alga://auth/callback"}, "state": {state}}.Encode()
	r := get(t, browser(t), handoff, "Cookie", strings.Join(hdr, "; "), "X-Forwarded-For", tkNextIP())
	require.Equal(t, http.StatusFound, r.StatusCode)
	deep, err := url.Parse(r.Header.Get("Location"))
	require.NoError(t, err)
	ott := deep.Query().Get("ott")
	require.NotEmpty(t, ott, "the hand-off accepted the web app's session: %s", deep)
	return ott
}

// apRaceFigures logs and checks a race's answers: only 200, 401 and 429,
// every 200 carrying one and the same successor refresh token; it returns
// that successor and the access keys of the 200s.
func apRaceFigures(t *testing.T, what string, res tkRaceResult) (successor string, keys []string) {
	t.Helper()
	successors := map[string]int{}
	for _, r := range res.bodies[http.StatusOK] {
		m := r.JSON(t)
		successors[m["refreshToken"].(string)]++
		keys = append(keys, m["accessToken"].(string))
	}
	codes := make([]int, 0, len(res.byStatus))
	for c := range res.byStatus {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, http.StatusText(c)+" "+strconv.Itoa(c)+" ×"+strconv.Itoa(res.byStatus[c]))
	}
	t.Logf("%s: %d racers over 2 instances; successes (200) %d carrying %d distinct successor(s); statuses: %s",
		what, tkRacers, res.byStatus[http.StatusOK], len(successors), strings.Join(parts, ", "))
	for c := range res.byStatus {
		assert.Contains(t, []int{http.StatusOK, http.StatusUnauthorized, http.StatusTooManyRequests}, c, "status %d", c)
	}
	require.GreaterOrEqual(t, res.byStatus[http.StatusOK], 1, "someone wins")
	require.Len(t, successors, 1, "exactly one successor")
	for s := range successors {
		successor = s
	}
	return successor, keys
}

// apCheckOneActiveKey: the family behind keys has exactly one active key,
// AlgaPSA's check accepts exactly one of the keys the racers received (the
// family's active one), and refuses every other.
func apCheckOneActiveKey(t *testing.T, db *algapsatest.DB, u algapsatest.User, keys []string) {
	t.Helper()
	rows := db.APIKeyRows(t, "tenant = $1 AND user_id = $2 AND metadata->>'issuer' = 'alga-mobile-auth'", u.TenantID, u.ID)
	families := map[string][]algapsatest.APIKeyRow{}
	for _, r := range rows {
		fam, _ := r.Metadata["familyId"].(string)
		families[fam] = append(families[fam], r)
	}
	for fam, rs := range families {
		assert.LessOrEqual(t, apActive(rs), 1, "family %s has at most one active key", fam)
	}
	accepted := 0
	for _, k := range keys {
		if _, err := db.CheckAPIKey(t.Context(), k, u.TenantID); err == nil {
			accepted++
		}
	}
	t.Logf("api_keys of the user: %d rows in %d famil(y/ies), %d active; of the %d keys handed to winners, AlgaPSA accepts %d",
		len(rows), len(families), apActive(rows), len(keys), accepted)
	assert.Equal(t, 1, accepted, "only the family's latest key works; every other winner's key is inactive")
}

// TestApplianceConcurrentRefreshOnTwoInstances: 200 refreshes of one refresh
// token, split across two instances sharing PostgreSQL and AlgaPSA's
// database: one successor, one active key.
func TestApplianceConcurrentRefreshOnTwoInstances(t *testing.T) {
	a, b, db := apTwoInstances(t)
	u := db.AddUser(t, algapsatest.User{Email: "rotator@example.com", FirstName: "Ro", LastName: "Tator"})
	ott := apHandOff(t, a, db, u, "st-race")
	ex := tkPost(t, a.URL+tkExchangePath, map[string]any{"ott": ott, "state": "st-race"}, tkNextIP())
	require.Equal(t, http.StatusOK, ex.Status, "%s", ex.Body)
	refresh := ex.JSON(t)["refreshToken"].(string)

	res := tkRace(t, []string{a.URL, b.URL}, tkRefreshPath, `{"refreshToken":"`+refresh+`"}`)
	_, keys := apRaceFigures(t, "appliance refresh race", res)
	apCheckOneActiveKey(t, db, u, keys)
}

// TestApplianceConcurrentAdoptionOnTwoInstances: 200 refreshes of one
// refresh token that AlgaPSA itself issued (SPEC §8.5), split across two
// instances: adopted once (one family), and every presentation answered by
// §3.5's rules, as retries inside the grace period: 200 with the one
// successor, or 429 past the per-user limit, never 401; AlgaPSA's row
// revoked and its key deactivated, one active key in the new family.
func TestApplianceConcurrentAdoptionOnTwoInstances(t *testing.T) {
	a, b, db := apTwoInstances(t)
	u := db.AddUser(t, algapsatest.User{Email: "adoptee@example.com", FirstName: "Ad", LastName: "Optee"})
	tok := db.IssueAlgaRefreshToken(t, u.TenantID, u.ID, 24*time.Hour)
	_, err := db.CheckAPIKey(t.Context(), tok.APIKey, u.TenantID)
	require.NoError(t, err, "control: AlgaPSA's own key works before the adoption")

	res := tkRace(t, []string{a.URL, b.URL}, tkRefreshPath, `{"refreshToken":"`+tok.Token+`"}`)
	_, keys := apRaceFigures(t, "appliance adoption race", res)
	assert.Zero(t, res.byStatus[http.StatusUnauthorized], "no presentation inside the grace period is refused")
	apCheckOneActiveKey(t, db, u, keys)
	families := map[any]bool{}
	for _, r := range db.APIKeyRows(t, "tenant = $1 AND user_id = $2 AND metadata->>'issuer' = 'alga-mobile-auth'", u.TenantID, u.ID) {
		families[r.Metadata["familyId"]] = true
	}
	assert.Len(t, families, 1, "adopted once: one family")

	row := db.RefreshTokenRow(t, tok.ID)
	assert.NotNil(t, row.RevokedAt, "AlgaPSA's row is revoked")
	assert.NotNil(t, row.LastUsedAt)
	assert.False(t, db.APIKeyRow(t, tok.APIKeyID).Active, "the key AlgaPSA issued with it is deactivated")
	_, err = db.CheckAPIKey(t.Context(), tok.APIKey, u.TenantID)
	assert.Error(t, err, "AlgaPSA refuses its old key")
}
