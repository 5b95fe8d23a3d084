// Command loadtest is the benchmark behind `make bench` (issue 3).
//
// It builds the service, starts it as a separate process on loopback (so its
// memory can be read from /proc), seeds users through the binary's own admin
// commands and one-time tokens and refresh-token chains through the store,
// then drives capabilities, verify, exchange and refresh with closed-loop
// workers, next to a bare net/http handler that serves the same capabilities
// bytes from its own process: the ceiling on this machine. Every measurement
// runs -runs times and the median is reported; a second, open-loop pass at
// half the peak rate gives the p99 the latency targets are about. That
// pass sends through a lean keep-alive client (lean.go) with the generator's
// GC relaxed, so that its tail is the server's rather than the generator's,
// and every run waits for other work on the shared machine to stop first
// (quiet.go).
// The table ends with PASS/MISS for each target of the issue.
//
// Rate limits stay on in the service. The load keeps clear of them the way
// real traffic would: every simulated phone is its own user with its own
// client address (X-Forwarded-For from a trusted proxy), and no user is
// asked for more than its limit allows (see the printed method note).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/harness"
)

// options are the command-line settings.
type options struct {
	duration, warmup time.Duration
	// halfWarmup is the open-loop load at a run's rate before each
	// open-loop run's measured span (openLoop's warm).
	halfWarmup     time.Duration
	runs, halfRuns int
	halfFraction   float64 // of the peak, for the open-loop pass (the issue says half)
	conns          int     // overrides dbConns and cpuConns when > 0
	dbConns        int     // exchange, refresh
	cpuConns       int     // capabilities, verify, bare
	pgURL          string
	sqlite         bool
	appliance      bool // also the appliance profile (appliance.go), on PostgreSQL
	pair           bool // measure standalone PostgreSQL and appliance mode side by side (paired.go)
	endpoints      []string
	supplyRate     int
	keep           bool
	bare           bool
	serviceEnv     []string      // extra KEY=VALUE for the service (GOGC, GODEBUG…)
	serviceBin     string        // a prebuilt service binary instead of `go build`
	halfRate       float64       // fixed open-loop rate (req/s) instead of halfFraction × peak, when > 0
	halfConns      int           // open-loop workers and connections (0: as the closed loop)
	halfClient     string        // halfLean or halfStd
	quietWait      time.Duration // longest wait for a quiet machine before each run
}

// envList collects repeated -service-env flags.
type envList []string

func (l *envList) String() string { return strings.Join(*l, " ") }

