package authflow_test

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

func TestSignIn(t *testing.T) {
	cases := []struct {
		name    string
		email   string
		want    mobileauth.User // zero: refused
		err     error
		reason  string // audit reason of a refusal
		refused bool
	}{
		{name: "known user", email: alice.Email, want: alice},
		{name: "matches case-insensitively and trims", email: "  ALICE@Example.COM ", want: alice},
		{name: "client users may sign in (handoff refuses them)", email: carol.Email, want: carol},
		{name: "an inactive namesake in another tenant does not count", email: frank1.Email, want: frank1},
		{name: "unknown e-mail", email: "mallory@example.com", err: authflow.ErrUnknownUser, reason: "unknown_or_inactive"},
		{name: "inactive user", email: dave.Email, err: authflow.ErrUnknownUser, reason: "unknown_or_inactive"},
		{name: "e-mail in two tenants", email: "eve@example.com", err: authflow.ErrAmbiguousUser, reason: "ambiguous"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.addUsers(alice, carol, dave, eve1, eve2, frank1, frank2)
			res, err := f.svc.SignIn(f.ctx, authflow.SignInRequest{Provider: "microsoft", Email: tc.email, ClientIP: "192.0.2.5"})
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assert.Empty(t, res.SessionID)
				assert.Zero(t, f.count("SELECT COUNT(*) FROM web_sessions"), "no session")
				ev := f.audits(mobileauth.AuditSignInRefused)
				require.Len(t, ev, 1)
				assert.Equal(t, "192.0.2.5", ev[0].ClientIP)
				assert.Equal(t, map[string]string{"provider": "microsoft", "reason": tc.reason,
					"email": strings.ToLower(strings.TrimSpace(tc.email))}, ev[0].Details)
				assert.Empty(t, f.audits(mobileauth.AuditSignIn))
				return
			}
			require.NoError(t, err)
			assert.Len(t, res.SessionID, token.OpaqueLen)
			assert.Equal(t, tc.want.ID, res.User.ID)
			assert.Equal(t, tc.want.TenantID, res.User.TenantID)

			info, err := f.svc.WebSession(f.ctx, cookies(res.SessionID))
			require.NoError(t, err)
			assert.Equal(t, tc.want.ID, info.User.ID)
			assert.Equal(t, authflow.SourceOwn, info.Source)
			assert.Equal(t, t0, info.StartedAt.UTC())
			sess, err := f.store.GetSession(f.ctx, token.HashOf(res.SessionID))
			require.NoError(t, err)
			assert.Equal(t, tc.want.TenantID, sess.TenantID)
			assert.Equal(t, "microsoft", sess.Provider)
			assert.Equal(t, t0.Add(sessionTTL), sess.ExpiresAt.UTC())
			ev := f.audits(mobileauth.AuditSignIn)
			require.Len(t, ev, 1)
			assert.Equal(t, tc.want.ID, ev[0].UserID)
			assert.Equal(t, "microsoft", ev[0].Details["provider"])
			assert.Empty(t, f.audits(mobileauth.AuditSignInRefused))
		})
	}
}

func TestSessionUserRefusals(t *testing.T) {
	cases := []struct {
		name string
		id   func(t *testing.T, f *fixture, sessionID string) string
	}{
		{name: "empty id", id: func(*testing.T, *fixture, string) string { return "" }},
		{name: "oversized id", id: func(*testing.T, *fixture, string) string { return strings.Repeat("s", 129) }},
		{name: "unknown id", id: func(*testing.T, *fixture, string) string { return "never-issued" }},
		{name: "expired session", id: func(_ *testing.T, f *fixture, id string) string {
			f.clock.Advance(sessionTTL)
			return id
		}},
		{name: "signed out", id: func(t *testing.T, f *fixture, id string) string {
			require.NoError(t, f.svc.SignOut(f.ctx, id))
			return id
		}},
		{name: "user disabled since", id: func(t *testing.T, f *fixture, id string) string {
			require.NoError(t, f.store.SetUserActive(f.ctx, alice.TenantID, alice.Email, false, f.clock.Now()))
			return id
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.addUsers(alice)
			id := f.signIn(alice.Email)
			_, err := f.svc.WebSession(f.ctx, cookies(tc.id(t, f, id)))
			assert.ErrorIs(t, err, authflow.ErrNoSession)
		})
	}
}

func TestSessionUserJustBeforeExpiry(t *testing.T) {
	f := newFixture(t)
	f.addUsers(alice)
	id := f.signIn(alice.Email)
	f.clock.Advance(sessionTTL - time.Millisecond)
	_, err := f.svc.WebSession(f.ctx, cookies(id))
	assert.NoError(t, err)
}

func TestSignOutOfUnknownSessionIsANoOp(t *testing.T) {
	f := newFixture(t)
	for _, id := range []string{"", "never-issued", strings.Repeat("s", 129)} {
		assert.NoError(t, f.svc.SignOut(f.ctx, id))
	}
}

