package authflow_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa"
	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/appliance"
	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/authjs"
	"github.com/nineminds/alga-mobile-auth/internal/authjs/authjstest"
	"github.com/nineminds/alga-mobile-auth/internal/license"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
	"github.com/nineminds/alga-mobile-auth/internal/testenv"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// nextAuthSecret is the web app's NEXTAUTH_SECRET in the appliance fixture.
const nextAuthSecret = "appliance-fixture-nextauth-secret-0123456789abcdef"

// applianceFixture is the service in appliance mode (SPEC §8) as app wires
// it: its own store on PostgreSQL, a stand-in of AlgaPSA's database
// (algapsatest) as directory, API-key store and source of adoptable
// refresh tokens, and the web app's Auth.js cookie as the first session
// source. Replicas share both databases, the clock and the server secret.
type applianceFixture struct {
	t        *testing.T
	ctx      context.Context
	clock    *fakeClock
	psa      *algapsatest.DB
	storeURL string
	secret   []byte
	gate     license.Options
	store    *sqlstore.Store // the first replica's own store
	db       *algapsa.DB     // the first replica's AlgaPSA pool
	svc      *authflow.Service
	events   *eventLog
	cookie   string
}

// newApplianceFixture builds the first replica; hosted licensing (Enterprise
// without license or trial: each tenant's plan decides, as on an appliance
// of Alga's hosting), no rate limits.
func newApplianceFixture(t *testing.T) *applianceFixture {
	t.Helper()
	return newApplianceFixtureLicensed(t, hostedLicensing)
}

// newApplianceFixtureLicensed is newApplianceFixture under licensing gate.
func newApplianceFixtureLicensed(t *testing.T, gate license.Options) *applianceFixture {
	t.Helper()
	return newApplianceFixtureOn(t, testenv.PostgresSchema(t, "authflow"), gate)
}

// newApplianceFixtureOnSQLite is newApplianceFixture with the service's own
// store in one SQLite file, which replicas share (AlgaPSA's database stays
// on PostgreSQL).
func newApplianceFixtureOnSQLite(t *testing.T) *applianceFixture {
	t.Helper()
	return newApplianceFixtureOn(t, "sqlite:"+filepath.Join(t.TempDir(), "own.db"), hostedLicensing)
}

// The licensings an appliance runs under: hosted (each tenant's plan
// decides, so a refresh reads its owner before the mint) and self-host (a
// trial here, as a license: the plan is the installation's, and a refresh
// reads its owner only when the mint refuses them).
var (
	hostedLicensing   = license.Options{Edition: license.Enterprise}
	selfHostLicensing = license.Options{Edition: license.Enterprise, TrialStartedAt: &t0}
)

// eachLicensing runs test on a fresh fixture under each licensing.
func eachLicensing(t *testing.T, test func(t *testing.T, f *applianceFixture)) {
	for _, l := range []struct {
		name string
		gate license.Options
	}{{"hosted", hostedLicensing}, {"self-host", selfHostLicensing}} {
		t.Run(l.name, func(t *testing.T) {
			test(t, newApplianceFixtureLicensed(t, l.gate))
		})
	}
}

// newApplianceFixtureOn builds the first replica on the own store storeURL.
func newApplianceFixtureOn(t *testing.T, storeURL string, gate license.Options) *applianceFixture {
	t.Helper()
	f := &applianceFixture{t: t, ctx: context.Background(), clock: newClock(), psa: algapsatest.New(t),
		storeURL: storeURL, secret: make([]byte, 32), gate: gate, cookie: authjs.CookieName(origin)}
	_, err := rand.Read(f.secret)
	require.NoError(t, err)
	f.svc, f.store, f.db, f.events = f.replica()
	return f
}

// replica is one more instance of the service on the same databases.
func (f *applianceFixture) replica() (*authflow.Service, *sqlstore.Store, *algapsa.DB, *eventLog) {
	return f.replicaWith(nil)
}

// replicaWith is a replica whose refresh store is wrap(its own store), so a
// test can run something in the middle of a refresh; nil wraps nothing.
func (f *applianceFixture) replicaWith(wrap func(mobileauth.RefreshStore) mobileauth.RefreshStore) (*authflow.Service, *sqlstore.Store, *algapsa.DB, *eventLog) {
	return f.replicaWrapped(wrappers{refresh: wrap})
}

