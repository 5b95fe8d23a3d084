package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/harness"
	"github.com/nineminds/alga-mobile-auth/internal/ratelimit"
)

// Log messages of ratelimit.Fallback the scenario looks for.
const (
	fallbackLogged = "falling back to per-instance limits"
	sharedLogged   = "limits are shared across replicas"
)

// redisScenario kills Redis under two replicas: rate limiting must fall
// back to per-instance limits (logged once per replica), requests keep
// flowing, and once Redis is back the limits are shared again.
func redisScenario(ctx context.Context, r *rig) []verdict {
	const name = "redis"
	const users = 20
	ins, sup, _, err := r.startReplicas(ctx, "rel_redis", 2, harness.Plan{Users: users, OTTUsers: users, Chains: users},
		"ALGA_MOBILE_REDIS_URL="+r.redis.url(), "ALGA_MOBILE_LOG_LEVEL=info")
	if err != nil {
		return []verdict{failed(name, err)}
	}
	defer stopAll(ins)
	c := newClient(15 * time.Second)
	// admitted counts, of 30 exchange attempts from ip over both replicas,
	// those not refused by the per-address limit (10 per minute).
	admitted := func(ip string) (int, *tally) {
		t := newTally()
		n := 0
		for k := range 30 {
			_, res := c.exchange(ctx, ins[k%2].base, harness.OTT{OTT: fmt.Sprintf("unknown-%d", k), State: "s", IP: ip})
			t.add(res.kind())
			if res.status != http.StatusTooManyRequests {
				n++
			}
		}
		return n, t
	}
	before, _ := admitted("192.0.2.10")

	// rounds refreshes every chain, alternating replicas, and asks for
	// capabilities after each, for n rounds and at least for minDur: the
	// refreshes' latencies (they pass the rate limiter) go to lat.
	chains := append([]harness.Chain(nil), sup.Chains...)
	flow := newTally()
	rounds := func(n int, minDur time.Duration, lat *latencies) time.Duration {
		start := time.Now()
		for round := 0; round < n || time.Since(start) < minDur; round++ {
			for i := range chains {
				p, res := c.refresh(ctx, ins[(i+round)%2].base, chains[i].Token, chains[i].IP)
				flow.add(res.kind())
				lat.add(res.dur)
				if res.status == http.StatusOK {
					chains[i].Token = p.refresh
				}
				flow.add(c.get(ctx, ins[i%2].base, "/api/v1/mobile/auth/capabilities").kind())
				time.Sleep(20 * time.Millisecond)
			}
		}
		return time.Since(start)
	}
	up, down := &latencies{}, &latencies{}
	rounds(1, 0, &latencies{}) // warm-up: connections, caches
	rounds(1, 0, up)
	flow = newTally()

	// Down for long enough that each replica probes Redis several times
	// (once per ratelimit.FallbackProbe).
	r.redis.kill()
	flowTime := rounds(3, 5*time.Second, down)
	during, duringT := admitted("192.0.2.11")

	if err := r.redis.start(); err != nil {
		return []verdict{failed(name, fmt.Errorf("restart Redis: %w", err))}
	}
	time.Sleep(ratelimit.FallbackProbe + 200*time.Millisecond)
	after, afterT := admitted("192.0.2.12")

	fellBack, shared := 0, 0
	for _, in := range ins {
		l := in.logs()
		if strings.Count(l, fallbackLogged) == 1 {
			fellBack++
		}
		if strings.Count(l, sharedLogged) == 1 {
			shared++
		}
	}
	// A request pays for Redis being gone at most once: the one that finds
	// out, and then one probe a second (bounded by ratelimit.ProbeTimeout).
	// 100 ms over the same requests' p99 with Redis up is the allowance.
	slowOK := down.quantile(0.99) <= up.quantile(0.99)+100*time.Millisecond
	return []verdict{
		{name: "redis/down", pass: flow.get("200") == flow.total() && during == 20 && fellBack == 2 && slowOK,
			figures: fmt.Sprintf("Redis killed under 2 replicas: %d refreshes+capabilities in %s: %s; refresh latency with Redis down p50 %s p99 %s max %s (up: p50 %s p99 %s max %s; limit p99 up + 100ms); per-address limit 10/min now per instance: %d of 30 admitted (%s); fallback logged once by %d of 2 replicas",
				flow.total(), flowTime.Round(time.Millisecond), flow, ms(down.quantile(0.5)), ms(down.quantile(0.99)), ms(down.quantile(1)),
				ms(up.quantile(0.5)), ms(up.quantile(0.99)), ms(up.quantile(1)), during, duringT, fellBack)},
		{name: "redis/back", pass: before == 10 && after == 10 && shared == 2,
			figures: fmt.Sprintf("shared limit before the outage admitted %d of 30, after Redis came back %d of 30 (%s); return logged once by %d of 2 replicas",
				before, after, afterT, shared)},
	}
}
