package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	// Registers the "pgx" database/sql driver for the throwaway database.
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/nineminds/alga-mobile-auth/internal/harness"
)

// engine is one storage engine to benchmark the service on.
type engine struct {
	name      string
	postgres  bool
	appliance bool // appliance mode, with a stand-in of AlgaPSA's database (appliance.go)
	// prepare returns a fresh, empty database URL and its cleanup.
	prepare func(ctx context.Context) (dbURL string, cleanup func(), err error)
}

func sqliteEngine(tmp string) engine {
	return engine{name: "sqlite", prepare: func(context.Context) (string, func(), error) {
		return "sqlite:" + filepath.Join(tmp, "bench.db"), func() {}, nil
	}}
}

// postgresEngine benchmarks in a throwaway database created in the server
// of base (or, without CREATEDB, a throwaway schema in base's database),
// dropped afterwards, so a reused server starts empty every time.
func postgresEngine(base string) engine {
	return engine{name: "postgres", postgres: true, prepare: func(ctx context.Context) (string, func(), error) {
		u, err := url.Parse(base)
		if err != nil {
			return "", nil, errors.New("the PostgreSQL URL does not parse") // no echo: it may hold a password
		}
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return "", nil, err
		}
		name := fmt.Sprintf("alga_bench_%d", time.Now().UnixNano())
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err == nil {
			fresh := *u
			fresh.Path = "/" + name
			return fresh.String(), func() {
				_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
				_ = admin.Close()
			}, nil
		}
		if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
			_ = admin.Close()
			return "", nil, fmt.Errorf("create a throwaway database or schema: %w", err)
		}
		fresh := *u
		q := fresh.Query()
		q.Set("search_path", name)
		fresh.RawQuery = q.Encode()
		return fresh.String(), func() {
			_, _ = admin.ExecContext(context.Background(), "DROP SCHEMA IF EXISTS "+name+" CASCADE")
			_ = admin.Close()
		}, nil
	}}
}

// bench carries one invocation's state across engines.
type bench struct {
	o        options
	bin, tmp string
	logf     func(format string, args ...any)
	rep      *report
	bareDone bool
	// bareProc serves the bare handler for the whole benchmark; bareDo
	// calls it, for the bare runs paired with capabilities and verify.
	bareProc *harness.Process
	bareDo   call
	// calibrated is the standalone exchange and refresh rates measured
	// before the appliance supply is seeded (paired mode).
	calibrated map[string]float64
}

// stopBare stops the bare server, if one was started.
func (b *bench) stopBare() {
	if b.bareProc != nil {
		b.bareProc.Stop()
	}
}

// runEngine seeds a fresh database, starts the service on it and measures
// every selected endpoint, then records the service's memory.
func (b *bench) runEngine(ctx context.Context, e engine) error {
	l, err := b.start(ctx, e)
	if err != nil {
		return err
	}
	defer l.stop()
	for _, ep := range b.o.endpoints {
		t, ok := l.target(ep)
		if !ok {
			continue
		}
		r, err := b.measure(ctx, t)
		if err != nil {
			return err
		}
		b.rep.rows = append(b.rep.rows, l.finish(r))
	}
	b.rep.mem = append(b.rep.mem, l.memNote())
	return nil
}

// live is an engine whose service is up and seeded, ready to be measured.
type live struct {
	e       engine
	svc     *harness.Process
	base    string
	addr    string
	targets map[string]target
	left    map[string]func() int // what an endpoint's supply has left
	stops   []func()              // in reverse order
}

// stop stops the service and drops its databases.
func (l *live) stop() {
	for i := len(l.stops) - 1; i >= 0; i-- {
		l.stops[i]()
	}
	l.stops = nil
}

// target is how to drive ep on this engine (false: not on this engine).
func (l *live) target(ep string) (target, bool) {
	t, ok := l.targets[ep]
	return t, ok
}

// finish completes a measured row with what the supply has left.
func (l *live) finish(r row) row {
	if left := l.left[r.endpoint]; left != nil {
		r.supplyLeft = left()
	}
	return r
}

// memNote is the service's memory once every endpoint has been measured.
func (l *live) memNote() memNote {
	hwm, sampled, n := l.svc.Memory()
	warns, first := l.svc.LogProblems()
	m := memNote{engine: l.e.name, hwm: hwm, sampled: sampled, samples: n, warnings: warns, firstWarning: first}
	m.anon, _ = l.svc.Status("RssAnon")
	m.file, _ = l.svc.Status("RssFile")
	m.shmem, _ = l.svc.Status("RssShmem")
	return m
}

