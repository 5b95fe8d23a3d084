package main

// Paired measurement of standalone PostgreSQL and appliance mode (issue 10
// judges appliance exchange and refresh as a ratio to standalone PostgreSQL
// "of the same run"). Measured one engine after the other, the two rows are
// minutes apart, and on this shared machine minutes are enough for its
// speed to drift by more than the margin being judged: one quiet run gave
// exchange 0.76 while the other rows said the machine had slowed down
// between the two. So with -pair (the default) both services are started
// and seeded first, and each endpoint's closed-loop runs alternate between
// them in the order A B B A A B …, every appliance run next to a standalone
// one. The ratio is the median, over those pairs, of appliance run /
// standalone run, printed with every pair's ratio and their range. The
// baseline is unchanged: the same standalone service, seeds and runs.

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

const (
	// calibrateFor is how long each of exchange and refresh runs on the
	// standalone service before the appliance supply is sized (paired
	// mode seeds both services before any measured run, so the standalone
	// peak of the run is not known yet); calibrateWarm is unmeasured load
	// before it.
	calibrateFor  = 2 * time.Second
	calibrateWarm = time.Second
	// pairedSupplyHeadroom sizes the appliance supply from the calibration:
	// more than applianceSupplyHeadroom, since a short calibration on a
	// service just started may read low.
	pairedSupplyHeadroom = 2.0
)

// paired reports whether standalone PostgreSQL and appliance mode are
// measured side by side.
func (o options) paired() bool { return o.pair && o.appliance && o.pgURL != "" }

// calibrationSecs is the standalone supply the calibration uses up, in
// seconds of -supply-rate.
func (o options) calibrationSecs() float64 {
	if !o.paired() {
		return 0
	}
	return (calibrateWarm + calibrateFor).Seconds()
}

// runPaired measures standalone PostgreSQL (pgE) and appliance mode (appE)
// side by side: both services up, each endpoint's runs alternated.
func (b *bench) runPaired(ctx context.Context, pgE, appE engine) error {
	pg, err := b.start(ctx, pgE)
	if err != nil {
		return fmt.Errorf("%s: %w", pgE.name, err)
	}
	defer pg.stop()
	b.calibrate(ctx, pg)
	app, err := b.start(ctx, appE)
	if err != nil {
		return fmt.Errorf("%s: %w", appE.name, err)
	}
	defer app.stop()
	var pgRows, appRows []row
	for _, ep := range b.o.endpoints {
		ta, okA := pg.target(ep)
		tb, okB := app.target(ep)
		switch {
		case okA && okB:
			ra, rb, err := b.measurePair(ctx, ta, tb)
			if err != nil {
				return fmt.Errorf("%s beside %s: %w", appE.name, pgE.name, err)
			}
			pgRows, appRows = append(pgRows, pg.finish(ra)), append(appRows, app.finish(rb))
		case okA:
			r, err := b.measure(ctx, ta)
			if err != nil {
				return fmt.Errorf("%s: %w", pgE.name, err)
			}
			pgRows = append(pgRows, pg.finish(r))
		}
	}
	b.rep.rows = append(append(b.rep.rows, pgRows...), appRows...)
	b.rep.mem = append(b.rep.mem, pg.memNote(), app.memNote())
	return nil
}

// calibrate measures the standalone service's exchange and refresh for a
// moment, for appliancePlan.
func (b *bench) calibrate(ctx context.Context, l *live) {
	for _, ep := range []string{epExchange, epRefresh} {
		t, ok := l.target(ep)
		if !ok {
			continue
		}
		c := newClient(t.conns)
		closedLoop(ctx, c, t.conns, calibrateWarm, t.do)
		res := closedLoop(ctx, c, t.conns, calibrateFor, t.do)
		c.CloseIdleConnections()
		if b.calibrated == nil {
			b.calibrated = map[string]float64{}
		}
		b.calibrated[ep] = res.rate
		b.logf("%-12s %-8s calibration (sizes the appliance supply, not reported): %.0f req/s", ep, t.eng, res.rate)
	}
}

// measurePair measures a (standalone) and b (appliance) on one endpoint:
// both warm up, then their closed-loop runs alternate A B B A A B …, so
// that run i of each is measured next to the other's run i and a drift
// of the machine's speed weighs on both alike; then each one's open-loop
// runs. The appliance row keeps the standalone runs it was paired with.
func (b *bench) measurePair(ctx context.Context, ta, tb target) (row, row, error) {
	ma, mb := b.newMeasurer(ta), b.newMeasurer(tb)
	defer ma.close()
	defer mb.close()
	ma.warm(ctx)
	mb.warm(ctx)
	for i := range b.o.runs {
		first, second := ma, mb
		if i%2 == 1 {
			first, second = mb, ma
		}
		if err := first.closedRun(ctx, i); err != nil {
			return ma.r, mb.r, err
		}
		if err := second.closedRun(ctx, i); err != nil {
			return ma.r, mb.r, err
		}
	}
	mb.r.pairedWith = slices.Clone(ma.r.runs)
	if x, ok := mb.r.pairRatios(); ok {
		b.logf("%-12s paired runs, %s / %s: %s", tb.ep, tb.eng, ta.eng, ratioList(x))
	}
	if err := ma.halfRuns(ctx); err != nil {
		return ma.r, mb.r, err
	}
	err := mb.halfRuns(ctx)
	return ma.r, mb.r, err
}

// pairRatios is, run by run, the row's rate over that of the run it was
// paired with (paired mode), in run order; false when it has no pairs.
func (r row) pairRatios() ([]float64, bool) {
	if len(r.pairedWith) == 0 || len(r.pairedWith) != len(r.runs) {
		return nil, false
	}
	out := make([]float64, len(r.runs))
	for i, x := range r.runs {
		if r.pairedWith[i].rate <= 0 {
			return nil, false
		}
		out[i] = x.rate / r.pairedWith[i].rate
	}
	return out, true
}

// spread is the median, lowest and highest of v.
type spread struct{ median, lo, hi float64 }

func spreadOf(v []float64) spread {
	s := slices.Clone(v)
	slices.Sort(s)
	return spread{median: median(s), lo: s[0], hi: s[len(s)-1]}
}

// ratioList is v in run order, then its median and range.
func ratioList(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	s := spreadOf(v)
	return fmt.Sprintf("%s; median %.2f, range %.2f–%.2f", strings.Join(parts, " "), s.median, s.lo, s.hi)
}

// printRatioSpreads lists, for every row whose ratio is a median of
// paired runs, each pair's ratio: the spread says how far one median can
// be trusted on this machine.
func (rep *report) printRatioSpreads(w io.Writer) {
	var lines []string
	for _, r := range rep.rows {
		if x, ok := r.pairRatios(); ok {
			lines = append(lines, fmt.Sprintf("  %s/%s ÷ postgres run beside it: %s", r.endpoint, r.engine, ratioList(x)))
		}
		if len(r.pairedBare) > 0 && len(r.pairedBare) == len(r.runs) {
			x := make([]float64, len(r.runs))
			for i, run := range r.runs {
				if r.pairedBare[i].rate > 0 {
					x[i] = run.rate / r.pairedBare[i].rate
				}
			}
			lines = append(lines, fmt.Sprintf("  %s/%s ÷ bare run just before it: %s", r.endpoint, r.engine, ratioList(x)))
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, "\nratios run by run (in run order), their median and range:")
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}