func TestSignOutLeavesExchangedSessionsAlive(t *testing.T) {
	f := newFixture(t)
	f.addUsers(alice)
	ott, sessionID := f.issueOTT(alice.Email, "s", "")
	ex, err := f.svc.Exchange(f.ctx, exchangeReq(ott, "s", "1.1.1.1"))
	require.NoError(t, err)
	require.NoError(t, f.svc.SignOut(f.ctx, sessionID))
	_, err = f.svc.Verify(f.ctx, ex.AccessToken)
	assert.NoError(t, err)
	f.refresh(ex.RefreshToken)
}

// base64url is the unpadded base64url alphabet.
var base64url = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func TestHandoffIssuesOTT(t *testing.T) {
	_, challenge := pkcePair(t)
	cases := []struct {
		name      string
		redirect  string
		state     string
		challenge string
		wantBase  string     // Location without the ott parameter's value
		wantQuery url.Values // besides ott
	}{
		{name: "app deep link", redirect: deepLink, state: "st-1",
			wantBase: deepLink, wantQuery: url.Values{"state": {"st-1"}}},
		{name: "with PKCE challenge", redirect: deepLink, state: "st-2", challenge: challenge,
			wantBase: deepLink, wantQuery: url.Values{"state": {"st-2"}}},
		{name: "keeps existing redirect parameters", redirect: deepLink + "?keep=1&also=two%20words", state: "st-3",
			wantBase: deepLink, wantQuery: url.Values{"keep": {"1"}, "also": {"two words"}, "state": {"st-3"}}},
		{name: "replaces a planted ott and state", redirect: deepLink + "?ott=planted&state=planted", state: "real",
			wantBase: deepLink, wantQuery: url.Values{"state": {"real"}}},
		{name: "expo development link", redirect: "exp://192.168.1.5:8081/--/auth/callback", state: "st & ?=",
			wantBase: "exp://192.168.1.5:8081/--/auth/callback", wantQuery: url.Values{"state": {"st & ?="}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.addUsers(alice)
			sessionID := f.signIn(alice.Email)
			req := f.handoffReq(sessionID, tc.state, tc.challenge, "192.0.2.9")
			req.Redirect = tc.redirect

			res, err := f.svc.Handoff(f.ctx, req)
			require.NoError(t, err)
			require.True(t, hasOTT(res))
			loc, err := url.Parse(res.Location)
			require.NoError(t, err)
			q := loc.Query()
			ott := q.Get("ott")
			require.Len(t, q["ott"], 1)
			q.Del("ott")
			assert.Equal(t, tc.wantQuery, q)
			loc.RawQuery = ""
			assert.Equal(t, tc.wantBase, loc.String())

			// ≥ 128 bits, base64url.
			assert.Regexp(t, base64url, ott)
			raw, err := base64.RawURLEncoding.DecodeString(ott)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, len(raw)*8, 128)

			var (
				state, storedChallenge string
				sessHash               []byte
				expires                int64
			)
			require.NoError(t, f.store.DB().QueryRowContext(f.ctx,
				"SELECT state, code_challenge, session_hash, expires_at FROM one_time_tokens WHERE hash = ?", hashBytes(ott)).
				Scan(&state, &storedChallenge, &sessHash, &expires))
			assert.Equal(t, tc.state, state)
			assert.Equal(t, tc.challenge, storedChallenge, "the OTT carries the PKCE challenge")
			assert.Equal(t, hashBytes(sessionID), sessHash)
			assert.Equal(t, t0.Add(ottTTL).UnixMilli(), expires)

			ev := f.audits(mobileauth.AuditOTTIssued)
			require.Len(t, ev, 1)
			assert.Equal(t, alice.ID, ev[0].UserID)
			assert.Equal(t, "192.0.2.9", ev[0].ClientIP)
			assert.NotContains(t, ev[0].RecordID, ott)
		})
	}
}

func TestHandoffOTTsAreDistinct(t *testing.T) {
	f := newFixture(t)
	f.addUsers(alice)
	id := f.signIn(alice.Email)
	seen := map[string]bool{}
	for range 10 {
		ott := f.handoff(id, "s", "", "192.0.2.1")
		assert.False(t, seen[ott], "OTT repeated")
		seen[ott] = true
	}
}