// start seeds a fresh database for e, starts the service on it and
// prepares a target per selected endpoint (the first engine started also
// measures the bare handler). On an error nothing is left running.
func (b *bench) start(ctx context.Context, e engine) (_ *live, err error) {
	l := &live{e: e, targets: map[string]target{}, left: map[string]func() int{}}
	defer func() {
		if err != nil {
			l.stop()
		}
	}()
	dbURL, cleanup, err := e.prepare(ctx)
	if err != nil {
		return nil, err
	}
	l.stops = append(l.stops, cleanup)
	var dbs []string
	if u, err := url.Parse(dbURL); err == nil && e.postgres && strings.TrimPrefix(u.Path, "/") != "" {
		dbs = append(dbs, strings.TrimPrefix(u.Path, "/"))
	}
	addr, err := harness.FreeAddr()
	if err != nil {
		return nil, err
	}
	env := append(harness.ServiceEnv(addr, dbURL, b.tmp), b.o.serviceEnv...)
	p := newPlan(b.o)
	t0 := time.Now()
	var sup supply
	if e.appliance {
		psa, err := newStandIn(ctx, b.o.pgURL)
		if err != nil {
			return nil, err
		}
		l.stops = append(l.stops, psa.drop)
		dbs = append(dbs, psa.db)
		var rate int
		p, rate = b.appliancePlan()
		if err := psa.seed(ctx, p.users); err != nil {
			return nil, err
		}
		env = applianceEnv(env, psa)
		b.logf("%s: seeded %d users and web sessions in the stand-in of AlgaPSA's database (%s); supply sized for %d req/s",
			e.name, p.users, time.Since(t0).Round(time.Millisecond), rate)
	} else {
		if err := seedUsers(ctx, b.bin, env, b.tmp, p); err != nil {
			return nil, err
		}
		tUsers := time.Since(t0)
		if sup, err = seedTokens(ctx, dbURL, p, e.postgres); err != nil {
			return nil, err
		}
		b.logf("%s: seeded %d users (CLI, %s), %d web sessions, %d OTTs, %d refresh chains (store, %s)",
			e.name, p.users, tUsers.Round(time.Millisecond), p.users, p.otts+verifyUsers, p.chains,
			(time.Since(t0) - tUsers).Round(time.Millisecond))
		b.rep.seeds = append(b.rep.seeds, seedNote{engine: e.name, plan: p, took: time.Since(t0)})
	}

	svc, err := harness.StartProcess(b.bin, []string{"serve"}, env, filepath.Join(b.tmp, e.name+"-service.log"))
	if err != nil {
		return nil, err
	}
	l.svc = svc
	l.stops = append(l.stops, svc.Stop)
	base := "http://" + addr
	l.base, l.addr = base, addr
	if err := svc.WaitHTTP(ctx, base+"/readyz", 30*time.Second); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	svc.MarkLog()
	b.logf("%s: service pid %d ready on %s", e.name, svc.Pid(), addr)
	if b.o.bare && !b.bareDone {
		if err := b.measureBare(ctx, base); err != nil {
			return nil, err
		}
		b.bareDone = true
	}
	var access []string
	verifyHeader := "Authorization"
	if e.appliance {
		t1 := time.Now()
		if sup, access, err = seedAppliance(ctx, base, dbURL, p); err != nil {
			return nil, err
		}
		verifyHeader = "x-api-key" // as the app sends AlgaPSA API keys
		b.logf("%s: seeded %d OTTs and %d refresh chains through hand-offs and exchanges (%s)", e.name, p.otts, p.chains,
			time.Since(t1).Round(time.Millisecond))
		b.rep.seeds = append(b.rep.seeds, seedNote{engine: e.name, plan: p, took: time.Since(t0)})
	}
	c := newClient(1)
	for _, it := range sup.verify {
		tok, err := exchangeOnce(ctx, c, base, it)
		if err != nil {
			return nil, fmt.Errorf("exchange for verify tokens: %w", err)
		}
		access = append(access, tok)
	}
	c.CloseIdleConnections()
	for _, ep := range b.o.endpoints {
		if e.appliance && ep == epCapabilities {
			continue // the same handler in both modes
		}
		t := target{ep: ep, eng: e.name, conns: b.o.cpuConns, pid: svc.Pid(), metricsURL: base + "/metrics", addr: addr, dbs: dbs}
		switch ep {
		case epCapabilities:
			t.do = getCall(base + capabilitiesPath)
		case epVerify:
			t.do = verifyCall(base, access, verifyHeader)
		case epExchange:
			t.do, t.conns, l.left[ep] = exchangeCall(base, sup.otts), b.o.dbConns, sup.otts.left
		case epRefresh:
			pool := newChainPool(sup.chains)
			t.do, t.conns, l.left[ep] = refreshCall(base, pool), b.o.dbConns, pool.left
		}
		l.targets[ep] = t
	}
	return l, nil
}

