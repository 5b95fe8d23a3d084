package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
	"github.com/nineminds/alga-mobile-auth/internal/testenv"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// tkRacers is how many requests race for one token (issue 3's figure).
const tkRacers = 200

// tkRacerIP gives racer i its own client address, so that the per-IP
// limits (10/min exchange, 30/min refresh) count each racer separately
// and only the per-user limits, applied after the lookup, remain.
func tkRacerIP(i int) string { return fmt.Sprintf("10.0.%d.%d", i/250, i%250+1) }

// tkRaceResult is what the racers saw.
type tkRaceResult struct {
	byStatus map[int]int
	bodies   map[int][]tkResponse // by status
}

// tkRace posts body to path on bases (racer i uses bases[i%len(bases)])
// from tkRacers goroutines released at once.
func tkRace(t *testing.T, bases []string, path, body string) tkRaceResult {
	t.Helper()
	// Racers may leave connections the transport dialed but never used;
	// the server's graceful shutdown waits 5 s for such "new" connections,
	// so close them before the instance stops (cleanups run last-in first).
	t.Cleanup(tkClient.CloseIdleConnections)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		gate  = make(chan struct{})
		res   = tkRaceResult{byStatus: map[int]int{}, bodies: map[int][]tkResponse{}}
		fails []error
	)
	for i := range tkRacers {
		wg.Go(func() {
			<-gate
			r, err := tkTry(http.MethodPost, bases[i%len(bases)]+path, strings.NewReader(body), "X-Forwarded-For", tkRacerIP(i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fails = append(fails, err)
				return
			}
			res.byStatus[r.Status]++
			res.bodies[r.Status] = append(res.bodies[r.Status], r)
		})
	}
	close(gate)
	wg.Wait()
	require.Empty(t, fails, "transport errors")
	return res
}

// tkConcurrentExchange races tkRacers exchanges of one OTT: exactly one
// wins, every other racer gets 401.
func tkConcurrentExchange(t *testing.T, issuer *instance, bases []string) {
	tkUser(t, issuer, "racer@example.com")
	ott := tkOTT(t, issuer, "racer@example.com", "st-race")
	res := tkRace(t, bases, tkExchangePath, `{"ott":"`+ott+`","state":"st-race"}`)
	t.Logf("exchange race on %s over %d instance(s): %d attempts, statuses %v", issuer.App.Store.Dialect(), len(bases), tkRacers, res.byStatus)
	assert.Equal(t, map[int]int{http.StatusOK: 1, http.StatusUnauthorized: tkRacers - 1}, res.byStatus)
	for _, r := range res.bodies[http.StatusUnauthorized] {
		assert.JSONEq(t, `{"error":{"code":"UNAUTHORIZED","message":"Invalid or expired token"}}`, string(r.Body))
	}
}