func TestHandoffRefusals(t *testing.T) {
	cases := []struct {
		name      string
		user      mobileauth.User
		allowlist []string
		host      string
		prepare   func(f *fixture, sessionID string) // runs before the refused handoff
		want      string
	}{
		{name: "client user", user: carol, host: ownHost, want: authflow.RefuseClientUser},
		{name: "client user is refused before the host check", user: carol, host: "evil.example", want: authflow.RefuseClientUser},
		{name: "host not on the allowlist", user: alice, allowlist: []string{"m.example.com"}, host: ownHost, want: authflow.RefuseHost},
		{name: "empty allowlist and a foreign host", user: alice, host: "evil.example", want: authflow.RefuseHost},
		{name: "empty allowlist and no host", user: alice, host: "", want: authflow.RefuseHost},
		{name: "eleventh handoff within a minute", user: alice, host: ownHost, want: authflow.RefuseRateLimit,
			prepare: func(f *fixture, id string) {
				for range 10 {
					f.clock.Advance(5 * time.Second)
					f.handoff(id, "s", "", "192.0.2.1")
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, withSettings(func(s *authflow.Settings) { s.HostAllowlist = tc.allowlist }))
			f.addUsers(tc.user)
			id := f.signIn(tc.user.Email)
			if tc.prepare != nil {
				tc.prepare(f, id)
			}
			before := f.count("SELECT COUNT(*) FROM one_time_tokens")
			req := f.handoffReq(id, "st&1", "", "192.0.2.1")
			req.RequestHost = tc.host
			res, err := f.svc.Handoff(f.ctx, req)
			require.NoError(t, err)
			assert.False(t, hasOTT(res))
			assert.Equal(t, deepLink+"?error="+tc.want+"&state=st%261", res.Location)
			assert.Equal(t, before, f.count("SELECT COUNT(*) FROM one_time_tokens"), "no OTT issued")
			assert.Equal(t, 1, f.events.count("handoff_refused/"+tc.want))
		})
	}
}

func TestHandoffHostRules(t *testing.T) {
	cases := []struct {
		name      string
		allowlist []string
		host      string
		ok        bool
	}{
		{name: "own host with empty allowlist", host: ownHost, ok: true},
		{name: "own host with a port", host: ownHost + ":443", ok: true},
		{name: "own host in another case", host: "PSA.Example.com", ok: true},
		{name: "listed host", allowlist: []string{"m.example.com", ownHost}, host: "m.example.com", ok: true},
		{name: "unlisted own host", allowlist: []string{"m.example.com"}, host: ownHost, ok: false},
		{name: "suffix of a listed host", allowlist: []string{"example.com"}, host: "evil-example.com", ok: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, withSettings(func(s *authflow.Settings) { s.HostAllowlist = tc.allowlist }))
			f.addUsers(alice)
			req := f.handoffReq(f.signIn(alice.Email), "s", "", "192.0.2.1")
			req.RequestHost = tc.host
			res, err := f.svc.Handoff(f.ctx, req)
			require.NoError(t, err)
			assert.Equal(t, tc.ok, hasOTT(res), res.Location)
		})
	}
}

func TestHandoffRateLimitIsPerUserAndAddress(t *testing.T) {
	f := newFixture(t)
	f.addUsers(alice, bob)
	aliceID, bobID := f.signIn(alice.Email), f.signIn(bob.Email)
	for range 10 {
		f.handoff(aliceID, "s", "", "192.0.2.1")
	}
	refused, err := f.svc.Handoff(f.ctx, f.handoffReq(aliceID, "s", "", "192.0.2.1"))
	require.NoError(t, err)
	require.False(t, hasOTT(refused))

	f.handoff(aliceID, "s", "", "192.0.2.2") // same user, another address
	f.handoff(bobID, "s", "", "192.0.2.1")   // another user, same address

	// Blocked for five minutes, then allowed again.
	f.clock.Advance(5*time.Minute - time.Second)
	refused, err = f.svc.Handoff(f.ctx, f.handoffReq(aliceID, "s", "", "192.0.2.1"))
	require.NoError(t, err)
	assert.False(t, hasOTT(refused))
	f.clock.Advance(time.Second)
	f.handoff(aliceID, "s", "", "192.0.2.1")
}

func TestHandoffRandomnessFailureIsAnError(t *testing.T) {
	f := newFixture(t, withRand(failingReader{}))
	f.addUsers(alice)
	// SignIn needs randomness too, so the session is opened by a second
	// service on the same database.
	g := newFixture(t, sharing(f))
	id := g.signIn(alice.Email)
	_, err := f.svc.Handoff(f.ctx, f.handoffReq(id, "s", "", "192.0.2.1"))
	require.ErrorIs(t, err, errNoEntropy)
	assert.Zero(t, f.count("SELECT COUNT(*) FROM one_time_tokens"))

	_, err = f.svc.SignIn(f.ctx, authflow.SignInRequest{Provider: "google", Email: alice.Email})
	require.ErrorIs(t, err, errNoEntropy)
}

// hasOTT reports whether the hand-off issued an OTT (rather than refusing).
func hasOTT(res authflow.HandoffResult) bool {
	u, err := url.Parse(res.Location)
	return err == nil && u.Query().Get("ott") != ""
}

func TestRateIPGroupsIPv6By64(t *testing.T) {
	assert.Equal(t, authflow.RateIPForTest("2001:db8:1:2:aaaa::1"), authflow.RateIPForTest("2001:db8:1:2:bbbb::9"))
	assert.NotEqual(t, authflow.RateIPForTest("2001:db8:1:2::1"), authflow.RateIPForTest("2001:db8:1:3::1"))
	assert.Equal(t, "192.0.2.7", authflow.RateIPForTest("192.0.2.7"))
	assert.Equal(t, "not-an-ip", authflow.RateIPForTest("not-an-ip"))
}