// measureBare starts the bare server with the service's capabilities
// bytes and measures it like capabilities.
func (b *bench) measureBare(ctx context.Context, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+capabilitiesPath, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("capabilities: status %d: %v", resp.StatusCode, err)
	}
	p, bareURL, err := startBare(ctx, b.tmp, body)
	if err != nil {
		return err
	}
	b.bareProc, b.bareDo = p, getCall(bareURL+capabilitiesPath)
	b.rep.capsBytes = len(body)
	r, err := b.measure(ctx, target{ep: epBare, eng: "-", conns: b.o.cpuConns, do: b.bareDo,
		pid: p.Pid(), addr: strings.TrimPrefix(bareURL, "http://")})
	if err != nil {
		return err
	}
	b.rep.rows = append(b.rep.rows, r)
	b.rep.bare = r.rate()
	return nil
}

// target is what measure drives.
type target struct {
	ep, eng    string
	conns      int
	do         call
	pid        int      // the server's process, for CPU and RSS
	metricsURL string   // the service's /metrics, for store timings ("" for bare)
	addr       string   // host:port of the server
	dbs        []string // PostgreSQL databases the service uses, for their backends' CPU
}

// measure warms up, runs -runs closed-loop runs and -half-runs open-loop
// runs at half the median peak.
func (b *bench) measure(ctx context.Context, t target) (row, error) {
	m := b.newMeasurer(t)
	defer m.close()
	m.warm(ctx)
	for i := range b.o.runs {
		if err := m.closedRun(ctx, i); err != nil {
			return m.r, err
		}
	}
	err := m.halfRuns(ctx)
	return m.r, err
}

// measurer measures one target, run by run, into its row.
type measurer struct {
	b  *bench
	t  target
	c  *http.Client // the closed loop's
	bc *http.Client // the paired bare runs' (capabilities, verify), else nil
	r  row
}

func (b *bench) newMeasurer(t target) *measurer {
	m := &measurer{b: b, t: t, c: newClient(t.conns), r: row{endpoint: t.ep, engine: t.eng, conns: t.conns}}
	// capabilities and verify are judged as a ratio to the bare handler:
	// each of their runs follows a bare run of its own, so that the ratio
	// compares two runs seconds apart rather than runs minutes apart on a
	// machine whose speed drifts.
	if b.bareDo != nil && (t.ep == epCapabilities || t.ep == epVerify) {
		m.bc = newClient(t.conns)
	}
	return m
}

func (m *measurer) close() {
	m.c.CloseIdleConnections()
	if m.bc != nil {
		m.bc.CloseIdleConnections()
	}
}

// warm runs the unmeasured warm-up.
func (m *measurer) warm(ctx context.Context) {
	if m.b.o.warmup > 0 {
		closedLoop(ctx, m.c, m.t.conns, m.b.o.warmup, m.t.do)
	}
}

// closedRun is closed-loop run i (of -runs), after a bare run of its own
// when the row is judged against bare.
func (m *measurer) closedRun(ctx context.Context, i int) error {
	b, t, o := m.b, m.t, m.b.o
	if err := b.waitQuiet(ctx, t.ep, t.eng, fmt.Sprintf("run %d/%d", i+1, o.runs)); err != nil {
		return err
	}
	if m.bc != nil {
		br := closedLoop(ctx, m.bc, t.conns, o.duration, b.bareDo)
		b.logf("%-12s %-8s run %d/%d: bare just before: %8.0f req/s", t.ep, t.eng, i+1, o.runs, br.rate)
		m.r.pairedBare = append(m.r.pairedBare, br)
	}
	before, storeBefore := snapCPU(t.pid, t.dbs...), scrapeStore(t.metricsURL)
	res := closedLoop(ctx, m.c, t.conns, o.duration, t.do)
	res.cpu = before.until(snapCPU(t.pid, t.dbs...))
	m.r.store = m.r.store.add(scrapeStore(t.metricsURL).minus(storeBefore))
	if err := ctx.Err(); err != nil {
		return err
	}
	b.logf("%-12s %-8s run %d/%d: %8.0f req/s  p50 %-8s p99 %-8s non-2xx %d  CPU µs/req server %s gen %s other %s (postgres %s)  RSS %s%s",
		t.ep, t.eng, i+1, o.runs, res.rate, ms(res.p50), ms(res.p99), res.non2xx+res.errs,
		perRequest(res.cpu.server, res.n), perRequest(res.cpu.gen, res.n), perRequest(res.cpu.other, res.n), perRequest(res.cpu.db, res.n),
		harness.RSSOf(t.pid), exhaustedNote(res))
	m.r.runs = append(m.r.runs, res)
	return nil
}