// tkConcurrentRefresh races tkRacers refreshes of one refresh token.
// Every 200 carries the same successor and the store holds exactly one
// successor row. The per-user limit (30/min) refuses the rest with 429;
// no other status is acceptable.
func tkConcurrentRefresh(t *testing.T, issuer *instance, bases []string) {
	tkUser(t, issuer, "rotator@example.com")
	ex := tkExchange(t, issuer, tkOTT(t, issuer, "rotator@example.com", "st"), "st")
	res := tkRace(t, bases, tkRefreshPath, `{"refreshToken":"`+ex.RefreshToken+`"}`)
	t.Logf("refresh race on %s over %d instance(s): %d attempts, statuses %v", issuer.App.Store.Dialect(), len(bases), tkRacers, res.byStatus)
	ok, limited := res.byStatus[http.StatusOK], res.byStatus[http.StatusTooManyRequests]
	assert.Equal(t, tkRacers, ok+limited, "only 200 and 429: %v", res.byStatus)
	assert.Equal(t, 30, ok, "the per-user limit lets exactly 30 through")
	successors := map[string]int{}
	for _, r := range res.bodies[http.StatusOK] {
		successors[r.JSON(t)["refreshToken"].(string)]++
	}
	require.Len(t, successors, 1, "every 200 carries the same successor")
	var successor string
	for s := range successors {
		successor = s
	}
	for _, r := range res.bodies[http.StatusTooManyRequests] {
		tkAssertRateLimited(t, r)
	}

	db := issuer.App.Store.DB()
	q := func(query string) string {
		if issuer.App.Store.Dialect() == sqlstore.DialectPostgres {
			return query
		}
		return tkSQLiteQ(query)
	}
	orig, succ := token.HashOf(ex.RefreshToken), token.HashOf(successor)
	var family, successorRows, successorAnywhere int
	ctx := context.Background()
	require.NoError(t, db.QueryRowContext(ctx, q(`SELECT COUNT(*) FROM refresh_tokens WHERE family_id =
		(SELECT family_id FROM refresh_tokens WHERE hash = $1)`), orig[:]).Scan(&family))
	require.NoError(t, db.QueryRowContext(ctx, q(`SELECT COUNT(*) FROM refresh_tokens WHERE hash = $1`), succ[:]).Scan(&successorRows))
	require.NoError(t, db.QueryRowContext(ctx, q(`SELECT COUNT(*) FROM refresh_tokens WHERE replaced_by = $1`), succ[:]).Scan(&successorAnywhere))
	assert.Equal(t, 2, family, "the family holds the original and exactly one successor")
	assert.Equal(t, 1, successorRows, "one successor row")
	assert.Equal(t, 1, successorAnywhere, "only the original points at it")
	var replacedBy []byte
	require.NoError(t, db.QueryRowContext(ctx, q(`SELECT replaced_by FROM refresh_tokens WHERE hash = $1`), orig[:]).Scan(&replacedBy))
	assert.Equal(t, succ[:], replacedBy)

	// The successor is live (its use over HTTP would meet the per-user
	// block the race has just set off), and so are the racers' access tokens.
	var live int
	require.NoError(t, db.QueryRowContext(ctx, q(`SELECT COUNT(*) FROM refresh_tokens
		WHERE hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL`), succ[:]).Scan(&live))
	assert.Equal(t, 1, live, "the successor is neither rotated nor revoked")
	for i, r := range res.bodies[http.StatusOK] {
		access := r.JSON(t)["accessToken"].(string)
		assert.Equal(t, http.StatusOK, tkVerify(t, bases[i%len(bases)], access).Status)
	}
}

// tkSQLiteQ turns $n placeholders into SQLite's ?n.
func tkSQLiteQ(q string) string {
	out := make([]byte, 0, len(q))
	for i := 0; i < len(q); i++ {
		if q[i] == '$' {
			out = append(out, '?')
			continue
		}
		out = append(out, q[i])
	}
	return string(out)
}

// tkTrustingEnv is baseEnv with the loopback peer as the only trusted
// proxy, so racers' X-Forwarded-For addresses count.
func tkTrustingEnv(t *testing.T, addr string) map[string]string {
	env := baseEnv(t, addr)
	env["ALGA_MOBILE_TRUSTED_PROXIES"] = "127.0.0.1/32"
	return env
}

func TestConcurrentExchangeOfOneOTTOnSQLite(t *testing.T) {
	in := start(t, tkTrustingEnv(t, freeAddr(t)))
	tkConcurrentExchange(t, in, []string{in.URL})
}

func TestConcurrentRefreshOfOneTokenOnSQLite(t *testing.T) {
	in := start(t, tkTrustingEnv(t, freeAddr(t)))
	tkConcurrentRefresh(t, in, []string{in.URL})
}

// tkPostgresURL is a fresh schema for the test (see testenv.PostgresSchema).
func tkPostgresURL(t *testing.T) string { return testenv.PostgresSchema(t, "e2e_tokens") }

