package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/harness"
)

// scaleScenario measures exchange, refresh and verify on an empty store,
// then on one seeded with a million users' worth of state (full profile:
// 1M token families, 5M refresh tokens of which most are rotated or
// expired, 1M audit events), on both engines, in the same run: throughput
// must stay within 0.8× and p99 within 1.5× of the empty figures. Then one
// purge cycle runs under load: it must keep the tables bounded and never
// hold a request up for more than 50 ms.
func scaleScenario(ctx context.Context, r *rig) []verdict {
	var vs []verdict
	for _, engine := range r.prof.scaleEngines {
		vs = append(vs, scaleRun(ctx, r, engine == "postgres")...)
	}
	return vs
}

// measurement is one endpoint's closed-loop figures.
type measurement struct {
	rps      float64
	p50, p99 time.Duration
}

// scaleStore creates a store (empty, or bulk-seeded to the profile's
// size), issues the measured load's users and tokens in it and starts a
// service on it.
func (r *rig) scaleStore(ctx context.Context, postgres, seeded bool) (*scaleLoad, string, string, time.Duration, error) {
	engine, label := map[bool]string{false: "sqlite", true: "postgres"}[postgres], map[bool]string{false: "empty", true: "seeded"}[seeded]
	var dbURL, dbPath string
	if postgres {
		var err error
		if dbURL, err = r.pg.createDB(ctx, "rel_scale_"+label); err != nil {
			return nil, "", "", 0, err
		}
	} else {
		dbPath = filepath.Join(r.tmp, "scale-"+label+".db")
		dbURL = "sqlite:" + dbPath
	}
	// No purge while the stores are measured (purgeUnderLoad runs one).
	in, err := r.newInstance("scale-"+engine+"-"+label, dbURL, "ALGA_MOBILE_PURGE_INTERVAL_SEC=86400")
	if err != nil {
		return nil, "", "", 0, err
	}
	// Enough OTTs for every exchange run at up to 2,500 req/s (SQLite's
	// empty store did over 1,500 in session 8 and ran out), spread so
	// that no user presents more than 8 (the limit is 10 a minute); a
	// chain per user, each refreshed a few times a minute at most.
	otts := int(2500*r.prof.measure.Seconds())*r.prof.measureRuns + 100
	users := max(2000, otts/8)
	// The bulk rows go in first, as the oldest history would be (the audit
	// purge walks events in the order they were appended).
	var seedTime time.Duration
	if seeded {
		if _, err := harness.RunCLI(ctx, r.bin, in.env, "migrate"); err != nil {
			return nil, "", "", 0, err
		}
		start := time.Now()
		if err := bulkSeed(ctx, dbURL, postgres, r.prof.scaleFams, r.prof.scaleAudit, r.prof.scaleTiedExpiry); err != nil {
			return nil, "", "", 0, fmt.Errorf("bulk seed: %w", err)
		}
		seedTime = time.Since(start)
		r.logf("%s: bulk seed of %d families took %s", engine, r.prof.scaleFams, seedTime.Round(time.Second))
	}
	sup, err := r.seed(ctx, in, dbURL, harness.Plan{Users: users, OTTUsers: users - 1, OTTs: otts, Chains: users - 1, Extra: 1})
	if err != nil {
		return nil, "", "", 0, err
	}
	if err := in.start(ctx); err != nil {
		return nil, "", "", 0, err
	}
	c := newClient(10 * time.Second)
	held, res := c.exchange(ctx, in.base, sup.Extra[0])
	if res.status != http.StatusOK {
		in.stop()
		return nil, "", "", 0, fmt.Errorf("exchange: %s", res.kind())
	}
	return &scaleLoad{c: c, in: in, otts: sup.OTTs, chains: append([]harness.Chain(nil), sup.Chains...), access: held.access}, dbURL, dbPath, seedTime, nil
}

