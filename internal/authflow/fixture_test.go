package authflow_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/license"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/ratelimit"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
	"github.com/nineminds/alga-mobile-auth/internal/testclock"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// t0 is the fixtures' starting instant: no test reads the real clock for
// anything the service decides.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// Fixture constants: the appliance's host, its issuer and the lifetimes.
const (
	ownHost    = "psa.example.com"
	origin     = "https://" + ownHost
	ottTTL     = 60 * time.Second
	accessTTL  = 15 * time.Minute
	refreshTTL = 30 * 24 * time.Hour
	grace      = 10 * time.Second
	sessionTTL = time.Hour
	deepLink   = "alga://auth/callback"
)

// fakeClock is the settable clock shared by the service, the store, the
// keyring and the gate, so expiry is tested by advancing it, never by
// sleeping.
type fakeClock = testclock.Clock

func newClock() *fakeClock { return testclock.New(t0) }

// allowAll is a RateLimiter that never refuses, for the concurrency tests
// (the limiter has its own tests; here it would only get in the way).
type allowAll struct{}

func (allowAll) Hit(context.Context, string, mobileauth.RateLimit, time.Time) (mobileauth.RateDecision, error) {
	return mobileauth.RateDecision{Allowed: true}, nil
}

// eventLog records the metric events the service reports.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (e *eventLog) AuthEvent(event, reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if reason != "" {
		event += "/" + reason
	}
	e.events = append(e.events, event)
}