// tkTwoReplicas starts two instances sharing one PostgreSQL schema and one
// public URL (the issuer of their tokens), as replicas behind a proxy do.
// Both returned instances carry their own listen URL.
func tkTwoReplicas(t *testing.T) (a, b *instance) {
	t.Helper()
	dbURL := tkPostgresURL(t)
	addrA, addrB := freeAddr(t), freeAddr(t)
	envA := tkTrustingEnv(t, addrA)
	envA["ALGA_MOBILE_DATABASE_URL"] = dbURL
	a = start(t, envA)
	envB := tkTrustingEnv(t, addrB)
	envB["ALGA_MOBILE_DATABASE_URL"] = dbURL
	envB["NEXTAUTH_URL"] = "http://" + addrA
	b = start(t, envB)
	require.Equal(t, sqlstore.DialectPostgres, a.App.Store.Dialect())
	return a, &instance{URL: "http://" + addrB, App: b.App}
}

func TestConcurrentExchangeOfOneOTTOnTwoPostgresReplicas(t *testing.T) {
	a, b := tkTwoReplicas(t)
	tkConcurrentExchange(t, a, []string{a.URL, b.URL})
}

func TestConcurrentRefreshOfOneTokenOnTwoPostgresReplicas(t *testing.T) {
	a, b := tkTwoReplicas(t)
	tkConcurrentRefresh(t, a, []string{a.URL, b.URL})
}

// TestRevokeOnOneReplicaFailsVerifyOnTheOtherWithinASecond: SPEC §3.6 "at
// once" across replicas, bounded by the revocation view's 1 s freshness.
func TestRevokeOnOneReplicaFailsVerifyOnTheOtherWithinASecond(t *testing.T) {
	a, b := tkTwoReplicas(t)
	tkUser(t, a, "replica@example.com")
	ex := tkExchange(t, a, tkOTT(t, a, "replica@example.com", "st"), "st")
	// B has verified (and cached) the token before the revocation.
	require.Equal(t, http.StatusOK, tkVerify(t, b.URL, ex.AccessToken).Status)
	require.Equal(t, http.StatusOK, tkVerify(t, a.URL, ex.AccessToken).Status)

	r := tkPost(t, a.URL+tkRevokePath, map[string]any{"refreshToken": ex.RefreshToken}, tkNextIP())
	require.Equal(t, http.StatusOK, r.Status)
	revoked := time.Now()
	assert.Equal(t, http.StatusUnauthorized, tkVerify(t, a.URL, ex.AccessToken).Status, "immediate on the revoking replica")

	// 1 s of freshness plus a little for the poll and the race detector.
	deadline := revoked.Add(1250 * time.Millisecond)
	status := 0
	for {
		status = tkVerify(t, b.URL, ex.AccessToken).Status
		if status == http.StatusUnauthorized || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("verify on the other replica failed %s after the revoke", time.Since(revoked).Round(time.Millisecond))
	assert.Equal(t, http.StatusUnauthorized, status, "revocation reached the other replica within ~1 s")
	tkAssertError(t, tkRefresh(t, b.URL, ex.RefreshToken), http.StatusUnauthorized, "UNAUTHORIZED")
}

// TestExchangeRateLimitSharedByPostgresReplicas: the 11th exchange from
// one address, alternating between two replicas, is refused.
func TestExchangeRateLimitSharedByPostgresReplicas(t *testing.T) {
	a, b := tkTwoReplicas(t)
	bases := []string{a.URL, b.URL}
	const ip = "203.0.113.77"
	for i := range 10 {
		r := tkPost(t, bases[i%2]+tkExchangePath, map[string]any{"ott": "unknown-" + strconv.Itoa(i), "state": "s"}, ip)
		require.Equal(t, http.StatusUnauthorized, r.Status, "exchange %d: %s", i+1, r.Body)
	}
	tkAssertRateLimited(t, tkPost(t, b.URL+tkExchangePath, map[string]any{"ott": "unknown-11", "state": "s"}, ip))
	tkAssertRateLimited(t, tkPost(t, a.URL+tkExchangePath, map[string]any{"ott": "unknown-12", "state": "s"}, ip))
}

func TestTokenEndpointsTakeOddStringsOnPostgres(t *testing.T) {
	a, _ := tkTwoReplicas(t)
	tkOddStrings(t, a)
}