// wrappers put a test's hooks around a replica's parts; nil wraps nothing.
type wrappers struct {
	refresh func(mobileauth.RefreshStore) mobileauth.RefreshStore
	access  func(authflow.AccessCredentials) authflow.AccessCredentials
	alga    func(authflow.AlgaRefreshTokens) authflow.AlgaRefreshTokens
	dir     func(authflow.Directory) authflow.Directory
}

// replicaWrapped is a replica with w's hooks around its parts.
func (f *applianceFixture) replicaWrapped(w wrappers) (*authflow.Service, *sqlstore.Store, *algapsa.DB, *eventLog) {
	wrap := w.refresh
	t := f.t
	st, err := sqlstore.Open(f.ctx, f.storeURL, sqlstore.Options{Now: f.clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	require.NoError(t, st.Migrate(f.ctx))
	db, err := algapsa.Open(f.ctx, f.psa.AppURL, algapsa.Options{MaxConns: 16})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	dec, err := authjs.NewDecoder(nextAuthSecret, f.cookie, f.clock.Now)
	require.NoError(t, err)
	log := slog.New(slog.DiscardHandler)
	src, err := appliance.NewWebAppSessions(dec, db, log)
	require.NoError(t, err)
	access, err := authflow.NewAPIKeyAccess(db, accessTTL)
	require.NoError(t, err)
	deriver, err := token.NewDeriver(f.secret)
	require.NoError(t, err)
	gate := f.gate
	gate.Now = f.clock.Now
	events := &eventLog{}
	var refresh mobileauth.RefreshStore = st
	if wrap != nil {
		refresh = wrap(st)
	}
	if w.access != nil {
		access = w.access(access)
	}
	var dir authflow.Directory = db
	if w.dir != nil {
		dir = w.dir(db)
	}
	var alga authflow.AlgaRefreshTokens = db
	if w.alga != nil {
		alga = w.alga(db)
	}
	svc, err := authflow.New(authflow.Deps{
		Stores:  authflow.Stores{OTTs: st, Sessions: st, Refresh: refresh, Directory: dir, Audit: st, Adoptions: st},
		Limiter: allowAll{}, Gate: license.NewGate(gate), Deriver: deriver, Events: events, Log: log,
		Now: f.clock.Now, Access: access, AlgaTokens: alga, SessionSources: []authflow.SessionSource{src},
		Settings: authflow.Settings{OTTTTL: ottTTL, AccessTTL: accessTTL, RefreshTTL: refreshTTL,
			RefreshGrace: grace, SessionTTL: sessionTTL, Origin: origin, OwnHost: ownHost},
	})
	require.NoError(t, err)
	return svc, st, db, events
}

// user adds an internal AlgaPSA user with a fresh e-mail.
func (f *applianceFixture) user() algapsatest.User {
	f.t.Helper()
	return f.psa.AddUser(f.t, algapsatest.User{Email: "tech-" + uuid.NewString()[:8] + "@example.com", FirstName: "Tess", LastName: "Tech"})
}

// claims are the Auth.js claims AlgaPSA writes for u's web session sid.
func claims(u algapsatest.User, sid string) map[string]any {
	return map[string]any{"id": u.ID, "sub": u.ID, "tenant": u.TenantID, "user_type": u.Type,
		"email": u.Email, "name": u.FirstName + " " + u.LastName, "session_id": sid}
}

// cookies mints the web app's session cookie for these claims, now.
func (f *applianceFixture) cookies(c map[string]any) map[string]string {
	f.t.Helper()
	cs, err := authjstest.Cookies(authjstest.Token{Secret: nextAuthSecret, CookieName: f.cookie, Claims: c, Now: f.clock.Now()})
	require.NoError(f.t, err)
	return cs
}

// webSignIn signs u in to the web app: a sessions row and its cookie.
func (f *applianceFixture) webSignIn(u algapsatest.User) (cookies map[string]string, sessionID string) {
	f.t.Helper()
	sid := f.psa.AddSession(f.t, u.TenantID, u.ID, time.Hour)
	return f.cookies(claims(u, sid)), sid
}

// handoff runs the hand-off with the browser's cookies.
func (f *applianceFixture) handoff(svc *authflow.Service, cookies map[string]string) authflow.HandoffResult {
	f.t.Helper()
	res, err := svc.Handoff(f.ctx, authflow.HandoffRequest{Redirect: deepLink, State: "st", Cookies: cookies,
		ReturnURL:   origin + "/auth/mobile/handoff?redirect=alga%3A%2F%2Fauth%2Fcallback&state=st",
		RequestHost: ownHost, ClientIP: "198.51.100.7"})
	require.NoError(f.t, err)
	return res
}

// ott runs a hand-off that must issue an OTT and returns it.
func (f *applianceFixture) ott(cookies map[string]string) string {
	f.t.Helper()
	res := f.handoff(f.svc, cookies)
	require.Equal(f.t, authflow.HandoffIssued, res.Outcome, "hand-off answered %s", res.Location)
	u, err := url.Parse(res.Location)
	require.NoError(f.t, err)
	return u.Query().Get("ott")
}

// exchange trades ott on the first replica.
func (f *applianceFixture) exchange(ott string) (authflow.ExchangeResult, error) {
	return f.svc.Exchange(f.ctx, exchangeReq(ott, "st", "198.51.100.7"))
}

// session signs u in on the web and exchanges: a fresh token family.
func (f *applianceFixture) session(u algapsatest.User) authflow.ExchangeResult {
	f.t.Helper()
	c, _ := f.webSignIn(u)
	res, err := f.exchange(f.ott(c))
	require.NoError(f.t, err)
	return res
}

// refresh rotates rt on the first replica.
func (f *applianceFixture) refresh(rt string) (authflow.RefreshResult, error) {
	return f.svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: rt, ClientIP: "198.51.100.7"})
}

