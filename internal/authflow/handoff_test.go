package authflow_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// TestHandoffBeforeTheSession covers SPEC §3.3 steps 1–3: parameters,
// redirect rule, web session. None of them issues an OTT.
func TestHandoffBeforeTheSession(t *testing.T) {
	const here = origin + "/auth/mobile/handoff?redirect=alga%3A%2F%2Fauth%2Fcallback&state=s"
	cases := []struct {
		name     string
		redirect string
		state    string
		signedIn bool
		list     []string
		outcome  authflow.HandoffOutcome
		location string
	}{
		{name: "redirect missing", state: "s", signedIn: true, outcome: authflow.HandoffSignIn, location: "/auth/signin"},
		{name: "state missing", redirect: deepLink, signedIn: true, outcome: authflow.HandoffSignIn, location: "/auth/signin"},
		{name: "redirect of another shape", redirect: "alga://evil/callback", state: "s", signedIn: true,
			outcome: authflow.HandoffInvalidRedirect, location: "/auth/signin?error=invalid_redirect"},
		{name: "https redirect to a foreign host", redirect: "https://evil.example/auth/callback", state: "s", signedIn: true,
			outcome: authflow.HandoffInvalidRedirect, location: "/auth/signin?error=invalid_redirect"},
		{name: "https redirect to an allowlisted host", redirect: "https://m.example.com/auth/callback", state: "s",
			list: []string{"m.example.com", ownHost}, signedIn: true, outcome: authflow.HandoffIssued},
		{name: "https redirect to the own host", redirect: origin + "/app/auth/callback", state: "s", signedIn: true,
			outcome: authflow.HandoffIssued},
		{name: "exp redirect to a public address", redirect: "exp://8.8.8.8:8081/--/auth/callback", state: "s", signedIn: true,
			outcome: authflow.HandoffInvalidRedirect, location: "/auth/signin?error=invalid_redirect"},
		{name: "state with a control character", redirect: deepLink, state: "a\x00b", signedIn: true,
			outcome: authflow.HandoffInvalidRedirect, location: "/auth/signin?error=invalid_redirect"},
		{name: "oversized state", redirect: deepLink, state: strings.Repeat("s", 513), signedIn: true,
			outcome: authflow.HandoffInvalidRedirect, location: "/auth/signin?error=invalid_redirect"},
		{name: "invalid redirect is judged before the session", redirect: "alga://evil/callback", state: "s",
			outcome: authflow.HandoffInvalidRedirect, location: "/auth/signin?error=invalid_redirect"},
		{name: "no web session", redirect: deepLink, state: "s", outcome: authflow.HandoffSignIn,
			location: "/auth/signin?" + url.Values{"callbackUrl": {here}}.Encode()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, withSettings(func(s *authflow.Settings) { s.HostAllowlist = tc.list }))
			f.addUsers(alice)
			req := authflow.HandoffRequest{Redirect: tc.redirect, State: tc.state, ReturnURL: here,
				RequestHost: ownHost, ClientIP: "192.0.2.1"}
			if tc.signedIn {
				req.Cookies = cookies(f.signIn(alice.Email))
			}
			res, err := f.svc.Handoff(f.ctx, req)
			require.NoError(t, err)
			assert.Equal(t, tc.outcome, res.Outcome)
			if tc.outcome == authflow.HandoffIssued {
				assert.True(t, hasOTT(res))
				return
			}
			assert.Equal(t, tc.location, res.Location)
			assert.Zero(t, f.count("SELECT COUNT(*) FROM one_time_tokens"), "no OTT issued")
		})
	}
}

// fakeSource is a SessionSource standing in for the AlgaPSA web app's
// cookie: one cookie names a session; sessions can be ended.
type fakeSource struct {
	mu      sync.Mutex
	user    mobileauth.User
	started time.Time
	ended   map[string]bool
	checks  int
	fail    error
}

func (s *fakeSource) Name() string { return "fake" }

func (s *fakeSource) Session(_ context.Context, cookies map[string]string, _ time.Time) (authflow.SessionInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return authflow.SessionInfo{}, s.fail
	}
	ref, ok := cookies["fake-session"]
	if !ok || s.ended[ref] {
		return authflow.SessionInfo{}, authflow.ErrNoSession
	}
	return authflow.SessionInfo{User: s.user, Ref: ref, StartedAt: s.started}, nil
}

