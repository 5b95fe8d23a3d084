package main

// The appliance profile (SPEC §8, issue 10): the service in appliance mode,
// its own store in a throwaway PostgreSQL database and a stand-in of
// AlgaPSA's database (internal/algapsa/algapsatest's schema, owned by one
// role, used by another that holds only SPEC §8.1's privileges) in another
// throwaway database on the same server. Users, tenants and web sessions are
// rows of the stand-in, written as AlgaPSA writes them; each phone's web
// session reaches the service as a real Auth.js cookie (authjstest) at a
// real hand-off, so the OTTs the exchange consumes carry whatever reference
// to AlgaPSA's session the service records. Its exchange and refresh are
// judged against the standalone PostgreSQL figures of the same run.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/authjs"
	"github.com/nineminds/alga-mobile-auth/internal/authjs/authjstest"
	"github.com/nineminds/alga-mobile-auth/internal/harness"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

const (
	engineAppliance = "appliance"
	// benchNextAuthSecret is the web app's NEXTAUTH_SECRET in the profile.
	benchNextAuthSecret = "bench-web-app-nextauth-secret-0123456789abcdef" //nolint:gosec // G101: a throwaway secret shared by the benchmark's own processes on loopback
	// applianceMinRatio is issue 10's target for exchange and refresh in
	// appliance mode, as a fraction of the standalone PostgreSQL figures.
	applianceMinRatio = 0.8
	// applianceSupplyHeadroom sizes the appliance supply from the
	// standalone PostgreSQL peak of the same run (appliance mode does more
	// work per request, so it cannot go faster).
	applianceSupplyHeadroom = 1.5
)

// applianceEngine is PostgreSQL (own store) plus the stand-in.
func applianceEngine(base string) engine {
	e := postgresEngine(base)
	e.name, e.appliance = engineAppliance, true
	return e
}

// standIn is the throwaway stand-in of AlgaPSA's database.
type standIn struct {
	db     string        // the database's name
	appURL string        // as the service's role, search_path set
	admin  *pgxpool.Pool // AlgaPSA's side (superuser), search_path set
	drop   func()
}

// newStandIn creates database, roles and schema; drop removes them.
func newStandIn(ctx context.Context, base string) (*standIn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, errors.New("the PostgreSQL URL does not parse")
	}
	n := time.Now().UnixNano()
	db, owner, app := fmt.Sprintf("alga_bench_psa_%d", n), fmt.Sprintf("alga_bench_psa_owner_%d", n), fmt.Sprintf("alga_bench_psa_app_%d", n)
	root, err := pgx.Connect(ctx, base)
	if err != nil {
		return nil, err
	}
	defer func() { _ = root.Close(ctx) }()
	s := &standIn{db: db}
	s.drop = func() {
		if s.admin != nil {
			s.admin.Close()
		}
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer func() { _ = c.Close(context.Background()) }()
		for _, q := range []string{"DROP DATABASE IF EXISTS " + db + " WITH (FORCE)", "DROP ROLE IF EXISTS " + app, "DROP ROLE IF EXISTS " + owner} {
			_, _ = c.Exec(context.Background(), q)
		}
	}
	for _, q := range []string{"CREATE ROLE " + owner + " NOLOGIN", "CREATE ROLE " + app + " LOGIN PASSWORD 'bench'", "CREATE DATABASE " + db} {
		if _, err := root.Exec(ctx, q); err != nil {
			s.drop()
			return nil, fmt.Errorf("stand-in of AlgaPSA's database (needs CREATEDB and CREATEROLE): %w", err)
		}
	}
	at := *u
	at.Path = "/" + db
	q := at.Query()
	q.Set("search_path", "algapsa")
	at.RawQuery = q.Encode()
	adminURL := at.String()
	at.User = url.UserPassword(app, "bench")
	s.appURL = at.String()

	c, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		s.drop()
		return nil, err
	}
	defer func() { _ = c.Close(ctx) }()
	err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "CREATE SCHEMA algapsa AUTHORIZATION "+owner); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+owner+"; SET LOCAL search_path = algapsa"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, algapsatest.Schema())
		return err
	})
	if err == nil {
		_, err = c.Exec(ctx, "GRANT USAGE ON SCHEMA algapsa TO "+app)
	}
	for _, g := range algapsatest.Grants {
		if err == nil {
			_, err = c.Exec(ctx, "GRANT "+g.Privilege+" ON algapsa."+g.Table+" TO "+app)
		}
	}
	if err == nil {
		s.admin, err = pgxpool.New(ctx, adminURL)
	}
	if err != nil {
		s.drop()
		return nil, fmt.Errorf("stand-in schema: %w", err)
	}
	return s, nil
}