// accepted reports whether AlgaPSA's own API check accepts key for tenant.
func (f *applianceFixture) accepted(key, tenant string) error {
	_, err := f.psa.CheckAPIKey(f.ctx, key, tenant)
	return err
}

// keyRows are the api_keys rows of a token family this service minted.
func (f *applianceFixture) keyRows(familyID string) []algapsatest.APIKeyRow {
	return f.psa.APIKeyRows(f.t, "metadata->>'familyId' = $1", familyID)
}

// activeKeys counts the family's active keys.
func (f *applianceFixture) activeKeys(familyID string) int {
	n := 0
	for _, r := range f.keyRows(familyID) {
		if r.Active {
			n++
		}
	}
	return n
}

// assertUserKeysEnded checks that the user has keys and none is active.
func (f *applianceFixture) assertUserKeysEnded(t *testing.T, userID string) {
	t.Helper()
	keys := f.psa.APIKeyRows(t, "user_id = $1", userID)
	require.NotEmpty(t, keys)
	for _, k := range keys {
		assert.False(t, k.Active, "every key of the user is deactivated, other phones' too")
	}
}

// familyOf is the family an access key belongs to (via /verify).
func (f *applianceFixture) familyOf(key string) string {
	f.t.Helper()
	p, err := f.svc.Verify(f.ctx, key)
	require.NoError(f.t, err)
	return p.SessionID
}

// assertCode checks err's contract code.
func assertCode(t *testing.T, err error, code mobileauth.Code) {
	t.Helper()
	require.Error(t, err)
	assert.Equal(t, code, mobileauth.ErrorCode(err), "%v", err)
}

// algaVia is embedded by the test doubles that interpose on a replica's
// calls to AlgaPSA's refresh tokens; the methods they do not override go to
// the real adapter.
type algaVia struct{ authflow.AlgaRefreshTokens }

func (v *algaVia) setInner(a authflow.AlgaRefreshTokens) { v.AlgaRefreshTokens = a }

// algaInterposer is such a test double.
type algaInterposer interface {
	authflow.AlgaRefreshTokens
	setInner(authflow.AlgaRefreshTokens)
}

// replicaVia is another replica whose AlgaPSA refresh-token calls go
// through h.
func (f *applianceFixture) replicaVia(h algaInterposer) *authflow.Service {
	svc, _, _, _ := f.replicaWrapped(wrappers{alga: wrapAlga(h)})
	return svc
}

func wrapAlga(h algaInterposer) func(authflow.AlgaRefreshTokens) authflow.AlgaRefreshTokens {
	return func(a authflow.AlgaRefreshTokens) authflow.AlgaRefreshTokens { h.setInner(a); return h }
}
