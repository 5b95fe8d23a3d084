package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// rateRow is a row whose closed-loop runs went at the given rates.
func rateRow(ep, eng string, rates ...float64) row {
	r := row{endpoint: ep, engine: eng}
	for _, x := range rates {
		r.runs = append(r.runs, result{rate: x, n: int(x)})
	}
	return r
}

func TestApplianceTargetIsARatioToStandalonePostgres(t *testing.T) {
	tests := []struct {
		name   string
		rows   []row
		prefix string
		has    string
	}{
		{"at 0.9 × postgres", []row{rateRow(epExchange, "postgres", 2000), rateRow(epExchange, engineAppliance, 1800)},
			"PASS", "1800/s vs 2000/s = 0.90"},
		{"exactly 0.8 × postgres", []row{rateRow(epRefresh, "postgres", 2500), rateRow(epRefresh, engineAppliance, 2000)},
			"PASS", "= 0.80"},
		{"below 0.8 × postgres", []row{rateRow(epExchange, "postgres", 2000), rateRow(epExchange, engineAppliance, 1500)},
			"MISS", "= 0.75"},
		{"median of the runs", []row{rateRow(epExchange, "postgres", 1000, 2000, 3000), rateRow(epExchange, engineAppliance, 100, 1700, 9000)},
			"PASS", "= 0.85"},
		{"no standalone figure", []row{rateRow(epExchange, engineAppliance, 1800)}, "MISS", "no standalone postgres figure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := &report{rows: tt.rows}
			got := rep.applianceTarget(tt.rows[len(tt.rows)-1])
			assert.True(t, strings.HasPrefix(got, tt.prefix), got)
			assert.Contains(t, got, tt.has)
		})
	}
	t.Run("non-2xx answers miss whatever the rate", func(t *testing.T) {
		a := rateRow(epExchange, engineAppliance, 1800)
		a.runs[0].non2xx = 1
		rep := &report{rows: []row{rateRow(epExchange, "postgres", 2000), a}}
		assert.True(t, strings.HasPrefix(rep.applianceTarget(a), "MISS (non-2xx"), rep.applianceTarget(a))
	})
}

func TestAppliancePlanFollowsTheStandalonePeak(t *testing.T) {
	o := options{duration: 10 * time.Second, warmup: 2 * time.Second, runs: 3, halfRuns: 3, halfFraction: 0.5,
		supplyRate: 6000, endpoints: []string{epVerify, epExchange, epRefresh}}
	b := &bench{o: o, rep: &report{rows: []row{rateRow(epExchange, "postgres", 2000), rateRow(epRefresh, "postgres", 2400)}}}
	p, rate := b.appliancePlan()
	assert.Equal(t, 3600, rate, "1.5 × the higher standalone peak")
	secs := 2 + 3*10 + 3*10*0.5
	assert.Equal(t, int(3600*secs), p.otts)
	assert.Equal(t, (p.otts+maxChainUses-1)/maxChainUses, p.chains)
	assert.Equal(t, (p.otts+ottsPerUser-1)/ottsPerUser+p.chains+verifyUsers, p.users, "OTT, chain and verify users are disjoint")

	b.rep.rows = nil
	_, rate = b.appliancePlan()
	assert.Equal(t, 6000, rate, "without standalone figures, -supply-rate")
	b.rep.rows = []row{rateRow(epExchange, "postgres", 10)}
	_, rate = b.appliancePlan()
	assert.Equal(t, 500, rate, "never below 500/s")
}
