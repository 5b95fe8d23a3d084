package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/harness"
)

// row is one endpoint on one engine.
type row struct {
	endpoint, engine string
	conns            int
	runs, half       []result
	halfRate         float64
	pairedBare       []result   // a bare run just before each closed-loop run (capabilities, verify)
	pairedWith       []result   // paired mode, appliance rows: the standalone PostgreSQL run beside each run
	supplyLeft       int        // OTTs or idle chains left afterwards (exchange, refresh)
	store            storeStats // store operations over the closed-loop runs
}

func medianOf(rs []result, f func(result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	return median(v)
}

// median sorts v in place and returns its median (0 when empty).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func (r row) rate() float64 { return medianOf(r.runs, func(x result) float64 { return x.rate }) }

// ratio is the row's throughput as a fraction of the bare handler's: the
// median over runs of run/paired bare run when the row has paired bare
// runs, else the median rate over bare (the bare row's median).
func (r row) ratio(bare float64) (float64, bool) {
	if len(r.pairedBare) > 0 && len(r.pairedBare) == len(r.runs) {
		ratios := make([]float64, len(r.runs))
		for i, x := range r.runs {
			if r.pairedBare[i].rate <= 0 {
				return 0, false
			}
			ratios[i] = x.rate / r.pairedBare[i].rate
		}
		return median(ratios), true
	}
	if bare <= 0 {
		return 0, false
	}
	return r.rate() / bare, true
}
func (r row) p50() time.Duration {
	return durMedian(r.runs, func(x result) time.Duration { return x.p50 })
}
func (r row) p99() time.Duration {
	return durMedian(r.runs, func(x result) time.Duration { return x.p99 })
}
func (r row) halfP99() time.Duration {
	return durMedian(r.half, func(x result) time.Duration { return x.p99 })
}
func (r row) halfAchieved() float64 {
	return medianOf(r.half, func(x result) float64 { return x.rate })
}
func durMedian(rs []result, f func(result) time.Duration) time.Duration {
	return time.Duration(medianOf(rs, func(x result) float64 { return float64(f(x)) }))
}

// failures counts non-2xx answers and transport errors over every run.
func (r row) failures() (n int, statuses map[int]int) {
	statuses = map[int]int{}
	for _, x := range append(slices.Clone(r.runs), r.half...) {
		n += x.non2xx + x.errs
		for s, c := range x.statuses {
			statuses[s] += c
		}
		if x.errs > 0 {
			statuses[0] += x.errs
		}
	}
	return n, statuses
}

// cpuPerReq is the median, over the closed-loop runs, of CPU µs per
// request used by the server, the load generator and everything else.
func (r row) cpuPerReq() (server, gen, other, db, busy float64) {
	per := func(f func(cpuUse) float64) float64 {
		return medianOf(r.runs, func(x result) float64 {
			if x.n == 0 {
				return 0
			}
			return f(x.cpu) / float64(x.n) * 1e6
		})
	}
	server = per(func(c cpuUse) float64 { return c.server })
	gen = per(func(c cpuUse) float64 { return c.gen })
	other = per(func(c cpuUse) float64 { return c.other })
	db = per(func(c cpuUse) float64 { return c.db })
	busy = medianOf(r.runs, func(x result) float64 { return x.cpu.busy * 100 })
	return
}

func (r row) exhausted() bool {
	return slices.ContainsFunc(append(slices.Clone(r.runs), r.half...), func(x result) bool { return x.exhausted })
}

type memNote struct {
	engine       string
	hwm, sampled int64
	samples      int
	// the RSS at the end, split: anonymous memory (Go heap, SQLite's page
	// cache), file pages (the binary, mapped files) and shared memory (the
	// SQLite WAL index).
	anon, file, shmem int64
	warnings          int    // service log lines at warn level or above
	firstWarning      string // the first of them
}

type seedNote struct {
	engine string
	plan   plan
	took   time.Duration
}

// report collects every measurement and prints the closing table.
type report struct {
	o         options
	rows      []row
	mem       []memNote
	seeds     []seedNote
	bare      float64
	capsBytes int
	total     time.Duration
	// load averages at the start and the end: other work on the machine
	// makes every number here worse.
	loadStart, loadEnd string
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

var mib = harness.MiB

func (rep *report) print(w io.Writer) {
	o := rep.o
	fmt.Fprintf(w, "\n== alga-mobile-auth benchmark (%s, GOMAXPROCS %d, %d CPUs; load generator in the same machine) ==\n",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Fprintf(w, "closed loop: %s warm-up, then %d × %s runs, median reported; p99@half: median of %d open-loop run(s) of %s at %.2f × the median peak, each after %s at that rate not counted\n\n",
		o.warmup, o.runs, o.duration, o.halfRuns, o.duration, o.halfFraction, o.halfWarmup)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "endpoint\tengine\tconns\treq/s\tp50\tp99\t× bare\tnon-2xx\thalf rate\tp99@half\t")
	for _, r := range rep.rows {
		ratio := "-"
		if x, ok := r.ratio(rep.bare); ok {
			ratio = fmt.Sprintf("%.2f", x)
		}
		n, _ := r.failures()
		half, halfP99 := "-", "-"
		if len(r.half) > 0 {
			half, halfP99 = fmt.Sprintf("%.0f", r.halfAchieved()), ms(r.halfP99())
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%s\t%s\t%s\t%d\t%s\t%s\t\n", r.endpoint, r.engine, r.conns, r.rate(),
			ms(r.p50()), ms(r.p99()), ratio, n, half, halfP99)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "\nwhere the CPU went (closed-loop runs, medians; other = PostgreSQL and the rest of the machine; of which postgres =")
	fmt.Fprintln(w, "the backends connected to the engine's own databases):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "endpoint\tengine\tserver µs/req\tgenerator µs/req\tother µs/req\tof which postgres\tmachine busy\t")
	for _, r := range rep.rows {
		sv, gn, ot, db, busy := r.cpuPerReq()
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f%%\t\n", r.endpoint, r.engine, sv, gn, ot, db, busy)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "\nstore operations per request (closed-loop runs; time from the call, so it includes waiting for a connection):")
	for _, r := range rep.rows {
		n := 0
		for _, x := range r.runs {
			n += x.n
		}
		if line := r.store.perRequestLine(n); line != "" {
			fmt.Fprintf(w, "  %s/%s: %s\n", r.endpoint, r.engine, line)
		}
	}
	fmt.Fprintln(w)
	for _, m := range rep.mem {
		fmt.Fprintf(w, "service peak RSS on %s: VmHWM %s (highest VmRSS of %d samples every 100 ms: %s; at the end anon %s, file %s, shmem %s)\n",
			m.engine, mib(m.hwm), m.samples, mib(m.sampled), mib(m.anon), mib(m.file), mib(m.shmem))
		if m.warnings > 0 {
			fmt.Fprintf(w, "  the service logged %d line(s) at warn or above on %s after start-up; the first: %.300s\n", m.warnings, m.engine, m.firstWarning)
		}
	}
	rep.printAppliance(w)
	rep.printRatioSpreads(w)
	rep.printFailures(w)
	fmt.Fprintln(w, "\ntargets (issue 3; appliance: issue 10):")
	for _, t := range rep.targets() {
		fmt.Fprintln(w, "  "+t)
	}
	if b, ok := rep.find(epBare, "-"); ok && len(b.half) > 0 {
		fmt.Fprintf(w, "  (floor: the bare handler's own p99 at half its peak was %s; the server and this generator share the CPUs)\n",
			ms(b.halfP99()))
	}
	for _, n := range rep.busyNotes() {
		fmt.Fprintln(w, "  "+n)
	}
	rep.printMethod(w)
	fmt.Fprintf(w, "\ntotal time %s; load average at start %s, at end %s\n", rep.total.Round(time.Second), rep.loadStart, rep.loadEnd)
}

func (rep *report) printFailures(w io.Writer) {
	for _, r := range rep.rows {
		n, st := r.failures()
		if n > 0 {
			var parts []string
			for s, c := range st {
				name := fmt.Sprint(s)
				if s == 0 {
					name = "transport error"
				}
				parts = append(parts, fmt.Sprintf("%s ×%d", name, c))
			}
			sort.Strings(parts)
			fmt.Fprintf(w, "non-2xx on %s/%s: %s\n", r.endpoint, r.engine, strings.Join(parts, ", "))
		}
		if r.exhausted() {
			fmt.Fprintf(w, "supply ran out on %s/%s: its req/s is over a shortened run; raise -supply-rate\n", r.endpoint, r.engine)
		}
	}
}

func (rep *report) find(ep, eng string) (row, bool) {
	for _, r := range rep.rows {
		if r.endpoint == ep && r.engine == eng {
			return r, true
		}
	}
	return row{}, false
}

func verdict(ok bool, r row) string {
	if n, _ := r.failures(); n > 0 {
		return "MISS (non-2xx answers)"
	}
	if ok {
		return "PASS"
	}
	return "MISS"
}

// targets checks each number of the issue against what was measured.
func (rep *report) targets() []string {
	var out []string
	engines := []string{}
	for _, m := range rep.mem {
		engines = append(engines, m.engine)
	}
	for _, eng := range engines {
		for _, t := range []struct {
			ep  string
			min float64
		}{{epCapabilities, 0.7}, {epVerify, 0.4}} {
			r, ok := rep.find(t.ep, eng)
			if !ok {
				continue
			}
			if x, ok := r.ratio(rep.bare); ok {
				out = append(out, fmt.Sprintf("%-4s %s ≥ %.2f × bare on %s: %.2f%s", verdict(x >= t.min, r), t.ep, t.min, eng, x, pairedNote(r)))
			}
		}
		floor := 3000.0
		if eng == "postgres" {
			floor = 2000
		}
		for _, ep := range []string{epExchange, epRefresh} {
			r, ok := rep.find(ep, eng)
			switch {
			case !ok:
			case eng == engineAppliance:
				out = append(out, rep.applianceTarget(r))
			default:
				out = append(out, fmt.Sprintf("%-4s %s ≥ %.0f/s on %s: %.0f/s", verdict(r.rate() >= floor, r), ep, floor, eng, r.rate()))
			}
		}
		for _, ep := range allEndpoints {
			r, ok := rep.find(ep, eng)
			if !ok || len(r.half) == 0 {
				continue
			}
			limit := 25 * time.Millisecond
			// In appliance mode verify looks the key up in AlgaPSA's
			// database (issue 10: 25 ms for every appliance figure).
			if (ep == epCapabilities || ep == epVerify) && eng != engineAppliance {
				limit = 5 * time.Millisecond
			}
			out = append(out, fmt.Sprintf("%-4s %s p99 at half peak (%.0f/s) ≤ %s on %s: %s", verdict(r.halfP99() <= limit, r),
				ep, r.halfRate, ms(limit), eng, ms(r.halfP99())))
		}
	}
	for _, m := range rep.mem {
		v := "MISS"
		if m.hwm > 0 && m.hwm <= 64<<20 {
			v = "PASS"
		}
		out = append(out, fmt.Sprintf("%-4s service RSS ≤ 64 MiB on %s: VmHWM %s", v, m.engine, mib(m.hwm)))
	}
	return out
}

func (rep *report) printMethod(w io.Writer) {
	fmt.Fprintln(w, "\nmethod:")
	fmt.Fprintf(w, "  service: `go build` of ./cmd/alga-mobile-auth, `serve` as its own process on 127.0.0.1 (EDITION=ee, trial, log level warn);\n")
	fmt.Fprintf(w, "    bare: this program re-executed with %s, its own process, serving the same %d capabilities bytes.\n", bareFlag, rep.capsBytes)
	fmt.Fprintf(w, "  × bare: for capabilities and verify, the median over their runs of each run's rate over that of a bare run made just\n"+
		"    before it (the machine's speed drifts over minutes); for other rows, against the bare row's median.\n")
	for _, s := range rep.seeds {
		if s.engine == engineAppliance {
			continue // printApplianceMethod
		}
		fmt.Fprintf(w, "  seed on %s (%s): %d users via `users add` (%d) and `users import`; one web session per user, %d OTTs and %d refresh chains\n"+
			"    written through internal/sqlstore while the service was stopped.\n",
			s.engine, s.took.Round(100*time.Millisecond), s.plan.users, verifyUsers, s.plan.otts+verifyUsers, s.plan.chains)
	}
	rep.printApplianceMethod(w)
	fmt.Fprintf(w, "  rate limits stay on. Each simulated phone is one user with its own client address, sent as X-Forwarded-For\n"+
		"    through a trusted proxy (ALGA_MOBILE_TRUSTED_PROXIES=127.0.0.1/32). Over the whole benchmark a user presents at most\n"+
		"    %d OTTs (exchange: 10/min per IP and per tenant:user) and a chain at most %d refreshes (30/min per IP and per\n"+
		"    tenant:user), so no window can overflow; a 429 would show in non-2xx.\n", ottsPerUser, maxChainUses)
	fmt.Fprintf(w, "  exchange: every request consumes a never-used OTT (issued with a %s lifetime instead of 60 s because it is issued\n"+
		"    minutes ahead; the expiry check costs the same). refresh: each chain always presents the latest refresh token it got.\n"+
		"  verify: %d access tokens obtained by exchange, presented in turn.\n", ottLifetime, verifyUsers)
	fmt.Fprintf(w, "  OTTs and chains are sized for -supply-rate %d req/s.\n", rep.o.supplyRate)
	fmt.Fprintf(w, "  p99@half: a pacer releases the requests that have come due (it wakes every %s asked, about every 1 ms in practice)\n"+
		"    to %s workers with a connection each (-half-conns; 0 = as the closed loop), client %s; latency runs from release, so\n"+
		"    waiting for a free worker counts; no sample of the measured span is dropped. Each run first sends %s at its rate\n"+
		"    (-half-warmup) whose answers are not counted (the service comes to the rate from the idle quiet wait: its pools'\n"+
		"    first checks, the database's processes waking; the progress log gives their p99). The generator runs this pass\n"+
		"    with GOGC=%d.\n",
		paceTick, halfConnsText(rep.o.halfConns), rep.o.halfClient, rep.o.halfWarmup, halfGOGC)
	if rep.o.quietWait > 0 {
		fmt.Fprintf(w, "  each measured run started once other work left the machine under %.0f%% busy for %s (waiting at most %s).\n",
			quietShare*100, quietSpell, rep.o.quietWait)
	}
	if len(rep.o.serviceEnv) > 0 {
		fmt.Fprintf(w, "  extra service environment: %s\n", strings.Join(rep.o.serviceEnv, " "))
	}
}

func halfConnsText(n int) string {
	if n == 0 {
		return "as many"
	}
	return fmt.Sprint(n)
}

// busyOtherShare is the share of the machine's CPU that neither the
// server nor this generator used during a row's open-loop runs (median).
func (r row) busyOtherShare() float64 {
	return medianOf(r.half, func(x result) float64 {
		if x.elapsed <= 0 {
			return 0
		}
		return x.cpu.other / (x.elapsed.Seconds() * float64(runtime.NumCPU()))
	})
}

// otherNoteShare is the share of the machine used by other processes above
// which the report says that a p99@half figure was measured next to them.
const otherNoteShare = 0.05

// busyNotes flags the open-loop figures that other work on the machine
// (another benchmark, a build) shared the CPUs with: such work lengthens
// the tail, and the figure says less about the service.
func (rep *report) busyNotes() []string {
	var out []string
	for _, r := range rep.rows {
		if len(r.half) == 0 {
			continue
		}
		if r.engine == "postgres" && (r.endpoint == epExchange || r.endpoint == epRefresh) {
			continue // PostgreSQL's own work is "other" here, and part of what is measured
		}
		if r.engine == engineAppliance {
			continue // so here, for every endpoint: verify looks the key up in AlgaPSA's database
		}
		if s := r.busyOtherShare(); s > otherNoteShare {
			out = append(out, fmt.Sprintf("(note: other processes used %.0f%% of the machine during the open-loop runs of %s/%s, median; its p99@half includes that)",
				s*100, r.endpoint, r.engine))
		}
	}
	return out
}

// pairedNote says how a row's ratio was formed.
func pairedNote(r row) string {
	if len(r.pairedBare) == 0 {
		return " (against the bare row)"
	}
	return fmt.Sprintf(" (median of %d runs, each against a bare run just before it)", len(r.runs))
}
