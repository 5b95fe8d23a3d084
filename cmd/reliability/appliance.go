package main

// Appliance mode (SPEC §8) for the outage scenario: the service beside a
// stand-in of AlgaPSA's database (internal/algapsa/algapsatest's schema,
// owned by one role and used by another holding only SPEC §8.1's
// privileges) in a PostgreSQL cluster of its own, so that it can be stopped
// while the service's own store, on the rig's cluster, stays up. Phones
// sign in as on an appliance: the web app's Auth.js session cookie at a
// real hand-off, then the exchange; their access tokens are AlgaPSA API
// keys.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/authjs"
	"github.com/nineminds/alga-mobile-auth/internal/authjs/authjstest"
	"github.com/nineminds/alga-mobile-auth/internal/harness"
)

// webSecret is the web app's NEXTAUTH_SECRET on the rig's appliance.
const webSecret = "reliability-web-app-nextauth-secret-0123456789"

// algaPSA is the stand-in of AlgaPSA's database in a cluster of its own.
type algaPSA struct {
	pg     *postgres
	appURL string // as the service's role, search_path set
}

// startAlgaPSA starts a second PostgreSQL cluster and creates in it the
// stand-in (database "server", schema algapsa) with users [0, users) in
// harness's tenants, each with a live web session.
func (r *rig) startAlgaPSA(ctx context.Context, users int) (*algaPSA, error) {
	pg, err := startPostgres(ctx, filepath.Join(r.tmp, "pg-algapsa"))
	if err != nil {
		return nil, fmt.Errorf("AlgaPSA's PostgreSQL: %w", err)
	}
	a := &algaPSA{pg: pg}
	adminURL, err := pg.createDB(ctx, "server")
	if err == nil {
		err = a.createSchema(ctx, adminURL, users)
	}
	if err != nil {
		pg.destroy()
		return nil, fmt.Errorf("AlgaPSA's stand-in: %w", err)
	}
	u, _ := url.Parse(adminURL)
	q := u.Query()
	q.Set("search_path", "algapsa")
	u.RawQuery = q.Encode()
	u.User = url.UserPassword("app_user", "reliability")
	a.appURL = u.String()
	return a, nil
}

func (a *algaPSA) createSchema(ctx context.Context, adminURL string, users int) error {
	c, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close(ctx) }()
	stmts := []string{
		"CREATE ROLE algapsa_owner NOLOGIN",
		"CREATE ROLE app_user LOGIN PASSWORD 'reliability'",
		"CREATE SCHEMA algapsa AUTHORIZATION algapsa_owner",
	}
	for _, q := range stmts {
		if _, err := c.Exec(ctx, q); err != nil {
			return err
		}
	}
	err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL ROLE algapsa_owner; SET LOCAL search_path = algapsa"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, algapsatest.Schema())
		return err
	})
	if err != nil {
		return err
	}
	grants := []string{"GRANT USAGE ON SCHEMA algapsa TO app_user"}
	for _, g := range algapsatest.Grants {
		grants = append(grants, "GRANT "+g.Privilege+" ON algapsa."+g.Table+" TO app_user")
	}
	seed := []struct {
		sql  string
		args []any
	}{
		{"INSERT INTO algapsa.tenants (tenant) SELECT format('5eed0000-0000-4000-8000-%s', lpad(i::text, 12, '0'))::uuid FROM generate_series(0, $1 - 1) i",
			[]any{harness.Tenants}},
		{`INSERT INTO algapsa.users (tenant, user_id, username, hashed_password, email, first_name, last_name, user_type, is_inactive)
		  SELECT format('5eed0000-0000-4000-8000-%s', lpad((i % $2)::text, 12, '0'))::uuid,
		         format('00000000-0000-4000-8000-%s', lpad(i::text, 12, '0'))::uuid,
		         'rel-' || i, 'not-a-real-hash', format('bench-%s@example.com', lpad(i::text, 6, '0')), 'Rel', i::text, 'internal', false
		    FROM generate_series(0, $1 - 1) i`, []any{users, harness.Tenants}},
		{`INSERT INTO algapsa.sessions (tenant, session_id, user_id, expires_at)
		  SELECT format('5eed0000-0000-4000-8000-%s', lpad((i % $2)::text, 12, '0'))::uuid,
		         format('5e550000-0000-4000-8000-%s', lpad(i::text, 12, '0'))::uuid,
		         format('00000000-0000-4000-8000-%s', lpad(i::text, 12, '0'))::uuid, now() + interval '12 hours'
		    FROM generate_series(0, $1 - 1) i`, []any{users, harness.Tenants}},
	}
	for _, q := range grants {
		if _, err := c.Exec(ctx, q); err != nil {
			return err
		}
	}
	for _, q := range seed {
		if _, err := c.Exec(ctx, q.sql, q.args...); err != nil {
			return err
		}
	}
	return nil
}