// sessionID is user i's web session in the stand-in.
func sessionID(i int) string { return fmt.Sprintf("5e550000-0000-4000-8000-%012d", i) }

// seed writes n users (internal, active) over the bench tenants, one live
// web session each, as AlgaPSA's sign-in leaves them.
func (s *standIn) seed(ctx context.Context, n int) error {
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"INSERT INTO tenants (tenant) SELECT format('5eed0000-0000-4000-8000-%s', lpad(i::text, 12, '0'))::uuid FROM generate_series(0, $1 - 1) i",
			[]any{harness.Tenants}},
		{`INSERT INTO users (tenant, user_id, username, hashed_password, email, first_name, last_name, user_type, is_inactive)
		  SELECT format('5eed0000-0000-4000-8000-%s', lpad((i % $2)::text, 12, '0'))::uuid,
		         format('00000000-0000-4000-8000-%s', lpad(i::text, 12, '0'))::uuid,
		         'bench-' || i, 'not-a-real-hash', format('bench-%s@example.com', lpad(i::text, 6, '0')), 'Bench', i::text, 'internal', false
		    FROM generate_series(0, $1 - 1) i`, []any{n, harness.Tenants}},
		{`INSERT INTO sessions (tenant, session_id, user_id, expires_at)
		  SELECT format('5eed0000-0000-4000-8000-%s', lpad((i % $2)::text, 12, '0'))::uuid,
		         format('5e550000-0000-4000-8000-%s', lpad(i::text, 12, '0'))::uuid,
		         format('00000000-0000-4000-8000-%s', lpad(i::text, 12, '0'))::uuid, now() + interval '12 hours'
		    FROM generate_series(0, $1 - 1) i`, []any{n, harness.Tenants}},
	} {
		if _, err := s.admin.Exec(ctx, q.sql, q.args...); err != nil {
			return fmt.Errorf("seed the stand-in: %w", err)
		}
	}
	return nil
}

// applianceEnv adds appliance mode to the service's environment.
func applianceEnv(env []string, s *standIn) []string {
	return append(env, "ALGA_PSA_DATABASE_URL="+s.appURL, "NEXTAUTH_SECRET="+benchNextAuthSecret)
}

// webCookie is user i's Auth.js session cookie header, as the web app set
// it at sign-in.
func webCookie(i int, origin string) (string, error) {
	name := authjs.CookieName(origin)
	cookies, err := authjstest.Cookies(authjstest.Token{Secret: benchNextAuthSecret, CookieName: name, Now: time.Now(),
		MaxAge: 12 * time.Hour, Claims: map[string]any{"id": harness.UserID(i), "sub": harness.UserID(i), "tenant": harness.TenantID(i),
			"user_type": "internal", "email": harness.Email(i), "name": fmt.Sprintf("Bench %d", i), "session_id": sessionID(i)}})
	if err != nil {
		return "", err
	}
	parts := make([]string, 0, len(cookies))
	for k, v := range cookies {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, "; "), nil
}

