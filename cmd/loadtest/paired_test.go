package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pairedRow is an appliance row whose runs went at rates, each paired with
// the standalone run at the same index of pg.
func pairedRow(ep string, rates, pg []float64) row {
	r := rateRow(ep, engineAppliance, rates...)
	r.pairedWith = rateRow(ep, "postgres", pg...).runs
	return r
}

func TestPairedRatiosAreTakenRunByRun(t *testing.T) {
	// The machine slowed down during the run: the medians of each engine
	// say 1000/1500 = 0.67, but every appliance run went at 0.8 or more
	// of the standalone run beside it.
	pg := []float64{2000, 1500, 1000, 1500, 2000}
	a := pairedRow(epExchange, []float64{1640, 1200, 800, 1230, 1700}, pg)
	x, ok := a.pairRatios()
	require.True(t, ok)
	assert.InDeltaSlice(t, []float64{0.82, 0.8, 0.8, 0.82, 0.85}, x, 1e-9, "in run order")
	s := spreadOf(x)
	assert.InDelta(t, 0.82, s.median, 1e-9)
	assert.InDelta(t, 0.8, s.lo, 1e-9)
	assert.InDelta(t, 0.85, s.hi, 1e-9)

	rep := &report{rows: []row{rateRow(epExchange, "postgres", pg...), a}}
	got := rep.applianceTarget(a)
	assert.True(t, strings.HasPrefix(got, "PASS"), got)
	assert.Contains(t, got, "median of 5 paired runs 0.82 (range 0.80–0.85; medians 1230/s vs 1500/s)")

	low := pairedRow(epRefresh, []float64{700, 700, 900}, []float64{1000, 1000, 1000})
	rep = &report{rows: []row{rateRow(epRefresh, "postgres", 1000, 1000, 1000), low}}
	assert.True(t, strings.HasPrefix(rep.applianceTarget(low), "MISS"), rep.applianceTarget(low))

	t.Run("unpaired or mismatched rows fall back to the medians", func(t *testing.T) {
		_, ok := rateRow(epExchange, engineAppliance, 1, 2).pairRatios()
		assert.False(t, ok)
		odd := pairedRow(epExchange, []float64{1, 2}, []float64{1})
		_, ok = odd.pairRatios()
		assert.False(t, ok)
		zero := pairedRow(epExchange, []float64{1}, []float64{0})
		_, ok = zero.pairRatios()
		assert.False(t, ok)
	})

	var out strings.Builder
	(&report{rows: []row{rateRow(epExchange, "postgres", pg...), a}}).printRatioSpreads(&out)
	assert.Contains(t, out.String(), "exchange/appliance ÷ postgres run beside it: 0.82 0.80 0.80 0.82 0.85; median 0.82, range 0.80–0.85")
	out.Reset()
	(&report{rows: []row{rateRow(epExchange, "postgres", pg...), a}}).printAppliance(&out)
	assert.Regexp(t, `exchange\s+1500\s+1230\s+0\.82\s+0\.80–0\.85`, out.String())
}

func TestPairedRunsAlternateABBA(t *testing.T) {
	var mu sync.Mutex
	var log []string
	o := options{duration: 20 * time.Millisecond, runs: 4}
	b := &bench{o: o, rep: &report{o: o}, logf: func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		log = append(log, fmt.Sprintf(format, args...))
	}}
	ok := func(context.Context, *http.Client, int) (int, error) {
		time.Sleep(time.Millisecond)
		return http.StatusOK, nil
	}
	ta := target{ep: epExchange, eng: "postgres", conns: 1, do: ok, pid: os.Getpid()}
	tb := target{ep: epExchange, eng: engineAppliance, conns: 1, do: ok, pid: os.Getpid()}
	ra, rb, err := b.measurePair(t.Context(), ta, tb)
	require.NoError(t, err)
	require.Len(t, ra.runs, 4)
	require.Len(t, rb.runs, 4)
	assert.Equal(t, ra.runs, rb.pairedWith, "each appliance run keeps the standalone run beside it")

	re := regexp.MustCompile(`^exchange\s+(\S+)\s+run (\d)/4:`)
	var order []string
	for _, l := range log {
		if m := re.FindStringSubmatch(l); m != nil {
			order = append(order, m[1][:1]+m[2])
		}
	}
	assert.Equal(t, []string{"p1", "a1", "a2", "p2", "p3", "a3", "a4", "p4"}, order)
	assert.Contains(t, strings.Join(log, "\n"), "paired runs, appliance / postgres:")
}

func TestPairedModeSizesTheApplianceSupplyFromTheCalibration(t *testing.T) {
	o := options{duration: 10 * time.Second, warmup: 2 * time.Second, runs: 3, halfRuns: 3, halfFraction: 0.5,
		supplyRate: 6000, endpoints: []string{epVerify, epExchange, epRefresh}, pgURL: "postgres://x", appliance: true, pair: true}
	secs := (calibrateWarm + calibrateFor).Seconds() + 2 + 3*10 + 3*10*0.5
	assert.Equal(t, int(6000*secs), newPlan(o).otts, "the standalone supply also lasts through the calibration")

	b := &bench{o: o, rep: &report{}, calibrated: map[string]float64{epExchange: 1000, epRefresh: 1200}}
	p, rate := b.appliancePlan()
	assert.Equal(t, 2400, rate, "2 × the higher calibrated rate")
	assert.Equal(t, int(2400*secs), p.otts)

	o.pair = false
	assert.False(t, o.paired())
	assert.Equal(t, int(6000*(secs-(calibrateWarm+calibrateFor).Seconds())), newPlan(o).otts, "no calibration unpaired")
}

func TestBackendsAreToldByTheirDatabase(t *testing.T) {
	for _, tt := range []struct {
		cmdline, db string
		ok          bool
	}{
		{"postgres: postgres alga_bench_1 127.0.0.1(44150) idle\x00\x00", "alga_bench_1", true},
		{"postgres: app_user server 10.0.0.3(5000) UPDATE waiting", "server", true},
		{"postgres: walwriter ", "", false},
		{"postgres: checkpointer", "", false},
		{"/usr/lib/postgresql/15/bin/postgres\x00-D\x00/data", "", false},
		{"alga-mobile-auth\x00serve", "", false},
	} {
		db, ok := backendDB(tt.cmdline)
		assert.Equal(t, tt.ok, ok, tt.cmdline)
		assert.Equal(t, tt.db, db, tt.cmdline)
	}
	assert.Zero(t, backendsCPU(nil))
	assert.Zero(t, backendsCPU([]string{"no_such_database_here"}))
}
