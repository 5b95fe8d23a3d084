package main

import (
	"context"
	"math"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/harness"
)

// Per-phone budgets that keep the load inside SPEC §3.4–§3.5's limits:
// each user (with its own client address) is given at most this many
// OTTs and refreshes over the whole benchmark, which no one-minute window
// can exceed.
const (
	ottsPerUser = 10 // exchange: 10/min per IP and per tenant:user
	verifyUsers = 8  // users whose access tokens verify presents
	ottLifetime = 30 * time.Minute
)

// plan is how much to pre-issue.
type plan struct {
	users, otts, chains int
}

// newPlan sizes the supply for the selected endpoints: enough for
// -supply-rate requests per second through the warm-up, every run and
// every half-rate run (and, in paired mode, the standalone calibration).
func newPlan(o options) plan {
	secs := o.calibrationSecs() + o.warmup.Seconds() + float64(o.runs)*o.duration.Seconds() + float64(o.halfRuns)*(o.halfWarmup+o.duration).Seconds()*o.halfFraction
	need := int(math.Ceil(float64(o.supplyRate) * secs))
	var p plan
	for _, e := range o.endpoints {
		switch e {
		case epExchange:
			p.otts = need
		case epRefresh:
			p.chains = (need + maxChainUses - 1) / maxChainUses
		}
	}
	p.users = max((p.otts+ottsPerUser-1)/ottsPerUser, p.chains) + verifyUsers
	return p
}

// supply is what seeding produced: clear tokens only the load generator knows.
type supply struct {
	otts   *ottSupply
	chains []*chain
	verify []ottItem // one OTT per verify user, exchanged before the runs
}

// seedUsers adds the plan's users: the verify users one by one with
// `users add`, the rest in one `users import`.
func seedUsers(ctx context.Context, bin string, env []string, tmp string, p plan) error {
	return harness.SeedUsers(ctx, bin, env, tmp, p.users, verifyUsers)
}

// seedTokens issues the plan's web sessions, OTTs and chains (harness.SeedTokens).
func seedTokens(ctx context.Context, dbURL string, p plan, postgres bool) (supply, error) {
	got, err := harness.SeedTokens(ctx, dbURL, harness.Plan{Users: p.users, OTTUsers: p.users - verifyUsers,
		OTTs: p.otts, Chains: p.chains, Extra: verifyUsers, OTTLifetime: ottLifetime}, postgres)
	if err != nil {
		return supply{}, err
	}
	item := func(o harness.OTT) ottItem { return ottItem{ott: o.OTT, state: o.State, ip: o.IP, device: o.Device} }
	s := supply{otts: &ottSupply{items: make([]ottItem, len(got.OTTs))}}
	for i, o := range got.OTTs {
		s.otts.items[i] = item(o)
	}
	for _, o := range got.Extra {
		s.verify = append(s.verify, item(o))
	}
	for _, c := range got.Chains {
		s.chains = append(s.chains, &chain{token: c.Token, ip: c.IP})
	}
	return s, nil
}