// handOff has the service's hand-off issue user i an OTT for state, from
// the phone's own address.
func handOff(ctx context.Context, c *http.Client, base string, i int, state string) (string, error) {
	cookie, err := webCookie(i, base)
	if err != nil {
		return "", err
	}
	u := base + "/auth/mobile/handoff?" + url.Values{"redirect": {"alga://auth/callback"}, "state": {state}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Cookie", cookie)
	req.Header.Set("X-Forwarded-For", harness.IPOf(i))
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	status := drain(resp)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || status != http.StatusFound || loc.Query().Get("ott") == "" {
		return "", fmt.Errorf("hand-off of user %d: status %d, Location %q: the web app's session was not accepted (is appliance mode wired?)",
			i, status, resp.Header.Get("Location"))
	}
	return loc.Query().Get("ott"), nil
}

// noRedirects is a client that shows the hand-off's 302 instead of following it.
func noRedirects(conns int) *http.Client {
	c := newClient(conns)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// appliancePlan sizes the appliance supply: the rate is -supply-rate, or
// less when the standalone PostgreSQL peaks of this run (or, in paired
// mode, its calibration) show that the appliance cannot need it; users are
// disjoint for OTTs, chains and verify (each seeding exchange counts
// against its user's limit).
func (b *bench) appliancePlan() (plan, int) {
	rate := b.o.supplyRate
	peak, headroom := 0.0, applianceSupplyHeadroom
	for _, ep := range []string{epExchange, epRefresh} {
		if r, ok := b.rep.find(ep, "postgres"); ok {
			peak = math.Max(peak, r.rate())
		}
	}
	if peak == 0 {
		for _, x := range b.calibrated {
			peak, headroom = math.Max(peak, x), pairedSupplyHeadroom
		}
	}
	if peak > 0 {
		rate = min(rate, max(500, int(math.Ceil(peak*headroom))))
	}
	o := b.o
	o.supplyRate = rate
	p := newPlan(o)
	p.users = (p.otts+ottsPerUser-1)/ottsPerUser + p.chains + verifyUsers
	return p, rate
}

// seedAppliance issues, through the running service, what the runs
// consume: per OTT user one real hand-off, whose OTT row gives the session
// reference the service records, then ottsPerUser OTTs written through the
// store with that reference (the hand-off itself is not what is measured);
// per chain one hand-off and one exchange for its first refresh token; per
// verify user one hand-off and one exchange for its API key.
func seedAppliance(ctx context.Context, base, ownURL string, p plan) (supply, []string, error) {
	ottUsers := (p.otts + ottsPerUser - 1) / ottsPerUser
	st, err := sqlstore.Open(ctx, ownURL, sqlstore.Options{})
	if err != nil {
		return supply{}, nil, err
	}
	defer func() { _ = st.Close() }()
	c := noRedirects(harness.SeedWorkersPG)
	defer c.CloseIdleConnections()
	now := time.Now()

	var s supply
	s.otts = &ottSupply{items: make([]ottItem, p.otts)}
	err = harness.Parallel(ottUsers, harness.SeedWorkersPG, func(u int) error {
		ott, err := handOff(ctx, c, base, u, "st-template")
		if err != nil {
			return err
		}
		h := token.HashOf(ott)
		var sessHash []byte
		var source, ref string
		if err := st.DB().QueryRowContext(ctx, "SELECT session_hash, session_source, session_ref FROM one_time_tokens WHERE hash = $1",
			h[:]).Scan(&sessHash, &source, &ref); err != nil {
			return fmt.Errorf("read the hand-off's OTT: %w", err)
		}
		var sh mobileauth.Hash
		copy(sh[:], sessHash)
		for j := u; j < p.otts; j += ottUsers {
			o, err := token.NewOpaque(rand.Reader)
			if err != nil {
				return err
			}
			it := ottItem{ott: o, state: fmt.Sprintf("st-%d", j), ip: harness.IPOf(u), device: fmt.Sprintf("bench-device-%d", u)}
			if err := st.CreateOTT(ctx, mobileauth.OneTimeToken{Hash: token.HashOf(o), TenantID: harness.TenantID(u), UserID: harness.UserID(u),
				SessionHash: sh, SessionSource: source, SessionRef: ref, State: it.state, CreatedAt: now,
				ExpiresAt: now.Add(ottLifetime)}); err != nil {
				return err
			}
			s.otts.items[j] = it
		}
		return nil
	})
	if err != nil {
		return supply{}, nil, fmt.Errorf("seed OTTs: %w", err)
	}

	first := ottUsers
	s.chains = make([]*chain, p.chains)
	err = harness.Parallel(p.chains, harness.SeedWorkersPG, func(k int) error {
		u := first + k
		rt, err := handOffAndExchange(ctx, c, base, u, "refreshToken")
		s.chains[k] = &chain{token: rt, ip: harness.IPOf(u)}
		return err
	})
	if err != nil {
		return supply{}, nil, fmt.Errorf("seed refresh chains: %w", err)
	}
	first += p.chains
	keys := make([]string, verifyUsers)
	err = harness.Parallel(verifyUsers, verifyUsers, func(k int) error {
		var err error
		keys[k], err = handOffAndExchange(ctx, c, base, first+k, "accessToken")
		if err == nil && (len(keys[k]) != 64 || strings.Trim(keys[k], "0123456789abcdef") != "") {
			err = fmt.Errorf("the access token is not an AlgaPSA API key (64 hex characters): is appliance mode wired?")
		}
		return err
	})
	if err != nil {
		return supply{}, nil, fmt.Errorf("verify keys: %w", err)
	}
	return s, keys, nil
}

// handOffAndExchange signs user u's phone in and returns one field of the
// exchange's answer.
func handOffAndExchange(ctx context.Context, c *http.Client, base string, u int, field string) (string, error) {
	state := "st-seed-" + hex.EncodeToString([]byte(fmt.Sprint(u)))
	ott, err := handOff(ctx, c, base, u, state)
	if err != nil {
		return "", err
	}
	return exchangeField(ctx, c, base, ottItem{ott: ott, state: state, ip: harness.IPOf(u), device: fmt.Sprintf("bench-device-%d", u)}, field)
}

// applianceTarget judges an appliance exchange or refresh row against the
// standalone PostgreSQL row of the same run (issue 10: ≥ 0.8 ×): in paired
// mode the median of the run-by-run ratios, else the ratio of the medians.
func (rep *report) applianceTarget(r row) string {
	pg, ok := rep.find(r.endpoint, "postgres")
	if !ok || pg.rate() <= 0 {
		return fmt.Sprintf("MISS %s on %s ≥ %.1f × standalone postgres: no standalone postgres figure in this run",
			r.endpoint, engineAppliance, applianceMinRatio)
	}
	if x, ok := r.pairRatios(); ok {
		s := spreadOf(x)
		return fmt.Sprintf("%-4s %s on %s ≥ %.1f × standalone postgres: median of %d paired runs %.2f (range %.2f–%.2f; medians %.0f/s vs %.0f/s)",
			verdict(s.median >= applianceMinRatio, r), r.endpoint, engineAppliance, applianceMinRatio, len(x), s.median, s.lo, s.hi,
			r.rate(), pg.rate())
	}
	x := r.rate() / pg.rate()
	return fmt.Sprintf("%-4s %s on %s ≥ %.1f × standalone postgres: %.0f/s vs %.0f/s = %.2f", verdict(x >= applianceMinRatio, r),
		r.endpoint, engineAppliance, applianceMinRatio, r.rate(), pg.rate(), x)
}

// printAppliance puts the appliance figures beside the standalone
// PostgreSQL ones of the same run, endpoint by endpoint.
func (rep *report) printAppliance(w io.Writer) {
	var lines []string
	for _, ep := range []string{epVerify, epExchange, epRefresh} {
		a, ok := rep.find(ep, engineAppliance)
		if !ok {
			continue
		}
		pg, _ := rep.find(ep, "postgres")
		ratio, rng := "-", "-"
		if x, ok := a.pairRatios(); ok {
			s := spreadOf(x)
			ratio, rng = fmt.Sprintf("%.2f", s.median), fmt.Sprintf("%.2f–%.2f", s.lo, s.hi)
		} else if pg.rate() > 0 {
			ratio = fmt.Sprintf("%.2f", a.rate()/pg.rate())
		}
		lines = append(lines, fmt.Sprintf("%s\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t", ep, pg.rate(), a.rate(), ratio, rng, ms(pg.halfP99()), ms(a.halfP99())))
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, "\nappliance mode beside standalone PostgreSQL (same run, medians; × postgres: in paired mode the median of run-by-run ratios):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "endpoint\tpostgres req/s\tappliance req/s\t× postgres\tpaired range\tpostgres p99@half\tappliance p99@half\t")
	for _, l := range lines {
		fmt.Fprintln(tw, l)
	}
	_ = tw.Flush()
}

// printApplianceMethod says how the appliance profile was set up.
func (rep *report) printApplianceMethod(w io.Writer) {
	for _, s := range rep.seeds {
		if s.engine != engineAppliance {
			continue
		}
		fmt.Fprintf(w, "  appliance: the service with ALGA_PSA_DATABASE_URL (a stand-in of AlgaPSA's database: algapsatest's schema in its own\n"+
			"    database on the same PostgreSQL server, used as a role holding only SPEC §8.1's privileges) and NEXTAUTH_SECRET; own store\n"+
			"    in a throwaway database as for postgres. %d users and web sessions written as AlgaPSA rows; each phone's session reaches\n"+
			"    the service as a real Auth.js cookie at a real hand-off; %d OTTs (the hand-off's session reference, %d per user, written\n"+
			"    through the store), %d refresh chains and %d API keys for verify (hand-off + exchange); %s in all. The access tokens\n"+
			"    are AlgaPSA API keys: exchange and refresh mint one (refresh also deactivates its predecessor), verify (x-api-key)\n"+
			"    looks one up.\n",
			s.plan.users, s.plan.otts, ottsPerUser, s.plan.chains, verifyUsers, s.took.Round(100*time.Millisecond))
		if !rep.o.paired() {
			fmt.Fprintf(w, "    Supply sized for min(-supply-rate, %.1f × the standalone postgres peak).\n", applianceSupplyHeadroom)
		} else {
			fmt.Fprintf(w, "  paired (-pair): both services were started and seeded before any measured run (the appliance supply sized for\n"+
				"    min(-supply-rate, %.1f × a %s standalone calibration of exchange and refresh)); each endpoint's closed-loop runs\n"+
				"    alternated standalone/appliance as A B B A A B …, and × postgres is the median of each appliance run's rate over the\n"+
				"    standalone run beside it. Open-loop runs follow, standalone first.\n", pairedSupplyHeadroom, calibrateFor)
		}
	}
}