func (s *fakeSource) StillValid(_ context.Context, ref, tenantID, userID string, _ time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks++
	return !s.ended[ref] && tenantID == s.user.TenantID && userID == s.user.ID, nil
}

func (s *fakeSource) end(ref string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended[ref] = true
}

func TestHandoffTriesSessionSourcesInOrder(t *testing.T) {
	src := &fakeSource{user: bob, started: t0.Add(-time.Hour), ended: map[string]bool{}}
	f := newFixture(t, withSources(src))
	f.addUsers(alice, bob)
	own := f.signIn(alice.Email)

	// Both cookies: the configured source comes first.
	both := cookies(own)
	both["fake-session"] = "tenant-a:s-1"
	info, err := f.svc.WebSession(f.ctx, both)
	require.NoError(t, err)
	assert.Equal(t, "fake", info.Source)
	assert.Equal(t, bob.ID, info.User.ID)
	assert.Equal(t, t0.Add(-time.Hour), info.StartedAt)

	// Only the own cookie: the own session.
	info, err = f.svc.WebSession(f.ctx, cookies(own))
	require.NoError(t, err)
	assert.Equal(t, authflow.SourceOwn, info.Source)
	assert.Equal(t, alice.ID, info.User.ID)

	// Neither.
	_, err = f.svc.WebSession(f.ctx, map[string]string{"other": "x"})
	assert.ErrorIs(t, err, authflow.ErrNoSession)

	// A source that fails (its database is down) is an error, not "signed out".
	src.fail = errors.New("database down")
	_, err = f.svc.WebSession(f.ctx, both)
	require.Error(t, err)
	assert.NotErrorIs(t, err, authflow.ErrNoSession)
}

func TestOTTRecordsItsSessionSourceAndExchangeChecksItAgain(t *testing.T) {
	src := &fakeSource{user: bob, ended: map[string]bool{}}
	f := newFixture(t, withSources(src))
	f.addUsers(bob)
	issue := func(ref string) string {
		t.Helper()
		res, err := f.svc.Handoff(f.ctx, authflow.HandoffRequest{Redirect: deepLink, State: "s",
			Cookies: map[string]string{"fake-session": ref}, RequestHost: ownHost, ClientIP: f.nextIP()})
		require.NoError(t, err)
		require.Equal(t, authflow.HandoffIssued, res.Outcome)
		assert.Equal(t, "fake", res.Session.Source)
		u, err := url.Parse(res.Location)
		require.NoError(t, err)
		return u.Query().Get("ott")
	}

	ott := issue("tenant-a:s-1")
	var source, ref string
	require.NoError(t, f.store.DB().QueryRowContext(f.ctx,
		"SELECT session_source, session_ref FROM one_time_tokens WHERE hash = ?", hashBytes(ott)).Scan(&source, &ref))
	assert.Equal(t, "fake", source)
	assert.Equal(t, "tenant-a:s-1", ref)
	ex, err := f.svc.Exchange(f.ctx, exchangeReq(ott, "s", f.nextIP()))
	require.NoError(t, err)
	assert.Equal(t, bob.ID, ex.User.ID)
	assert.Equal(t, 1, src.checks, "the exchange asked the source again")

	// Signed out of the web app between hand-off and exchange: 401.
	ott = issue("tenant-a:s-2")
	src.end("tenant-a:s-2")
	_, err = f.svc.Exchange(f.ctx, exchangeReq(ott, "s", f.nextIP()))
	assertError(t, err, mobileauth.CodeUnauthorized, msgInvalidToken)
	assert.Equal(t, 1, f.events.count("ott_rejected/session_ended"))
}

func TestOTTOfASourceNoLongerConfiguredIsRefused(t *testing.T) {
	src := &fakeSource{user: bob, ended: map[string]bool{}}
	f := newFixture(t, withSources(src))
	f.addUsers(bob)
	res, err := f.svc.Handoff(f.ctx, authflow.HandoffRequest{Redirect: deepLink, State: "s",
		Cookies: map[string]string{"fake-session": "r"}, RequestHost: ownHost, ClientIP: f.nextIP()})
	require.NoError(t, err)
	u, err := url.Parse(res.Location)
	require.NoError(t, err)

	g := newFixture(t, sharing(f)) // a replica without the source
	_, err = g.svc.Exchange(g.ctx, exchangeReq(u.Query().Get("ott"), "s", g.nextIP()))
	assertError(t, err, mobileauth.CodeUnauthorized, msgInvalidToken)
}