func scaleRun(ctx context.Context, r *rig, postgres bool) []verdict {
	engine := map[bool]string{false: "sqlite", true: "postgres"}[postgres]
	name := "scale/" + engine
	if r.prof.scalePurgeOnly {
		seeded, dbURL, dbPath, _, err := r.scaleStore(ctx, postgres, true)
		if err != nil {
			return []verdict{failed(name+"/purge", err)}
		}
		defer seeded.in.stop()
		return []verdict{purgeUnderLoad(ctx, r, seeded, dbURL, dbPath, postgres)}
	}
	empty, _, _, _, err := r.scaleStore(ctx, postgres, false)
	if err != nil {
		return []verdict{failed(name, err)}
	}
	defer empty.in.stop()
	seeded, dbURL, dbPath, seedTime, err := r.scaleStore(ctx, postgres, true)
	if err != nil {
		return []verdict{failed(name, err)}
	}
	defer seeded.in.stop()

	// Runs alternate between the two stores (ABBA…), so that the shared
	// machine's load falls on both alike; each ratio is the median of the
	// pairs' ratios.
	pass := true
	var parts []string
	if postgres {
		if err := r.pgStatementsReset(ctx); err != nil {
			r.logf("%s: pg_stat_statements: %v", engine, err)
		}
	}
	for _, ep := range []string{"exchange", "refresh", "verify"} {
		var es, ss []measurement
		var tr, pr []float64
		errs := newTally() // both stores' non-200 answers, by kind
		for i := range r.prof.measureRuns {
			first, second := empty, seeded
			if i%2 == 1 {
				first, second = seeded, empty
			}
			a := closedLoop(ctx, 4, r.prof.measure, first.endpoint(ep), errs)
			b := closedLoop(ctx, 4, r.prof.measure, second.endpoint(ep), errs)
			e, s := a, b
			if i%2 == 1 {
				e, s = b, a
			}
			es, ss = append(es, e), append(ss, s)
			tr = append(tr, s.rps/e.rps)
			pr = append(pr, float64(s.p99)/float64(e.p99))
		}
		e, s := medianM(es), medianM(ss)
		t, p := median(tr), median(pr)
		ok := t >= 0.8 && p <= 1.5 && errs.total() == 0
		pass = pass && ok
		failures := ""
		if errs.total() > 0 {
			failures = fmt.Sprintf(", non-200 %s", errs)
		}
		parts = append(parts, fmt.Sprintf("%s %.0f→%.0f req/s (×%.2f; pairs %s), p99 %s→%s (×%.2f)%s%s", ep, e.rps, s.rps, t, ratios(tr), ms(e.p99), ms(s.p99), p,
			failures, map[bool]string{false: " OUT", true: ""}[ok]))
		r.logf("%s %s: %s; p99 pairs %s", engine, ep, parts[len(parts)-1], ratios(pr))
	}
	if postgres {
		lines, err := r.pgStatementsReport(ctx, "rel_scale_empty", "rel_scale_seeded")
		r.logLines(engine+" statements", lines, err)
	} else {
		for _, label := range []string{"empty", "seeded"} {
			lines, err := sqlitePlans(ctx, filepath.Join(r.tmp, "scale-"+label+".db"))
			r.logLines(engine+" "+label, lines, err)
		}
	}
	throughput := verdict{name: name, pass: pass, figures: fmt.Sprintf("empty vs seeded with %d families, %d refresh tokens, %d audit events (bulk seed %s), medians of %d paired %s runs: %s",
		r.prof.scaleFams, 5*r.prof.scaleFams, r.prof.scaleAudit, seedTime.Round(time.Second), r.prof.measureRuns, r.prof.measure, strings.Join(parts, "; "))}
	return []verdict{throughput, purgeUnderLoad(ctx, r, seeded, dbURL, dbPath, postgres)}
}

