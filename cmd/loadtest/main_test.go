package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/harness"
)

func TestPercentileIsNearestRank(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		out := make([]time.Duration, len(n))
		for i, v := range n {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty is zero", nil, 0.99, 0},
		{"single value", ms(7), 0.5, 7 * time.Millisecond},
		{"p50 of 1..100", ms(hundred...), 0.50, 50 * time.Millisecond},
		{"p99 of 1..100", ms(hundred...), 0.99, 99 * time.Millisecond},
		{"p99 of two values is the larger", ms(1, 9), 0.99, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, percentile(tt.sorted, tt.q))
		})
	}
}

func TestMedianOfOddAndEvenRuns(t *testing.T) {
	rate := func(x result) float64 { return x.rate }
	assert.Equal(t, 0.0, medianOf(nil, rate))
	assert.Equal(t, 20.0, medianOf([]result{{rate: 30}, {rate: 10}, {rate: 20}}, rate))
	assert.Equal(t, 15.0, medianOf([]result{{rate: 10}, {rate: 20}}, rate))
}

func TestRatioPairsEachRunWithTheBareRunBeforeIt(t *testing.T) {
	runs := func(rates ...float64) []result {
		out := make([]result, len(rates))
		for i, r := range rates {
			out[i].rate = r
		}
		return out
	}
	tests := []struct {
		name string
		r    row
		bare float64
		want float64
		ok   bool
	}{
		// The machine slowed down between runs: each run against its own
		// bare run gives 0.8, whatever the bare row's median says.
		{"paired", row{runs: runs(40, 32, 48), pairedBare: runs(50, 40, 60)}, 100, 0.8, true},
		{"median of the paired ratios", row{runs: runs(10, 30, 45), pairedBare: runs(50, 50, 50)}, 0, 0.6, true},
		{"unpaired rows use the bare row", row{runs: runs(20, 30, 40)}, 100, 0.3, true},
		{"no bare at all", row{runs: runs(20)}, 0, 0, false},
		{"an empty bare run gives no ratio", row{runs: runs(20), pairedBare: runs(0)}, 100, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.r.ratio(tt.bare)
			assert.Equal(t, tt.ok, ok)
			assert.InDelta(t, tt.want, got, 1e-9)
		})
	}
	rep := &report{bare: 100, mem: []memNote{{engine: "sqlite"}},
		rows: []row{{endpoint: epCapabilities, engine: "sqlite", runs: runs(40, 32, 48), pairedBare: runs(50, 40, 60)}}}
	assert.Contains(t, rep.targets(), "PASS capabilities ≥ 0.70 × bare on sqlite: 0.80 (median of 3 runs, each against a bare run just before it)")
}

func TestPlanKeepsEveryUserWithinItsLimits(t *testing.T) {
	o := options{duration: 10 * time.Second, warmup: 2 * time.Second, runs: 3, halfRuns: 1, halfFraction: 0.5, supplyRate: 5000,
		endpoints: allEndpoints}
	p := newPlan(o)
	need := 5000 * (2 + 30 + 5)
	assert.Equal(t, need, p.otts)
	assert.GreaterOrEqual(t, (p.users-verifyUsers)*ottsPerUser, p.otts, "no user holds more than its OTT budget")
	assert.GreaterOrEqual(t, p.chains*maxChainUses, need)
	assert.LessOrEqual(t, p.chains, p.users-verifyUsers, "every chain has a user (and address) of its own")

	o.endpoints = []string{epCapabilities}
	p = newPlan(o)
	assert.Equal(t, plan{users: verifyUsers}, p, "only the verify users when no token endpoint is driven")
}

func TestEveryUserGetsItsOwnAddress(t *testing.T) {
	seen := map[string]bool{}
	for i := range 70000 {
		ip := harness.IPOf(i)
		require.False(t, seen[ip], "address %s reused", ip)
		seen[ip] = true
	}
}

func TestParseFlagsRefusesNonsense(t *testing.T) {
	for _, args := range [][]string{
		{"-runs", "0"},
		{"-duration", "0s"},
		{"-endpoints", "capabilities,nope"},
		{"-sqlite=false", "-pg", ""},
		{"-db-conns", "0"},
		{"-half-client", "curl"},
		{"-half-rate", "-5"},
		{"-half-conns", "-1"},
		{"-quiet-wait", "-1s"},
		{"extra"},
	} {
		_, err := parseFlags(args)
		assert.Error(t, err, "%v", args)
	}
	o, err := parseFlags([]string{"-conns", "8", "-pg", ""})
	require.NoError(t, err)
	assert.Equal(t, 8, o.dbConns)
	assert.Equal(t, 8, o.cpuConns)
	assert.Equal(t, allEndpoints, o.endpoints)
	assert.Equal(t, halfLean, o.halfClient, "the open-loop pass uses the lean client unless told otherwise")
	assert.Zero(t, o.halfConns, "as many open-loop connections as closed-loop ones by default")
}

func TestCPUFiguresAreReadFromProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	busy, total := machineCPU()
	assert.Greater(t, total, 0.0)
	assert.LessOrEqual(t, busy, total)
	assert.GreaterOrEqual(t, procCPU(os.Getpid()), 0.0)
}

func TestLoopsCountStatusesAndStopWhenSupplyRunsOut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()
	c := newClient(4)
	ctx := context.Background()

	r := closedLoop(ctx, c, 4, 200*time.Millisecond, getCall(srv.URL+"/bad"))
	require.Positive(t, r.n)
	assert.Equal(t, r.n, r.non2xx)
	assert.Equal(t, r.n, r.statuses[http.StatusTooManyRequests])

	supply := &ottSupply{items: make([]ottItem, 5)}
	limited := func(ctx context.Context, c *http.Client, w int) (int, error) {
		if _, ok := supply.take(); !ok {
			return 0, errExhausted
		}
		return getCall(srv.URL+"/")(ctx, c, w)
	}
	r = closedLoop(ctx, c, 4, 5*time.Second, limited)
	assert.True(t, r.exhausted)
	assert.Equal(t, 5, r.n)
	assert.Less(t, r.elapsed, 5*time.Second, "the run ends when the supply does")

	r = openLoop(ctx, c, 4, 500, 0, 200*time.Millisecond, getCall(srv.URL+"/"))
	assert.InDelta(t, 100, r.n, 2, "paced at 500/s for 0.2 s")
	assert.Zero(t, r.non2xx)
}
