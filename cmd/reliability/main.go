// Command reliability starts the service binary, PostgreSQL and Redis as
// real processes on loopback and drives them through replicas, crashes,
// database and Redis outages, graceful shutdown, a soak and a store of
// millions of rows (issue #12). Each scenario prints one verdict line
// (PASS or FAIL, with its figures); the exit status is 1 when any failed.
//
//	go run ./cmd/reliability                       # the full profile (make reliability)
//	go run ./cmd/reliability -profile ci           # the short profile .ci/run uses
//	go run ./cmd/reliability -only outage,redis    # some scenarios
//
// PostgreSQL is a throwaway cluster of its own (initdb and pg_ctl from
// /usr/lib/postgresql/*/bin, run as the postgres user when root), so the
// outage scenario can stop and start it; Redis is a redis-server of its own.
// The algapsa scenario (appliance mode) starts a second cluster for the
// stand-in of AlgaPSA's database, so that it can go away on its own.
// The machine is shared: figures are compared as ratios within one run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/harness"
)

// profile sizes every scenario.
type profile struct {
	name        string
	crashLoad   time.Duration // sustained load around a kill -9
	outage      time.Duration // how long PostgreSQL is down
	soak        time.Duration
	scaleFams   int           // token families seeded for the scale scenario
	scaleAudit  int           // audit events seeded
	measure     time.Duration // one closed-loop measurement
	measureRuns int           // measurements per endpoint and store (median)
	// scaleEngines are the engines the scale scenario runs on (both unless
	// -scale-engines says otherwise); with scalePurgeOnly it seeds the
	// store and runs the purge verdict alone, without the empty store and
	// the throughput measurements.
	scaleEngines   []string
	scalePurgeOnly bool
	// scaleTiedExpiry seeds every due token with the same expiry (the
	// purge's worst case) instead of spread in insertion order (bulkSeed).
	scaleTiedExpiry bool
}

var profiles = map[string]profile{
	"full": {name: "full", crashLoad: 20 * time.Second, outage: 10 * time.Second, soak: 10 * time.Minute,
		scaleFams: 1_000_000, scaleAudit: 1_000_000, measure: 5 * time.Second, measureRuns: 5},
	"ci": {name: "ci", crashLoad: 8 * time.Second, outage: 10 * time.Second, soak: 60 * time.Second,
		scaleFams: 50_000, scaleAudit: 50_000, measure: 2 * time.Second, measureRuns: 3},
}

// scenarioOrder is the order scenarios run in (and are listed in -only).
var scenarioOrder = []string{"replicas", "crash", "outage", "algapsa", "redis", "shutdown", "soak", "scale"}

// rig is what every scenario shares: the built binary, the scratch
// directory, the PostgreSQL cluster and the Redis server.
type rig struct {
	prof  profile
	bin   string
	tmp   string
	pg    *postgres
	redis *redisServer
	logf  func(format string, args ...any)
}

func main() {
	profName := flag.String("profile", "full", "full (make reliability) or ci (the short .ci/run profile)")
	only := flag.String("only", "", "comma-separated scenarios to run (default all): "+strings.Join(scenarioOrder, ","))
	keep := flag.Bool("keep", false, "keep the scratch directory (logs, databases)")
	bin := flag.String("bin", "", "the service binary to run (default: build ./cmd/alga-mobile-auth)")
	scaleFams := flag.Int("scale-families", 0, "override the profile's token families for the scale scenario")
	scaleEngines := flag.String("scale-engines", "sqlite,postgres", "the engines the scale scenario runs on")
	purgeOnly := flag.Bool("scale-purge-only", false, "scale: seed and run the purge verdict only (no empty store, no throughput)")
	tied := flag.Bool("scale-tied-expiry", false, "scale: seed every expired token with the same expiry instant (the purge's worst case) instead of spread in insertion order")
	flag.Parse()
	prof, ok := profiles[*profName]
	if !ok {
		fmt.Fprintln(os.Stderr, "reliability: -profile must be full or ci")
		os.Exit(2)
	}
	if *scaleFams > 0 {
		prof.scaleFams, prof.scaleAudit = *scaleFams, *scaleFams
	}
	prof.scalePurgeOnly = *purgeOnly
	prof.scaleTiedExpiry = *tied
	for _, e := range strings.Split(*scaleEngines, ",") {
		if e = strings.TrimSpace(e); e != "sqlite" && e != "postgres" {
			fmt.Fprintln(os.Stderr, "reliability: -scale-engines lists sqlite and/or postgres")
			os.Exit(2)
		}
		prof.scaleEngines = append(prof.scaleEngines, e)
	}
	want := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			want[s] = true
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, prof, want, *keep, *bin))
}

func run(ctx context.Context, prof profile, want map[string]bool, keep bool, bin string) int {
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
	tmp, err := os.MkdirTemp("", "alga-reliability-")
	if err != nil {
		logf("scratch directory: %v", err)
		return 1
	}
	if keep {
		logf("scratch directory kept: %s", tmp)
	} else {
		defer func() { _ = os.RemoveAll(tmp) }()
	}
	r := &rig{prof: prof, tmp: tmp, logf: logf, bin: bin}
	if bin == "" {
		var root string
		if root, err = harness.ModuleRoot(); err == nil {
			logf("building the service")
			r.bin, err = harness.BuildService(ctx, root, tmp)
		}
	}
	if err == nil {
		logf("starting PostgreSQL and Redis")
		r.pg, err = startPostgres(ctx, filepath.Join(tmp, "pg"))
	}
	if err == nil {
		defer r.pg.destroy()
		r.redis, err = startRedis(filepath.Join(tmp, "redis.log"))
	}
	if err != nil {
		logf("setup failed: %v", err)
		return 1
	}
	defer r.redis.stop()

	scenarios := map[string]func(context.Context, *rig) []verdict{
		"replicas": replicasScenario, "crash": crashScenario, "outage": outageScenario, "algapsa": algapsaScenario, "redis": redisScenario,
		"shutdown": shutdownScenario, "soak": soakScenario, "scale": scaleScenario,
	}
	var all []verdict
	for _, name := range scenarioOrder {
		if len(want) > 0 && !want[name] {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		logf("scenario %s (%s profile)", name, prof.name)
		vs := scenarios[name](ctx, r)
		for _, v := range vs {
			fmt.Println(v.String())
		}
		all = append(all, vs...)
	}
	fmt.Printf("\n== reliability (%s profile) ==\n", prof.name)
	failed := 0
	for _, v := range all {
		fmt.Println(v.String())
		if !v.pass {
			failed++
		}
	}
	if failed > 0 || ctx.Err() != nil {
		fmt.Printf("%d of %d verdicts FAILED\n", failed, len(all))
		return 1
	}
	fmt.Printf("all %d verdicts PASS\n", len(all))
	return 0
}

// verdict is one scenario's result line.
type verdict struct {
	name    string
	pass    bool
	figures string
}

func (v verdict) String() string {
	s := "PASS"
	if !v.pass {
		s = "FAIL"
	}
	return fmt.Sprintf("%s %-18s %s", s, v.name, v.figures)
}

// failed is a verdict for a scenario that could not run to the end.
func failed(name string, err error) verdict {
	return verdict{name: name, figures: "could not run: " + strings.ReplaceAll(err.Error(), "\n", " | ")}
}
