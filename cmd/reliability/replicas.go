package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/harness"
)

// startReplicas starts n services on one PostgreSQL database (and Redis
// when redisURL is set), seeds plan and returns them with the supply.
func (r *rig) startReplicas(ctx context.Context, db string, n int, plan harness.Plan, extra ...string) ([]*instance, harness.Supply, string, error) {
	dbURL, err := r.pg.createDB(ctx, db)
	if err != nil {
		return nil, harness.Supply{}, "", err
	}
	var ins []*instance
	for i := range n {
		in, err := r.newInstance(fmt.Sprintf("%s-%d", db, i), dbURL, extra...)
		if err != nil {
			return nil, harness.Supply{}, "", err
		}
		ins = append(ins, in)
	}
	sup, err := r.seed(ctx, ins[0], dbURL, plan)
	if err != nil {
		return nil, harness.Supply{}, "", fmt.Errorf("seed: %w", err)
	}
	for _, in := range ins {
		if err := in.start(ctx); err != nil {
			stopAll(ins)
			return nil, harness.Supply{}, "", err
		}
	}
	return ins, sup, dbURL, nil
}

func stopAll(ins []*instance) {
	for _, in := range ins {
		in.stop()
	}
}

// replicasScenario: three services on one PostgreSQL and Redis. 500
// concurrent exchanges of 50 OTTs spread over the replicas must give
// exactly 50 successes; 500 concurrent refreshes of 50 chains exactly 50
// distinct successors; a limit of N per minute admits N in total.
func replicasScenario(ctx context.Context, r *rig) []verdict {
	const name, tokens, each = "replicas", 50, 10
	ins, sup, _, err := r.startReplicas(ctx, "rel_replicas", 3,
		harness.Plan{Users: tokens, OTTUsers: tokens, OTTs: tokens, Chains: tokens}, "ALGA_MOBILE_REDIS_URL="+r.redis.url())
	if err != nil {
		return []verdict{failed(name, err)}
	}
	defer stopAll(ins)
	// Every request must be answered within 15 s, its connection included.
	c := newClientDial(15*time.Second, 15*time.Second)

	// Exchanges: every OTT presented `each` times at once, on all replicas,
	// each time from an address of its own (as `each` phones would: the
	// per-address limit of 10 a minute must not refuse a phone's retry
	// after a 503). A 503 with Retry-After is retried as a phone does.
	exchProbe := r.newBurstProbe(ins, "/api/v1/mobile/auth/exchange", r.pg.url("postgres"), "rel_replicas")
	exch, exchFirst := newTally(), newTally()
	exchLat, refLat := &latencies{}, &latencies{}
	exchRetries, exchUnclear := &counter{}, &counter{}
	wins := make([]int, tokens)
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, o := range sup.OTTs {
		for k := range each {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				o := o
				o.IP = fmt.Sprintf("10.77.%d.%d", i, k+1)
				base := ins[(i+k)%len(ins)].base
				res, all := retrying(ctx, func() result { _, res := c.exchange(ctx, base, o); return res })
				for _, a := range all {
					exchProbe.add(a)
					exchLat.add(a.dur)
					exchUnclear.add(unclear(a))
				}
				exchRetries.add(len(all) - 1)
				exchFirst.add(all[0].kind())
				exch.add(res.kind())
				if res.status == http.StatusOK {
					mu.Lock()
					wins[i]++
					mu.Unlock()
				}
			}()
		}
	}
	exchProbe.begin(ctx, c)
	close(start)
	wg.Wait()
	exchProbe.end(ctx, c)
	exchDiag := exchProbe.report(r.logf, "replicas/exchange")
	onePerOTT := true
	for _, w := range wins {
		onePerOTT = onePerOTT && w == 1
	}

	// Refreshes: every chain's first token presented `each` times at once
	// (retried after a 503 with Retry-After, like the exchanges).
	refProbe := r.newBurstProbe(ins, "/api/v1/mobile/auth/refresh", r.pg.url("postgres"), "rel_replicas")
	ref, refFirst := newTally(), newTally()
	refRetries, refUnclear := &counter{}, &counter{}
	successors := make([]map[string]bool, tokens)
	for i := range successors {
		successors[i] = map[string]bool{}
	}
	start = make(chan struct{})
	for i, ch := range sup.Chains {
		for k := range each {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				base := ins[(i+k)%len(ins)].base
				var p pair
				res, all := retrying(ctx, func() result { var res result; p, res = c.refresh(ctx, base, ch.Token, ch.IP); return res })
				for _, a := range all {
					refProbe.add(a)
					refLat.add(a.dur)
					refUnclear.add(unclear(a))
				}
				refRetries.add(len(all) - 1)
				refFirst.add(all[0].kind())
				ref.add(res.kind())
				if res.status == http.StatusOK {
					mu.Lock()
					successors[i][p.refresh] = true
					mu.Unlock()
				}
			}()
		}
	}
	refProbe.begin(ctx, c)
	close(start)
	wg.Wait()
	refProbe.end(ctx, c)
	refDiag := refProbe.report(r.logf, "replicas/refresh")
	distinct, oneEach := 0, true
	for _, s := range successors {
		distinct += len(s)
		oneEach = oneEach && len(s) == 1
	}

	// A limit across replicas: exchange allows 10 per minute per client
	// address; 30 attempts from one new address, spread over the replicas.
	const limit, attempts = 10, 30
	lim := newTally()
	admitted := 0
	for k := range attempts {
		_, res := c.exchange(ctx, ins[k%len(ins)].base, harness.OTT{OTT: fmt.Sprintf("unknown-%d", k), State: "s", IP: "192.0.2.77"})
		lim.add(res.kind())
		if res.status != http.StatusTooManyRequests {
			admitted++
		}
	}
	var n500 int
	for _, in := range ins {
		n500 += in.count500s()
	}
	return []verdict{
		{name: "replicas/exchange", pass: exch.get("200") == tokens && onePerOTT && exch.get("401") == tokens*(each-1) && exchUnclear.n == 0,
			figures: fmt.Sprintf("%d OTTs × %d concurrent exchanges on 3 replicas: outcomes %s (first answers %s; retries after 503 %d; unanswered or unclear %d), p50 %s, slowest %s; exactly one success per OTT: %v; %s",
				tokens, each, exch, exchFirst, exchRetries.n, exchUnclear.n, ms(exchLat.quantile(0.5)), ms(exchLat.quantile(1)), onePerOTT, exchDiag)},
		{name: "replicas/refresh", pass: ref.get("200") == tokens*each && distinct == tokens && oneEach && refUnclear.n == 0,
			figures: fmt.Sprintf("%d chains × %d concurrent refreshes on 3 replicas: outcomes %s (first answers %s; retries after 503 %d; unanswered or unclear %d), p50 %s, slowest %s; distinct successors %d (one per chain: %v); %s",
				tokens, each, ref, refFirst, refRetries.n, refUnclear.n, ms(refLat.quantile(0.5)), ms(refLat.quantile(1)), distinct, oneEach, refDiag)},
		{name: "replicas/ratelimit", pass: admitted == limit && n500 == 0,
			figures: fmt.Sprintf("limit %d/min per address, %d attempts over 3 replicas (Redis): admitted %d, outcomes %s; 500s logged %d", limit, attempts, admitted, lim, n500)},
	}
}
