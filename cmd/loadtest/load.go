package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// errExhausted is returned by a call when the pre-issued OTTs or refresh
// chains have run out; the run ends there and says so.
var errExhausted = errors.New("pre-issued supply exhausted")

// call performs one request as worker and reports the HTTP status.
type call func(ctx context.Context, c *http.Client, worker int) (status int, err error)

// result is one run's outcome.
type result struct {
	n         int // completed requests, any status
	non2xx    int // completed with a status outside 2xx
	errs      int // transport errors (no status)
	statuses  map[int]int
	elapsed   time.Duration
	rate      float64 // n / elapsed
	p50, p99  time.Duration
	exhausted bool
	cpu       cpuUse // filled in by the caller, which knows the server's pid
	parts     tailParts
	// warm is the open loop's warm-up: requests released before the
	// measured span (not in n, p50 or p99), and their p99.
	warmN   int
	warmP99 time.Duration
}

// tailParts splits an open-loop run's latency for the progress log (not
// the table): how late the pacer released requests against their
// schedule (not counted in latency), how long a released request waited
// for a free worker (counted), and how long the request itself took.
type tailParts struct {
	lag99, wait99, req99 time.Duration
	genGCs               uint64
}

// tally is one worker's record; merged after the run, so no locking.
type tally struct {
	lat      []time.Duration
	warm     []time.Duration // open loop: latencies of the warm-up's requests
	wait     []time.Duration // open loop: release to pick-up by a worker
	req      []time.Duration // open loop: pick-up to answer
	non2xx   int
	errs     int
	statuses map[int]int
}

func (t *tally) record(d time.Duration, status int, err error) {
	if err != nil {
		t.errs++
		return
	}
	t.lat = append(t.lat, d)
	if status < 200 || status > 299 {
		t.non2xx++
		if t.statuses == nil {
			t.statuses = map[int]int{}
		}
		t.statuses[status]++
	}
}

// newClient is a keep-alive client with exactly conns connections.
func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        2 * conns,
			MaxIdleConnsPerHost: 2 * conns,
			MaxConnsPerHost:     conns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// closedLoop runs conns workers, each sending its next request as soon as
// the previous one is answered, for d. Latency is per request.
func closedLoop(ctx context.Context, c *http.Client, conns int, d time.Duration, do call) result {
	start := time.Now()
	deadline := start.Add(d)
	tallies := make([]tally, conns)
	var exhausted atomic.Bool
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := &tallies[w]
			t.lat = make([]time.Duration, 0, 4096)
			for ctx.Err() == nil && !exhausted.Load() {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				status, err := do(ctx, c, w)
				if errors.Is(err, errExhausted) {
					exhausted.Store(true)
					return
				}
				t.record(time.Since(t0), status, err)
			}
		}()
	}
	wg.Wait()
	return summarize(tallies, time.Since(start), exhausted.Load())
}

// openLoop sends requests at rate per second for warm and then d, from
// conns workers, whether or not earlier ones were answered. A pacer wakes
// every paceTick and releases the requests that have come due; a
// request's latency runs from its release, so time spent queued behind
// busy workers (a slow service) counts, while the pacer's own timer slack
// does not. Requests released during warm are the warm-up: the service
// comes to the rate from idle (its pools' first checks, the database's
// processes waking), and they are counted apart (warmN, warmP99), not in
// the run's figures. The result's parts split the measured tail for the
// progress log: pacer lag, wait for a worker, and the request itself.
func openLoop(ctx context.Context, c *http.Client, conns int, rate float64, warm, d time.Duration, do call) result {
	if rate < 1 {
		return result{}
	}
	interval := time.Duration(float64(time.Second) / rate)
	warmTotal := int(warm / interval)
	total := warmTotal + int(d/interval)
	due := make(chan release, total)
	var exhausted atomic.Bool
	gcBefore := gcCycles()
	start := time.Now()
	lags := make([]time.Duration, 0, total)
	go func() {
		defer close(due)
		for sent := 0; sent < total && ctx.Err() == nil && !exhausted.Load(); {
			now := time.Now()
			for n := min(total, int(now.Sub(start)/interval)+1); sent < n; sent++ {
				if sent >= warmTotal {
					lags = append(lags, now.Sub(start.Add(time.Duration(sent)*interval)))
				}
				due <- release{at: now, warm: sent < warmTotal}
			}
			time.Sleep(paceTick)
		}
	}()
	tallies := make([]tally, conns)
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := &tallies[w]
			for rel := range due {
				if exhausted.Load() || ctx.Err() != nil {
					continue // drain
				}
				picked := time.Now()
				status, err := do(ctx, c, w)
				if errors.Is(err, errExhausted) {
					exhausted.Store(true)
					continue
				}
				done := time.Now()
				if rel.warm {
					if err == nil {
						t.warm = append(t.warm, done.Sub(rel.at))
					}
					continue
				}
				t.record(done.Sub(rel.at), status, err)
				if err == nil {
					t.wait = append(t.wait, picked.Sub(rel.at))
					t.req = append(t.req, done.Sub(picked))
				}
			}
		}()
	}
	wg.Wait()
	r := summarize(tallies, time.Since(start.Add(warm)), exhausted.Load())
	var waits, reqs, warms []time.Duration
	for _, t := range tallies {
		waits = append(waits, t.wait...)
		reqs = append(reqs, t.req...)
		warms = append(warms, t.warm...)
	}
	slices.Sort(warms)
	r.warmN, r.warmP99 = len(warms), percentile(warms, 0.99)
	slices.Sort(waits)
	slices.Sort(reqs)
	slices.Sort(lags)
	r.parts = tailParts{lag99: percentile(lags, 0.99), wait99: percentile(waits, 0.99), req99: percentile(reqs, 0.99),
		genGCs: gcCycles() - gcBefore}
	return r
}

// release is one open-loop request come due: when the pacer released it,
// and whether it belongs to the warm-up.
type release struct {
	at   time.Time
	warm bool
}

// gcCycles is how many GC cycles this process has completed.
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// paceTick is how often the open-loop pacer asks to wake. The Go runtime
// sleeps in whole milliseconds when it has nothing else to do, so in
// practice the pacer wakes about every 1 ms at the rates measured here and
// releases each millisecond's requests together; the progress log's
// "pacer lag" shows it.
const paceTick = 200 * time.Microsecond

// halfGOGC is the generator's GOGC during the open-loop pass.
const halfGOGC = 1000

func summarize(tallies []tally, elapsed time.Duration, exhausted bool) result {
	r := result{elapsed: elapsed, exhausted: exhausted, statuses: map[int]int{}}
	var all []time.Duration
	for _, t := range tallies {
		all = append(all, t.lat...)
		r.non2xx += t.non2xx
		r.errs += t.errs
		for s, n := range t.statuses {
			r.statuses[s] += n
		}
	}
	r.n = len(all)
	if elapsed > 0 {
		r.rate = float64(r.n) / elapsed.Seconds()
	}
	slices.Sort(all)
	r.p50, r.p99 = percentile(all, 0.50), percentile(all, 0.99)
	return r
}

// percentile is the nearest-rank percentile of sorted.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
