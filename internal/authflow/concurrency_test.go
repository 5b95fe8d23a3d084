package authflow_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// attempts is how many callers race in each concurrency test.
const attempts = 200

// race runs fn(i) for i in [0, n) on n goroutines released together.
func race(n int, fn func(i int)) {
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

// outcomes tallies the results of racing callers.
type outcomes struct {
	mu     sync.Mutex
	ok     int
	byCode map[mobileauth.Code]int
	tokens map[string]int // refresh tokens handed out, by value
	errs   []error        // uncoded errors, for the failure message
}

func newOutcomes() *outcomes {
	return &outcomes{byCode: map[mobileauth.Code]int{}, tokens: map[string]int{}}
}

func (o *outcomes) add(refreshToken string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err == nil {
		o.ok++
		o.tokens[refreshToken]++
		return
	}
	code := mobileauth.ErrorCode(err)
	o.byCode[code]++
	if code == mobileauth.CodeInternal {
		o.errs = append(o.errs, err)
	}
}

// instanceCases run a race on one service, and on two sharing one file.
var instanceCases = []struct {
	name      string
	instances int
}{
	{name: "one instance", instances: 1},
	{name: "two instances on one SQLite file", instances: 2},
}

// replicas builds n services on one SQLite file (limits out of the way),
// with alice in the directory; the fixture is the first one's.
func replicas(t *testing.T, n int) (*fixture, []*authflow.Service) {
	t.Helper()
	f := newFixture(t, withLimiter(allowAll{}))
	f.addUsers(alice)
	svcs := []*authflow.Service{f.svc}
	for len(svcs) < n {
		svcs = append(svcs, newFixture(t, sharing(f), withLimiter(allowAll{})).svc)
	}
	return f, svcs
}

func TestConcurrentExchangesOfOneOTTSucceedOnce(t *testing.T) {
	for _, tc := range instanceCases {
		t.Run(tc.name, func(t *testing.T) {
			f, svcs := replicas(t, tc.instances)
			ott, _ := f.issueOTT(alice.Email, "s", "")

			o := newOutcomes()
			race(attempts, func(i int) {
				res, err := svcs[i%len(svcs)].Exchange(f.ctx, exchangeReq(ott, "s", "203.0.113.1"))
				o.add(res.RefreshToken, err)
			})
			t.Logf("%d concurrent exchanges of one OTT on %d instance(s): %d succeeded, %d UNAUTHORIZED, other %v",
				attempts, tc.instances, o.ok, o.byCode[mobileauth.CodeUnauthorized], o.errs)
			assert.Equal(t, 1, o.ok)
			assert.Equal(t, attempts-1, o.byCode[mobileauth.CodeUnauthorized])
			assert.Empty(t, o.errs)
			assert.Equal(t, 1, f.count("SELECT COUNT(*) FROM token_families"))
			assert.Equal(t, 1, f.count("SELECT COUNT(*) FROM refresh_tokens"))
			assert.Len(t, f.audits(mobileauth.AuditExchange), 1)
		})
	}
}

func TestConcurrentRefreshesOfOneTokenMakeOneSuccessor(t *testing.T) {
	for _, tc := range instanceCases {
		t.Run(tc.name, func(t *testing.T) {
			f, svcs := replicas(t, tc.instances)
			s := f.session(alice.Email)
			fam := f.familyOf(s.AccessToken)

			o := newOutcomes()
			race(attempts, func(i int) {
				res, err := svcs[i%len(svcs)].Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: s.RefreshToken, ClientIP: "203.0.113.1"})
				o.add(res.RefreshToken, err)
			})
			t.Logf("%d concurrent refreshes of one token on %d instance(s): %d succeeded with %d distinct refresh token(s), failures %v %v",
				attempts, tc.instances, o.ok, len(o.tokens), o.byCode, o.errs)

			// Every caller is inside the grace period and nobody has used the
			// successor, so every one of them gets it.
			assert.Equal(t, attempts, o.ok)
			assert.Len(t, o.tokens, 1, "every success carries the same refresh token")
			assert.Equal(t, 2, f.familyRows(fam), "exactly one successor row")
			var successor string
			for tok := range o.tokens {
				successor = tok
			}
			require.Equal(t, 1, f.count("SELECT COUNT(*) FROM refresh_tokens WHERE hash = ?", hashBytes(successor)),
				"the successor handed out is the one stored")
			old, err := f.store.GetRefreshToken(f.ctx, token.HashOf(s.RefreshToken))
			require.NoError(t, err)
			require.NotNil(t, old.ReplacedBy)
			assert.Equal(t, token.HashOf(successor), *old.ReplacedBy)
			assert.Len(t, f.audits(mobileauth.AuditRefresh), 1, "one rotation audited")
			assert.Empty(t, f.audits(mobileauth.AuditRefreshReuse))

			// And the successor works.
			f.refresh(successor)
		})
	}
}