// count reports how often event (with "/reason" when it had one) occurred.
func (e *eventLog) count(event string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.events {
		if ev == event {
			n++
		}
	}
	return n
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// config is what a fixture option may change.
type config struct {
	gate      license.Options
	limiter   mobileauth.RateLimiter
	settings  authflow.Settings
	rand      io.Reader
	sources   []authflow.SessionSource
	signIn    authflow.SignInOptions
	dbPath    string     // "" = a fresh file in t.TempDir()
	clock     *fakeClock // nil = a fresh clock
	noMigrate bool
	// otts wraps the store's OTTs (nil = the store itself).
	otts func(mobileauth.OTTStore) mobileauth.OTTStore
}

// option tunes newFixture.
type option func(*config)

// community runs the fixture as Community Edition.
func community() option {
	return func(c *config) { c.gate = license.Options{Edition: license.Community} }
}

// hosted runs the fixture as Enterprise without license or trial: the
// tenants' plans decide.
func hosted() option {
	return func(c *config) { c.gate = hostedLicensing }
}

// expiredTrial runs the fixture as Enterprise self-host whose trial ended.
func expiredTrial() option {
	return func(c *config) {
		start := t0.Add(-2 * license.TrialDuration)
		c.gate = license.Options{Edition: license.Enterprise, TrialStartedAt: &start}
	}
}

// withGate sets the gate options as given (the clock is added by newFixture).
func withGate(o license.Options) option { return func(c *config) { c.gate = o } }

// withLimiter replaces the in-memory limiter.
func withLimiter(l mobileauth.RateLimiter) option { return func(c *config) { c.limiter = l } }

// withSettings edits the service settings.
func withSettings(edit func(*authflow.Settings)) option {
	return func(c *config) { edit(&c.settings) }
}

// withSources adds web-session sources tried before the own sessions.
func withSources(src ...authflow.SessionSource) option {
	return func(c *config) { c.sources = append(c.sources, src...) }
}

// withOTTs puts wrap around the store as the service's OTT store.
func withOTTs(wrap func(mobileauth.OTTStore) mobileauth.OTTStore) option {
	return func(c *config) { c.otts = wrap }
}

// withRand replaces the service's randomness.
func withRand(r io.Reader) option { return func(c *config) { c.rand = r } }

// sharing makes the fixture a second instance on other's database file and
// clock, as a replica would be.
func sharing(other *fixture) option {
	return func(c *config) {
		c.dbPath, c.clock, c.noMigrate = other.dbPath, other.clock, true
	}
}

// fixture is a real Service on a real SQLite store.
type fixture struct {
	t      testing.TB
	ctx    context.Context
	clock  *fakeClock
	store  *sqlstore.Store
	svc    *authflow.Service
	gate   *license.Gate
	events *eventLog
	logs   *syncBuffer
	dbPath string
	ips    atomic.Int32
	issuer *token.Issuer // signs access tokens for families made in the store directly
}

// nextIP returns a client address no earlier call of this fixture used, so
// that helpers do not run into the per-IP limits of the tests around them.
func (f *fixture) nextIP() string {
	n := f.ips.Add(1)
	return fmt.Sprintf("10.%d.%d.%d", n>>16&0xff, n>>8&0xff, n&0xff)
}

// newFixture wires a Service the way internal/app does: Enterprise with an
// active trial, the in-memory limiter and crypto randomness by default.
func newFixture(t testing.TB, opts ...option) *fixture {
	t.Helper()
	trialStart := t0.Add(-24 * time.Hour)
	cfg := config{
		gate:    license.Options{Edition: license.Enterprise, TrialStartedAt: &trialStart},
		limiter: ratelimit.NewMemory(),
		rand:    rand.Reader,
		settings: authflow.Settings{OTTTTL: ottTTL, AccessTTL: accessTTL, RefreshTTL: refreshTTL,
			RefreshGrace: grace, SessionTTL: sessionTTL, Origin: origin, OwnHost: ownHost},
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.clock == nil {
		cfg.clock = newClock()
	}
	if cfg.dbPath == "" {
		cfg.dbPath = filepath.Join(t.TempDir(), "x.db")
	}
	ctx := context.Background()
	f := &fixture{t: t, ctx: ctx, clock: cfg.clock, events: &eventLog{}, logs: &syncBuffer{}, dbPath: cfg.dbPath}

	st, err := sqlstore.Open(ctx, "sqlite:"+cfg.dbPath, sqlstore.Options{Now: cfg.clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	if !cfg.noMigrate {
		require.NoError(t, st.Migrate(ctx))
	}
	f.store = st

	ring, err := token.NewKeyring(ctx, st, token.KeyringOptions{Now: cfg.clock.Now, AccessTTL: accessTTL})
	require.NoError(t, err)
	issuer, err := token.NewIssuer(ring, origin, "", accessTTL, cfg.clock.Now, nil)
	require.NoError(t, err)
	verifier, err := token.NewVerifier(ring, origin, "", cfg.clock.Now, token.NewVerifiedCache(0))
	require.NoError(t, err)
	secret, err := st.ServerSecret(ctx, "refresh-successor", func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := io.ReadFull(rand.Reader, b)
		return b, err
	})
	require.NoError(t, err)
	deriver, err := token.NewDeriver(secret)
	require.NoError(t, err)

	cfg.gate.Now = cfg.clock.Now
	f.gate, f.issuer = license.NewGate(cfg.gate), issuer
	var otts mobileauth.OTTStore = st
	if cfg.otts != nil {
		otts = cfg.otts(st)
	}
	f.svc, err = authflow.New(authflow.Deps{
		Stores:  authflow.Stores{OTTs: otts, Sessions: st, Refresh: st, Directory: st, Audit: st},
		Limiter: cfg.limiter, Gate: f.gate, Issuer: issuer, Verifier: verifier, Deriver: deriver,
		Events: f.events, Log: slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now: cfg.clock.Now, Rand: cfg.rand, Settings: cfg.settings, SessionSources: cfg.sources, SignIn: cfg.signIn,
	})
	require.NoError(t, err)
	return f
}

// Directory users of the fixtures.
var (
	alice  = mobileauth.User{TenantID: "tenant-a", ID: "u-alice", Email: "alice@example.com", FirstName: "Alice", LastName: "Liddell", Type: mobileauth.UserInternal, Active: true}
	bob    = mobileauth.User{TenantID: "tenant-a", ID: "u-bob", Email: "bob@example.com", FirstName: "Bob", Type: mobileauth.UserInternal, Active: true}
	carol  = mobileauth.User{TenantID: "tenant-a", ID: "u-carol", Email: "carol@customer.example", FirstName: "Carol", Type: mobileauth.UserClient, Active: true}
	dave   = mobileauth.User{TenantID: "tenant-a", ID: "u-dave", Email: "dave@example.com", FirstName: "Dave", Type: mobileauth.UserInternal, Active: false}
	eve1   = mobileauth.User{TenantID: "tenant-a", ID: "u-eve", Email: "eve@example.com", Type: mobileauth.UserInternal, Active: true}
	eve2   = mobileauth.User{TenantID: "tenant-b", ID: "u-eve-b", Email: "Eve@Example.com", Type: mobileauth.UserInternal, Active: true}
	frank1 = mobileauth.User{TenantID: "tenant-a", ID: "u-frank", Email: "frank@example.com", Type: mobileauth.UserInternal, Active: true}
	frank2 = mobileauth.User{TenantID: "tenant-b", ID: "u-frank-b", Email: "frank@example.com", Type: mobileauth.UserInternal, Active: false}
)

// addUsers stores users in the directory.
func (f *fixture) addUsers(users ...mobileauth.User) {
	f.t.Helper()
	for _, u := range users {
		require.NoError(f.t, f.store.AddUser(f.ctx, u))
	}
}

// signIn opens a web session for email and returns its clear id.
func (f *fixture) signIn(email string) string {
	f.t.Helper()
	res, err := f.svc.SignIn(f.ctx, authflow.SignInRequest{Provider: "google", Email: email, ClientIP: "198.51.100.1"})
	require.NoError(f.t, err)
	return res.SessionID
}

// cookies are a browser's cookies carrying the own session sessionID.
func cookies(sessionID string) map[string]string {
	return map[string]string{authflow.DefaultSessionCookie: sessionID}
}

// handoffReq builds a handoff request for the session, from ip.
func (f *fixture) handoffReq(sessionID, state, challenge, ip string) authflow.HandoffRequest {
	f.t.Helper()
	_, err := f.svc.WebSession(f.ctx, cookies(sessionID))
	require.NoError(f.t, err)
	req := authflow.HandoffRequest{Redirect: deepLink, State: state, Cookies: cookies(sessionID),
		ReturnURL: origin + "/auth/mobile/handoff", CodeChallenge: challenge, RequestHost: ownHost, ClientIP: ip}
	if challenge != "" {
		req.CodeChallengeMethod = "S256"
	}
	return req
}

// handoff runs a successful handoff and returns the OTT from the deep link.
func (f *fixture) handoff(sessionID, state, challenge, ip string) string {
	f.t.Helper()
	res, err := f.svc.Handoff(f.ctx, f.handoffReq(sessionID, state, challenge, ip))
	require.NoError(f.t, err)
	u, err := url.Parse(res.Location)
	require.NoError(f.t, err)
	ott := u.Query().Get("ott")
	require.NotEmpty(f.t, ott)
	return ott
}

// issueOTT signs email in and hands off once: the OTT and the session id.
func (f *fixture) issueOTT(email, state, challenge string) (ott, sessionID string) {
	f.t.Helper()
	sessionID = f.signIn(email)
	return f.handoff(sessionID, state, challenge, f.nextIP()), sessionID
}

// exchangeReq is a well-formed exchange of ott with state from ip.
func exchangeReq(ott, state, ip string) authflow.ExchangeRequest {
	return authflow.ExchangeRequest{OTT: ott, State: state, ClientIP: ip,
		Device: mobileauth.Device{Platform: "ios", AppVersion: "1.4.0", BuildVersion: "140", DeviceID: "dev-1"}}
}

// session runs sign-in, handoff and exchange for email: a fresh token family.
func (f *fixture) session(email string) authflow.ExchangeResult {
	f.t.Helper()
	ott, _ := f.issueOTT(email, "st", "")
	res, err := f.svc.Exchange(f.ctx, exchangeReq(ott, "st", f.nextIP()))
	require.NoError(f.t, err)
	return res
}

// refresh rotates rt from ip and requires success.
func (f *fixture) refresh(rt string) authflow.RefreshResult {
	f.t.Helper()
	res, err := f.svc.Refresh(f.ctx, authflow.RefreshRequest{RefreshToken: rt, ClientIP: f.nextIP()})
	require.NoError(f.t, err)
	return res
}

// familyOf returns the family id an access token belongs to.
func (f *fixture) familyOf(access string) string {
	f.t.Helper()
	p, err := f.svc.Verify(f.ctx, access)
	require.NoError(f.t, err)
	return p.SessionID
}

// audits returns the stored audit events with operation op, newest first.
func (f *fixture) audits(op string) []mobileauth.AuditEvent {
	f.t.Helper()
	all, err := f.store.ListAudit(f.ctx, mobileauth.AuditFilter{Limit: 1000})
	require.NoError(f.t, err)
	var out []mobileauth.AuditEvent
	for _, e := range all {
		if e.Operation == op {
			out = append(out, e)
		}
	}
	return out
}

// count runs a COUNT(*) query against the store's database.
func (f *fixture) count(query string, args ...any) int {
	f.t.Helper()
	var n int
	require.NoError(f.t, f.store.DB().QueryRowContext(f.ctx, query, args...).Scan(&n))
	return n
}

// hashBytes is the stored form of a clear token, as a query argument.
func hashBytes(tok string) []byte {
	h := token.HashOf(tok)
	return h[:]
}

// errNoEntropy is what failingReader fails with.
var errNoEntropy = errors.New("entropy source failed")

// failingReader is a randomness source that always fails.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errNoEntropy }

// pkcePair returns a verifier and its S256 challenge.
func pkcePair(t *testing.T) (verifier, challenge string) {
	t.Helper()
	v, err := token.NewOpaque(rand.Reader)
	require.NoError(t, err)
	sum := sha256.Sum256([]byte(v))
	return v, base64.RawURLEncoding.EncodeToString(sum[:])
}

// licenseSigner is a test vendor key for self-host licenses.
type licenseSigner struct {
	kid string
	key *ecdsa.PrivateKey
}

func newLicenseSigner(t *testing.T) licenseSigner {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return licenseSigner{kid: "test-1", key: k}
}

// keys is the license key set holding this signer.
func (s licenseSigner) keys() license.Keys { return license.Keys{s.kid: &s.key.PublicKey} }

// license signs a license of tier valid from t0-1h until exp, bound to
// the tenant aud when one is given.
func (s licenseSigner) license(t *testing.T, tier string, exp time.Time, aud ...string) string {
	t.Helper()
	claims := jwt.MapClaims{
		"iss": license.Issuer, "sub": "lic-1", "cust": "Acme MSP", "tier": tier,
		"iat": t0.Add(-time.Hour).Unix(), "exp": exp.Unix(),
	}
	if len(aud) > 0 {
		claims["aud"] = aud[0]
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = s.kid
	raw, err := tok.SignedString(s.key)
	require.NoError(t, err)
	return raw
}