// halfRuns runs the -half-runs open-loop runs at half the median peak of
// the closed-loop runs so far.
func (m *measurer) halfRuns(ctx context.Context) error {
	b, t, o := m.b, m.t, m.b.o
	if o.halfRuns == 0 {
		return nil
	}
	r := &m.r
	r.halfRate = r.rate() * o.halfFraction
	if o.halfRate > 0 {
		r.halfRate = o.halfRate
	}
	hconns := t.conns
	if o.halfConns > 0 {
		hconns = o.halfConns
	}
	hc := m.c
	var lt *leanTransport
	if o.halfClient == halfLean {
		var lc *http.Client
		lc, lt = newLeanClient(t.addr, hconns)
		defer lt.closeIdle()
		hc = lc
	}
	// The generator's garbage (requests, responses, headers) would start
	// a GC cycle every few dozen milliseconds at the default GOGC, and each
	// cycle's stop-the-world pauses and mark work land in the measured
	// tail. Its live heap is small, so a higher GOGC costs little memory.
	defer debug.SetGCPercent(debug.SetGCPercent(halfGOGC))
	for i := range o.halfRuns {
		if err := b.waitQuiet(ctx, t.ep, t.eng, fmt.Sprintf("half %d/%d", i+1, o.halfRuns)); err != nil {
			return err
		}
		if lt != nil {
			// Dialled after the quiet wait, not before it: the service
			// closes a connection that sends nothing for 5 s
			// (ReadHeaderTimeout), and a longer wait cost the first run one
			// transport error per connection. Later runs reuse the
			// connections of the run before (idle timeout 120 s).
			if err := lt.fill(ctx, hconns); err != nil {
				return err
			}
		}
		before, gcBefore := snapCPU(t.pid, t.dbs...), scrapeGCs(t.metricsURL)
		res := openLoop(ctx, hc, hconns, r.halfRate, o.halfWarmup, o.duration, t.do)
		res.cpu = before.until(snapCPU(t.pid, t.dbs...))
		if err := ctx.Err(); err != nil {
			return err
		}
		svcGCs := "-"
		if a, z := gcBefore, scrapeGCs(t.metricsURL); a >= 0 && z >= 0 {
			svcGCs = fmt.Sprintf("%.0f", z-a)
		}
		b.logf("%-12s %-8s half %d/%d: %8.0f req/s (target %.0f)  p50 %-8s p99 %-8s non-2xx %d  RSS %s%s", t.ep, t.eng, i+1,
			o.halfRuns, res.rate, r.halfRate, ms(res.p50), ms(res.p99), res.non2xx+res.errs, harness.RSSOf(t.pid), exhaustedNote(res))
		b.logf("%-12s %-8s half %d/%d parts: warm-up %s (%d requests, not counted) p99 %s; p99 pacer lag %s (not counted), queue wait %s, "+
			"in request %s; GCs gen %d server %s; CPU µs/req server %s gen %s other %s, machine busy %.0f%%", t.ep, t.eng, i+1, o.halfRuns,
			o.halfWarmup, res.warmN, ms(res.warmP99), ms(res.parts.lag99), ms(res.parts.wait99), ms(res.parts.req99), res.parts.genGCs, svcGCs,
			perRequest(res.cpu.server, res.n), perRequest(res.cpu.gen, res.n), perRequest(res.cpu.other, res.n), res.cpu.busy*100)
		r.half = append(r.half, res)
	}
	return nil
}

func exhaustedNote(r result) string {
	if r.exhausted {
		return fmt.Sprintf("  (supply ran out after %s: raise -supply-rate)", r.elapsed.Round(100*time.Millisecond))
	}
	return ""
}

// waitQuiet holds a run back while other work keeps the machine busy
// (see quiet.go) and logs any wait.
func (b *bench) waitQuiet(ctx context.Context, ep, eng, which string) error {
	waited, quiet, err := newQuietWaiter().wait(ctx, b.o.quietWait)
	switch {
	case err != nil:
		return err
	case !quiet:
		b.logf("%-12s %-8s %s: the machine stayed busy for %s; measuring anyway", ep, eng, which, waited.Round(time.Second))
	case waited > 0:
		b.logf("%-12s %-8s %s: waited %s for other work on the machine to stop", ep, eng, which, waited.Round(100*time.Millisecond))
	}
	return nil
}