func (l *envList) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	*l = append(*l, v)
	return nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == bareFlag {
		os.Exit(runBare(os.Args[2:]))
	}
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err = run(ctx, o, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measured run")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before an endpoint's runs")
	fs.IntVar(&o.runs, "runs", 3, "closed-loop runs per endpoint; the median is reported")
	fs.IntVar(&o.halfRuns, "half-runs", 3, "open-loop runs at half the peak rate per endpoint, median reported (0 skips them)")
	fs.DurationVar(&o.halfWarmup, "half-warmup", time.Second,
		"before each open-loop run's measured span, load at its rate whose answers are not counted (their p99 is logged)")
	fs.Float64Var(&o.halfFraction, "half-fraction", 0.5, "rate of the open-loop pass as a fraction of the median peak")
	fs.IntVar(&o.conns, "conns", 0, "connections for every endpoint (0: -db-conns and -cpu-conns)")
	fs.IntVar(&o.dbConns, "db-conns", 16, "connections for exchange and refresh")
	fs.IntVar(&o.cpuConns, "cpu-conns", 64, "connections for capabilities, verify and the bare handler")
	fs.StringVar(&o.pgURL, "pg", os.Getenv("ALGA_TEST_POSTGRES_URL"),
		"PostgreSQL URL (default $ALGA_TEST_POSTGRES_URL); a throwaway database is created in it when allowed")
	fs.BoolVar(&o.sqlite, "sqlite", true, "benchmark on SQLite")
	fs.BoolVar(&o.appliance, "appliance", true,
		"with -pg, also benchmark appliance mode (own store and a stand-in of AlgaPSA's database on that server) against standalone PostgreSQL")
	fs.BoolVar(&o.pair, "pair", true,
		"with the appliance profile, start both services first and alternate their runs (A B B A …); ratios are medians of run-by-run ratios")
	eps := fs.String("endpoints", strings.Join(allEndpoints, ","), "endpoints to drive, comma-separated")
	fs.IntVar(&o.supplyRate, "supply-rate", 6000,
		"highest exchange/refresh rate (req/s) the pre-issued OTTs and chains must last for")
	fs.BoolVar(&o.bare, "bare", true, "measure the bare net/http ceiling (ratios need it)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (binary, databases, service logs)")
	fs.StringVar(&o.serviceBin, "service-bin", "", "benchmark this alga-mobile-auth binary instead of building ./cmd/alga-mobile-auth")
	fs.Float64Var(&o.halfRate, "half-rate", 0, "open-loop rate in req/s for every endpoint instead of -half-fraction × peak (for comparisons at one rate)")
	fs.IntVar(&o.halfConns, "half-conns", 0, "workers and connections of the open-loop pass (0: as many as the closed loop)")
	fs.StringVar(&o.halfClient, "half-client", halfLean, "client of the open-loop pass: "+halfLean+" (one goroutine per request, see lean.go) or "+halfStd)
	fs.DurationVar(&o.quietWait, "quiet-wait", 30*time.Second,
		"before each measured run, wait up to this long for other work on the machine to stop (0: don't)")
	var extra envList
	fs.Var(&extra, "service-env", "extra KEY=VALUE in the service's environment, e.g. GOGC=50 or GODEBUG=gctrace=1 (repeatable)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.serviceEnv = extra
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.conns > 0 {
		o.dbConns, o.cpuConns = o.conns, o.conns
	}
	switch {
	case o.duration <= 0 || o.warmup < 0 || o.halfWarmup < 0:
		return o, errors.New("-duration must be positive and -warmup and -half-warmup not negative")
	case o.runs < 1 || o.halfRuns < 0:
		return o, errors.New("-runs must be at least 1 and -half-runs not negative")
	case o.halfFraction <= 0 || o.halfFraction > 1:
		return o, errors.New("-half-fraction must be in (0, 1]")
	case o.halfRate < 0 || o.halfConns < 0 || o.quietWait < 0:
		return o, errors.New("-half-rate, -half-conns and -quiet-wait must not be negative")
	case o.halfClient != halfLean && o.halfClient != halfStd:
		return o, fmt.Errorf("-half-client must be %s or %s", halfLean, halfStd)
	case o.dbConns < 1 || o.cpuConns < 1:
		return o, errors.New("connection counts must be at least 1")
	case o.supplyRate < 1:
		return o, errors.New("-supply-rate must be at least 1")
	case !o.sqlite && o.pgURL == "":
		return o, errors.New("nothing to do: -sqlite=false and no -pg URL")
	}
	for _, e := range strings.Split(*eps, ",") {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		if !known(e) {
			return o, fmt.Errorf("unknown endpoint %q (want some of %s)", e, strings.Join(allEndpoints, ","))
		}
		o.endpoints = append(o.endpoints, e)
	}
	return o, nil
}

func known(e string) bool {
	for _, k := range allEndpoints {
		if k == e {
			return true
		}
	}
	return false
}

// run builds the service and benchmarks it on each engine in turn.
func run(ctx context.Context, o options, out, progress io.Writer) error {
	tmp, err := os.MkdirTemp("", "alga-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(progress, "keeping", tmp)
	} else {
		defer func() { _ = os.RemoveAll(tmp) }()
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(progress, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
	started := time.Now()
	bin := o.serviceBin
	if bin == "" {
		root, err := harness.ModuleRoot()
		if err != nil {
			return err
		}
		if bin, err = harness.BuildService(ctx, root, tmp); err != nil {
			return err
		}
		logf("built %s", bin)
	}

	b := &bench{o: o, bin: bin, tmp: tmp, logf: logf, rep: &report{o: o, loadStart: loadAvg()}}
	defer b.stopBare()
	var engines []engine
	if o.sqlite {
		engines = append(engines, sqliteEngine(tmp))
	}
	if o.pgURL != "" && !o.paired() {
		engines = append(engines, postgresEngine(o.pgURL))
		if o.appliance {
			engines = append(engines, applianceEngine(o.pgURL))
		}
	}
	for _, e := range engines {
		if err := b.runEngine(ctx, e); err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
	}
	if o.paired() {
		if err := b.runPaired(ctx, postgresEngine(o.pgURL), applianceEngine(o.pgURL)); err != nil {
			return err
		}
	}
	b.rep.total = time.Since(started)
	b.rep.loadEnd = loadAvg()
	b.rep.print(out)
	return nil
}