// medianM is the measurement with the median rate.
func medianM(ms []measurement) measurement {
	s := append([]measurement(nil), ms...)
	sort.Slice(s, func(i, j int) bool { return s[i].rps < s[j].rps })
	return s[len(s)/2]
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// errSupplyExhausted ends a client of closedLoop: no OTT left to exchange.
var errSupplyExhausted = errors.New("OTT supply exhausted")

// scaleLoad drives the three measured endpoints.
type scaleLoad struct {
	c      *client
	in     *instance
	otts   []harness.OTT
	next   atomic.Int64
	mu     sync.Mutex
	chains []harness.Chain
	nextCh int
	access string
}

func (l *scaleLoad) exchange(ctx context.Context) result {
	j := int(l.next.Add(1) - 1)
	if j >= len(l.otts) {
		return result{err: errSupplyExhausted}
	}
	_, res := l.c.exchange(ctx, l.in.base, l.otts[j])
	return res
}

func (l *scaleLoad) refresh(ctx context.Context) result {
	l.mu.Lock()
	k := l.nextCh % len(l.chains)
	l.nextCh++
	ch := l.chains[k]
	l.mu.Unlock()
	p, res := l.c.refresh(ctx, l.in.base, ch.Token, ch.IP)
	if res.status == http.StatusOK {
		l.mu.Lock()
		l.chains[k].Token = p.refresh
		l.access = p.access
		l.mu.Unlock()
	}
	return res
}

// verify presents the newest access token a refresh returned (the first
// one the supply issued until then): a purge cycle under load outlasts
// an access token's lifetime.
func (l *scaleLoad) verify(ctx context.Context) result {
	l.mu.Lock()
	access := l.access
	l.mu.Unlock()
	return l.c.verify(ctx, l.in.base, access)
}

// endpoint returns the request function of one measured endpoint.
func (l *scaleLoad) endpoint(name string) func(context.Context) result {
	switch name {
	case "exchange":
		return l.exchange
	case "refresh":
		return l.refresh
	}
	return l.verify
}

// closedLoop runs do from n clients for d: rate, p50, p99; non-200s
// and failed requests are counted in errs by kind.
func closedLoop(ctx context.Context, n int, d time.Duration, do func(context.Context) result, errs *tally) measurement {
	lat := &latencies{}
	runCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil {
				res := do(ctx)
				if res.status != http.StatusOK {
					if errors.Is(res.err, errSupplyExhausted) {
						errs.add(errSupplyExhausted.Error())
						return
					}
					errs.add(res.kind())
					continue
				}
				lat.add(res.dur)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	return measurement{rps: float64(lat.count()) / el.Seconds(), p50: lat.quantile(0.5), p99: lat.quantile(0.99)}
}

// purgeUnderLoad restarts the seeded service so that its own purge loop
// runs a cycle a few seconds later, as it does every
// ALGA_MOBILE_PURGE_INTERVAL_SEC in production (same process, same
// connection pool as the requests), while refresh and verify run; the
// cycle's start and end come from its log line. Requests that overlapped
// the cycle are compared with those before it.
func purgeUnderLoad(ctx context.Context, r *rig, l *scaleLoad, dbURL, dbPath string, postgres bool) verdict {
	name := "scale/" + map[bool]string{false: "sqlite", true: "postgres"}[postgres] + "/purge"
	l.in.stop()
	rowsBefore, sizeBefore, err := storeSize(ctx, dbURL, dbPath, postgres)
	if err != nil {
		return failed(name, err)
	}
	const firstCycle = 15 * time.Second // the load before it is the baseline
	l.in.env = append(l.in.env, fmt.Sprintf("ALGA_MOBILE_PURGE_INTERVAL_SEC=%d", int(firstCycle.Seconds())), "ALGA_MOBILE_LOG_LEVEL=info",
		"GODEBUG=gctrace=1") // garbage collections in the log, to tell them from store waits
	restarted, loadBefore := time.Now(), loadAverage()
	if err := l.in.start(ctx); err != nil {
		return failed(name, err)
	}
	var mu sync.Mutex
	var reqs []result
	loadCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	psi := &pressure{}
	wg.Add(1)
	go func() { defer wg.Done(); psi.run(loadCtx) }()
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; loadCtx.Err() == nil; i++ {
				var res result
				if (w+i)%2 == 0 {
					res = l.refresh(loadCtx)
				} else {
					res = l.verify(loadCtx)
				}
				if loadCtx.Err() == nil {
					mu.Lock()
					reqs = append(reqs, res)
					mu.Unlock()
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	// Paced by its WAL on PostgreSQL (sqlstore's purgeWALRate), a 1M-user
	// backlog takes over an hour: session 9's run had deleted the tokens
	// (about 29 min) and the families (about 23 min) and was about two
	// thirds through the audit events when a 60-minute wait ended it. The
	// wait bounds the harness, not the purge (a backlog is a one-off; a
	// steady cycle takes seconds).
	cycle, rows, err := waitPurgeCycle(ctx, l.in, restarted.Add(firstCycle+90*time.Minute))
	// The control: the same load, as long as the cycle (30 s to 5 min),
	// once the backlog is gone (the later cycles find a few rows each).
	controlFrom := cycle.end.Add(time.Second)
	controlTo := controlFrom.Add(min(max(cycle.end.Sub(cycle.start), 30*time.Second), 5*time.Minute))
	if err == nil {
		time.Sleep(time.Until(controlTo.Add(time.Second)))
	}
	stop()
	wg.Wait()
	metrics := l.c.get(ctx, l.in.base, "/metrics")
	served := accessLog(l.in.logs())
	l.in.stop() // before the next cycle
	if err != nil {
		return failed(name, err)
	}
	rowsAfter, sizeAfter, err := storeSize(ctx, dbURL, dbPath, postgres)
	if err != nil {
		return failed(name, err)
	}
	// "before" skips the first second after the restart (cold caches);
	// "during" is every request whose time overlapped the cycle.
	before, during := &latencies{}, &latencies{}
	errs := newTally()
	for _, res := range reqs {
		if res.status != http.StatusOK {
			errs.add(res.kind())
		}
		switch end := res.at.Add(res.dur); {
		case end.Before(cycle.start) && res.at.After(restarted.Add(time.Second)):
			before.add(res.dur)
		case !end.Before(cycle.start) && res.at.Before(cycle.end):
			during.add(res.dur)
		}
	}
	// "Held up" is latency beyond the same load's p99 without a purge; the
	// verdict takes it from the service's access log (see purgeside.go),
	// per route, and shows the client's figure beside it.
	base := before.quantile(0.99)
	worst := during.quantile(1)
	clientHeld := max(0, worst-base)
	warm := restarted.Add(time.Second)
	refresh, verify := servedAround(served, "refresh", warm, cycle, controlFrom, controlTo), servedAround(served, "verify", warm, cycle, controlFrom, controlTo)
	later := laterCycles(l.in.logs())
	var added int64
	for _, r := range served {
		if strings.HasSuffix(r.route, "/refresh") && r.status == http.StatusOK {
			added++
		}
	}
	heldUp := max(refresh.heldUp(), verify.heldUp())
	opsTotal, opsOver, opsSlowest := storeOps(parseProm(string(metrics.body)))
	var ckpt *checkpointLog
	checkpoints := ""
	// What a purge statement can hold a request up by: on SQLite its whole
	// time (it holds the one writer), so no statement may last over 50 ms;
	// on PostgreSQL only a lock the request needs (its deletes lock rows
	// that are due, which requests do not write), so no request may wait
	// 50 ms for a lock during the cycle (the cluster logs each such wait);
	// there a statement's time is the purge's own (its CPU, its commit's
	// WAL flush), and what that costs the requests is the held-up figure.
	blocking, lockWaits := cycle.longestChunk <= 50*time.Millisecond, 0
	if postgres {
		ckpt = readCheckpoints(r.pg.dir + ".log")
		lockWaits = ckpt.lockWaitsIn(cycle.start, cycle.end)
		blocking = lockWaits == 0
		checkpoints = fmt.Sprintf("; lock waits of 50ms or more during it: %d (judged on PostgreSQL instead of the statements' time); PostgreSQL checkpoints started during it: %d, refreshes over 50ms during a checkpoint's sync: %d of %d; WAL written during its statements %s (%.1f MiB/s over the cycle)",
			lockWaits, ckpt.during(cycle.start, cycle.end), refresh.inSync(ckpt), refresh.over50, harness.MiB(cycle.walBytes),
			float64(cycle.walBytes)/(1<<20)/max(cycle.end.Sub(cycle.start).Seconds(), 0.001))
	}
	pass := heldUp <= 50*time.Millisecond && blocking && errs.total() == 0 && during.count() > 0 &&
		refresh.during.count() > 0 && refresh.control.count() > 0 && metrics.status == http.StatusOK &&
		// Every refresh answered 200 added a token and an audit event: the
		// purge must have deleted more than the load added.
		rowsAfter["refresh_tokens"]-added < rowsBefore["refresh_tokens"] && rowsAfter["audit_events"]-added < rowsBefore["audit_events"]
	seed := "expiries spread in insertion order"
	if r.prof.scaleTiedExpiry {
		seed = "every due token expiring at one instant (worst case)"
	}
	return verdict{name: name, pass: pass, figures: fmt.Sprintf(
		"the service's purge cycle deleted %d rows (%s) in %s under load, %d statements, the longest %s (limit 50ms on SQLite; over 10ms: %d, over 50ms: %d), by table: %s: rows %s → %s (the load's refreshes added %d tokens and as many audit events), size %s → %s; "+
			"served during it (access log): refresh %d, p99 %s, p99.9 %s, max %s, over 50ms %d (before it: %d, p99 %s, max %s); verify %d, p99 %s, p99.9 %s, max %s (before: p99 %s); slowest %s; machine (tasks waiting, PSI) before it %s, during it %s%s; "+
			"control, the same load for %s after it (later cycles: %s): refresh %d, p99 %s, p99.9 %s, max %s, over 50ms %d; verify %d, p99.9 %s, max %s; "+
			"store operations since the restart %.0f, over 50ms %.0f, slowest %s; held up (p99.9 during it beyond the control's) ≤ %s (limit 50ms); "+
			"client (shares the CPU with the service, PostgreSQL and the purge): requests %d (non-200: %s), p99 %s, max %s (before it: %d, p99 %s), held up ≤ %s; load average %s → %s",
		rows, seed, cycle.end.Sub(cycle.start).Round(time.Millisecond), cycle.chunks, ms(cycle.longestChunk), cycle.overBudget, cycle.overLimit, orDash(cycle.tables), fmtRows(rowsBefore), fmtRows(rowsAfter), added, harness.MiB(sizeBefore), harness.MiB(sizeAfter),
		refresh.during.count(), ms(refresh.during.quantile(0.99)), ms(refresh.during.quantile(0.999)), ms(refresh.during.quantile(1)), refresh.over50, refresh.before.count(), ms(refresh.before.quantile(0.99)), ms(refresh.before.quantile(1)),
		verify.during.count(), ms(verify.during.quantile(0.99)), ms(verify.during.quantile(0.999)), ms(verify.during.quantile(1)), ms(verify.before.quantile(0.99)), refresh.describeSlowest(cycle, psi, ckpt), orDash(psi.share(warm, cycle.start)), orDash(psi.share(cycle.start, cycle.end)), checkpoints,
		controlTo.Sub(controlFrom).Round(time.Second), later, refresh.control.count(), ms(refresh.control.quantile(0.99)), ms(refresh.control.quantile(0.999)), ms(refresh.control.quantile(1)), refresh.controlOver50,
		verify.control.count(), ms(verify.control.quantile(0.999)), ms(verify.control.quantile(1)),
		opsTotal, opsOver, opsSlowest, ms(heldUp),
		during.count(), errs, ms(during.quantile(0.99)), ms(worst), before.count(), ms(base), ms(clientHeld), loadBefore, loadAverage())}
}

// purgeCycle is when one purge cycle ran, with its figures.
type purgeCycle struct {
	start, end   time.Time
	chunks       int
	longestChunk time.Duration
	// statements that held the store over the purge's 10 ms budget and
	// over the 50 ms limit
	overBudget, overLimit int
	// walBytes is the WAL written while its statements ran (PostgreSQL)
	walBytes int64
	// tables is the service's summary per table walked
	tables string
}

// purgeLine is the service's log line of a finished purge cycle
// (sqlstore.RunPurge: "purged expired rows").
type purgeLine struct {
	Time         time.Time `json:"time"`
	Rows         int64     `json:"rows"`
	Chunks       int       `json:"chunks"`
	Duration     float64   `json:"duration_ms"`
	LongestChunk float64   `json:"longest_chunk_ms"`
	OverBudget   int       `json:"chunks_over_budget"`
	OverLimit    int       `json:"chunks_over_limit"`
	WALBytes     int64     `json:"wal_bytes"`
	Tables       string    `json:"tables"`
}

// waitPurgeCycle waits for in's log line of a finished purge cycle
// (sqlstore.RunPurge: "purged expired rows", with its duration) and
// returns the cycle's span and rows.
func waitPurgeCycle(ctx context.Context, in *instance, deadline time.Time) (purgeCycle, int64, error) {
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for _, line := range logRecords(in.logs(), "purged expired rows") {
			var e purgeLine
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				return purgeCycle{}, 0, fmt.Errorf("purge log line: %w", err)
			}
			d := fromMillis(e.Duration)
			return purgeCycle{start: e.Time.Add(-d), end: e.Time, chunks: e.Chunks, overBudget: e.OverBudget, overLimit: e.OverLimit,
				longestChunk: fromMillis(e.LongestChunk), walBytes: e.WALBytes, tables: e.Tables}, e.Rows, nil
		}
		if strings.Contains(in.logs(), "purging expired rows failed") {
			return purgeCycle{}, 0, fmt.Errorf("the purge failed (see %s's log)", in.name)
		}
		time.Sleep(250 * time.Millisecond)
	}
	return purgeCycle{}, 0, fmt.Errorf("no purge cycle finished by %s", deadline.Format("15:04:05"))
}

// laterCycles describes the purge cycles logged after the first: the
// control window is free of the backlog, not of the purge loop, whose
// walk over the families' table still runs its statements.
func laterCycles(logs string) string {
	var n, chunks int
	var rows int64
	var busy time.Duration
	for i, line := range logRecords(logs, "purged expired rows") {
		var e purgeLine
		if i == 0 || json.Unmarshal([]byte(line), &e) != nil {
			continue
		}
		n++
		rows += e.Rows
		chunks += e.Chunks
		busy += fromMillis(e.Duration)
	}
	return fmt.Sprintf("%d, %d rows in %d statements over %s", n, rows, chunks, busy.Round(time.Second))
}

// fmtRows prints the big tables' row counts in a fixed order.
func fmtRows(m map[string]int64) string {
	return fmt.Sprintf("families %d, refresh tokens %d, audit events %d", m["token_families"], m["refresh_tokens"], m["audit_events"])
}

// storeSize counts the big tables' rows and measures the store's size.
func storeSize(ctx context.Context, dbURL, dbPath string, postgres bool) (map[string]int64, int64, error) {
	driver, dsn := "sqlite", dbPath+"?_pragma=busy_timeout(5000)"
	if postgres {
		driver, dsn = "pgx", dbURL
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = db.Close() }()
	rows := map[string]int64{}
	for _, t := range []string{"token_families", "refresh_tokens", "audit_events"} {
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t).Scan(&n); err != nil {
			return nil, 0, err
		}
		rows[t] = n
	}
	var size int64
	if postgres {
		err = db.QueryRowContext(ctx, "SELECT pg_database_size(current_database())").Scan(&size)
	} else {
		for _, suffix := range []string{"", "-wal"} {
			if fi, err := os.Stat(dbPath + suffix); err == nil {
				size += fi.Size()
			}
		}
	}
	return rows, size, err
}