// env puts the service in appliance mode against the stand-in.
func (a *algaPSA) env() []string {
	return []string{"ALGA_PSA_DATABASE_URL=" + a.appURL, "NEXTAUTH_SECRET=" + webSecret}
}

// webSessionID is user i's web session in the stand-in.
func webSessionID(i int) string { return fmt.Sprintf("5e550000-0000-4000-8000-%012d", i) }

// handOff has the service issue user i an OTT for state at the hand-off,
// with the web app's session cookie as the browser would send it.
func handOff(ctx context.Context, base string, i int, state string) (harness.OTT, error) {
	name := authjs.CookieName(base)
	cookies, err := authjstest.Cookies(authjstest.Token{Secret: webSecret, CookieName: name, Now: time.Now(), MaxAge: 12 * time.Hour,
		Claims: map[string]any{"id": harness.UserID(i), "sub": harness.UserID(i), "tenant": harness.TenantID(i), "user_type": "internal",
			"email": harness.Email(i), "name": fmt.Sprintf("Rel %d", i), "session_id": webSessionID(i)}})
	if err != nil {
		return harness.OTT{}, err
	}
	parts := make([]string, 0, len(cookies))
	for k, v := range cookies {
		parts = append(parts, k+"="+v)
	}
	u := base + "/auth/mobile/handoff?" + url.Values{"redirect": {"alga://auth/callback"}, "state": {state}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return harness.OTT{}, err
	}
	req.Header.Set("Cookie", strings.Join(parts, "; "))
	req.Header.Set("X-Forwarded-For", harness.IPOf(i))
	hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		return harness.OTT{}, err
	}
	_ = resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || loc.Query().Get("ott") == "" {
		return harness.OTT{}, fmt.Errorf("hand-off of user %d: status %d, Location %q", i, resp.StatusCode, resp.Header.Get("Location"))
	}
	return harness.OTT{OTT: loc.Query().Get("ott"), State: state, IP: harness.IPOf(i), Device: fmt.Sprintf("rel-device-%d", i), User: i}, nil
}

// startApplianceLoad starts one service in appliance mode (own store in a
// fresh database of the rig's cluster) and signs phones in through it:
// ottUsers users get ottsEach OTTs each (not yet exchanged), the next
// chains users a refresh token each, the next one an API key for verify.
func (r *rig) startApplianceLoad(ctx context.Context, psa *algaPSA, ottUsers, ottsEach, chains int) (*instance, outageLoad, error) {
	ownURL, err := r.pg.createDB(ctx, "rel_appliance_own")
	if err != nil {
		return nil, outageLoad{}, err
	}
	in, err := r.newInstance("appliance", ownURL, psa.env()...)
	if err != nil {
		return nil, outageLoad{}, err
	}
	if err := in.start(ctx); err != nil {
		return nil, outageLoad{}, err
	}
	l := outageLoad{in: in}
	c := newClient(10 * time.Second)
	for k := range ottsEach {
		for u := range ottUsers {
			o, err := handOff(ctx, in.base, u, fmt.Sprintf("st-%d-%d", u, k))
			if err != nil {
				in.stop()
				return nil, outageLoad{}, err
			}
			l.otts = append(l.otts, o)
		}
	}
	signIn := func(u int) (pair, error) {
		o, err := handOff(ctx, in.base, u, fmt.Sprintf("st-signin-%d", u))
		if err != nil {
			return pair{}, err
		}
		p, res := c.exchange(ctx, in.base, o)
		if res.status != http.StatusOK {
			return pair{}, fmt.Errorf("exchange of user %d: %s %s", u, res.kind(), res.body)
		}
		return p, nil
	}
	for k := range chains {
		u := ottUsers + k
		p, err := signIn(u)
		if err != nil {
			in.stop()
			return nil, outageLoad{}, err
		}
		l.chains = append(l.chains, harness.Chain{Token: p.refresh, IP: harness.IPOf(u), User: u})
	}
	p, err := signIn(ottUsers + chains)
	if err != nil {
		in.stop()
		return nil, outageLoad{}, err
	}
	if len(p.access) != 64 {
		in.stop()
		return nil, outageLoad{}, fmt.Errorf("the access token is not an AlgaPSA API key (64 hex characters): is appliance mode on?")
	}
	l.access = p.access
	return in, l, nil
}
