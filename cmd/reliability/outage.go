package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/harness"
)

// outageScenario stops PostgreSQL for the profile's outage time under load.
// While it is down /readyz must be 503, the token endpoints 503
// SERVICE_UNAVAILABLE with Retry-After (never a 500, never a hang) and
// capabilities must keep answering; once it is back, full service must
// return within 5 s without a restart, and every refresh token a client
// holds must still work.
func outageScenario(ctx context.Context, r *rig) []verdict {
	const name = "outage"
	const users = 60
	ins, sup, _, err := r.startReplicas(ctx, "rel_outage", 1,
		harness.Plan{Users: users, OTTUsers: users - 2, OTTs: 400, Chains: users - 2, Extra: 2})
	if err != nil {
		return []verdict{failed(name, err)}
	}
	defer stopAll(ins)
	in := ins[0]
	// An access token for verify, from one of the extra OTTs.
	held, res := newClient(20*time.Second).exchange(ctx, in.base, sup.Extra[0])
	if res.status != http.StatusOK {
		return []verdict{failed(name, fmt.Errorf("exchange before the outage: %s %s", res.kind(), res.body))}
	}
	l := outageLoad{in: in, otts: sup.OTTs, chains: sup.Chains, access: held.access}
	return runOutage(ctx, r, name, "PostgreSQL", l, r.pg.stop, r.pg.start)
}

// algapsaScenario is the outage scenario in appliance mode, where AlgaPSA's
// database is the one that goes away (the service's own store stays up):
// every token endpoint needs it (sessions, users, API keys), so the same
// answers are due while it is down, and the same recovery after.
func algapsaScenario(ctx context.Context, r *rig) []verdict {
	const name = "outage/algapsa"
	const ottUsers, ottsEach, chains = 40, 2, 18
	psa, err := r.startAlgaPSA(ctx, ottUsers+chains+1)
	if err != nil {
		return []verdict{failed(name, err)}
	}
	defer psa.pg.destroy()
	in, l, err := r.startApplianceLoad(ctx, psa, ottUsers, ottsEach, chains)
	if err != nil {
		return []verdict{failed(name, err)}
	}
	defer in.stop()
	return runOutage(ctx, r, name, "AlgaPSA's database", l, psa.pg.stop, psa.pg.start)
}

// outageLoad is what the load of an outage runs on: a started service,
// unused OTTs, refresh chains and an access token for verify.
type outageLoad struct {
	in     *instance
	otts   []harness.OTT
	chains []harness.Chain
	access string
}

// runOutage drives l's service while stop has taken what (a database) away
// for the profile's outage time, then start brings it back, and judges the
// answers during the outage and the recovery after it.
func runOutage(ctx context.Context, r *rig, name, what string, l outageLoad, stop, start func(context.Context) error) []verdict {
	// The last OTTs are kept for the recovery check, whatever the load uses.
	reserve := min(10, len(l.otts)/4)
	in, sup, spare := l.in, harness.Supply{OTTs: l.otts[:len(l.otts)-reserve]}, l.otts[len(l.otts)-reserve:]
	c := newClient(20 * time.Second)
	held := pair{access: l.access}

	var down atomic.Bool // PostgreSQL is stopped (between stop returning and start beginning)
	type ep struct {
		name string
		t    *tally
		bad  atomic.Int64 // during the outage: anything but 200 or 503+SERVICE_UNAVAILABLE+Retry-After
		slow atomic.Int64 // answers slower than 10 s
	}
	eps := map[string]*ep{}
	for _, n := range []string{"exchange", "refresh", "verify", "capabilities", "readyz"} {
		eps[n] = &ep{name: n, t: newTally()}
	}
	record := func(e *ep, res result, okDown func(result) bool) {
		if !down.Load() {
			return
		}
		e.t.add(res.kind())
		if !okDown(res) {
			e.bad.Add(1)
		}
		if res.dur > 10*time.Second {
			e.slow.Add(1)
		}
	}
	unavailable := func(res result) bool {
		return res.status == http.StatusOK || (res.status == http.StatusServiceUnavailable && res.code() == "SERVICE_UNAVAILABLE" && res.retryAfter != "")
	}
	// During the outage an exchange, refresh or verify that gets a 401 would
	// mean a token was lost: only 200 or a retryable 503 are right.
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var nextOTT atomic.Int64
	answered503 := &ottList{}
	chains := append([]harness.Chain(nil), l.chains...)
	// A chain is refreshed by one worker at a time, as one phone refreshes
	// its token: two in flight at once could answer out of order, and the
	// later answer would put back a token the earlier one had rotated.
	var chainMu sync.Mutex
	busy := make([]bool, len(chains))
	nextChain := 0
	// Each chain's refreshes under load (when, what answered, which token
	// by a short digest), printed for a chain whose token is then lost.
	history := make([][]string, len(chains))
	t0 := time.Now()
	note := func(k int, presented string, res result, got string) {
		history[k] = append(history[k], fmt.Sprintf("%.3fs+%dms %s→%s %s",
			res.at.Sub(t0).Seconds(), res.dur.Milliseconds(), digest(presented), digest(got), res.kind()))
	}
	worker := func(w int) {
		defer wg.Done()
		for i := 0; loadCtx.Err() == nil; i++ {
			switch (w + i) % 4 {
			case 0:
				j := int(nextOTT.Add(1) - 1)
				if j >= len(sup.OTTs) {
					continue
				}
				o := sup.OTTs[j]
				_, res := c.exchange(loadCtx, in.base, o)
				if res.status == http.StatusServiceUnavailable {
					// A 503 says "try again": whether that works is checked
					// after the recovery.
					answered503.add(o)
				}
				record(eps["exchange"], res, unavailable)
			case 1:
				chainMu.Lock()
				k := nextChain % len(chains)
				nextChain++
				if busy[k] {
					chainMu.Unlock()
					continue
				}
				busy[k] = true
				ch := chains[k]
				chainMu.Unlock()
				p, res := c.refresh(loadCtx, in.base, ch.Token, ch.IP)
				chainMu.Lock()
				if res.status == http.StatusOK {
					chains[k].Token = p.refresh
				}
				note(k, ch.Token, res, p.refresh)
				busy[k] = false
				chainMu.Unlock()
				record(eps["refresh"], res, unavailable)
			case 2:
				record(eps["verify"], c.verify(loadCtx, in.base, held.access), unavailable)
			case 3:
				record(eps["capabilities"], c.get(loadCtx, in.base, "/api/v1/mobile/auth/capabilities"),
					func(res result) bool { return res.status == http.StatusOK })
			}
			time.Sleep(50 * time.Millisecond) // a few requests a second per chain at most
		}
	}
	for w := range 4 {
		wg.Add(1)
		go worker(w)
	}
	readyDuring := newTally()
	go func() {
		for loadCtx.Err() == nil {
			if down.Load() {
				res := c.get(loadCtx, in.base, "/readyz")
				if down.Load() {
					readyDuring.add(res.kind())
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()

	time.Sleep(2 * time.Second)
	stopAt := time.Now()
	if err := stop(ctx); err != nil {
		stopLoad()
		wg.Wait()
		return []verdict{failed(name, err)}
	}
	down.Store(true)
	downAt := time.Now()
	time.Sleep(r.prof.outage)
	down.Store(false)
	upAt := time.Now()
	if err := start(ctx); err != nil {
		stopLoad()
		wg.Wait()
		return []verdict{failed(name, fmt.Errorf("restart %s: %w", what, err))}
	}
	back := time.Now()
	stopLoad()
	wg.Wait()

	// Recovery: the first moment every endpoint works again.
	rc := newClient(5 * time.Second)
	recovered := time.Duration(-1)
	pending := map[string]bool{"readyz": true, "exchange": true, "refresh": true, "verify": true}
	j := 0
	ch := &chains[0]
	for time.Since(back) < 30*time.Second && len(pending) > 0 {
		if pending["readyz"] && rc.get(ctx, in.base, "/readyz").status == http.StatusOK {
			delete(pending, "readyz")
		}
		if pending["exchange"] && j < len(spare) {
			if _, res := rc.exchange(ctx, in.base, spare[j]); res.status == http.StatusOK {
				delete(pending, "exchange")
			} else if res.status != http.StatusServiceUnavailable && res.err == nil {
				j++ // consumed or refused: take the next one
			}
		}
		if pending["refresh"] {
			if p, res := rc.refresh(ctx, in.base, ch.Token, ch.IP); res.status == http.StatusOK {
				ch.Token = p.refresh
				delete(pending, "refresh")
			}
		}
		if pending["verify"] && rc.verify(ctx, in.base, held.access).status == http.StatusOK {
			delete(pending, "verify")
		}
		if len(pending) == 0 {
			recovered = time.Since(back)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	// No refresh token a client holds was lost: each chain's latest token
	// (the one its last 200 returned) refreshes now. Asked even when the
	// recovery never completed: a lost token is then the likeliest cause.
	lost := 0
	for k, ch := range chains {
		if _, res := rc.refresh(ctx, in.base, ch.Token, ch.IP); res.status != http.StatusOK {
			lost++
			r.logf("%s: held refresh token %s of chain %d got %s %s after recovery; stop at %.3fs, down %.3fs–%.3fs, back at %.3fs, now %.3fs; the chain's refreshes under load (start+duration presented→received outcome): %s",
				name, digest(ch.Token), k, res.kind(), res.body, stopAt.Sub(t0).Seconds(), downAt.Sub(t0).Seconds(),
				upAt.Sub(t0).Seconds(), back.Sub(t0).Seconds(), time.Since(t0).Seconds(), strings.Join(history[k], ", "))
		}
	}

	// Every OTT whose exchange was answered 503 is presented again: a 503
	// with Retry-After promises that this works.
	retried := newTally()
	for _, o := range answered503.all() {
		_, res := rc.exchange(ctx, in.base, o)
		retried.add(res.kind())
	}

	var vs []verdict
	tokensOK := true
	var figs string
	for _, n := range []string{"exchange", "refresh", "verify"} {
		e := eps[n]
		tokensOK = tokensOK && e.bad.Load() == 0 && e.slow.Load() == 0 && e.t.get("503") > 0
		figs += fmt.Sprintf("%s %s; ", n, e.t)
	}
	caps := eps["capabilities"]
	vs = append(vs,
		verdict{name: name + "/during", pass: tokensOK && caps.bad.Load() == 0 && caps.t.total() > 0 && readyDuring.get("200") == 0 && readyDuring.get("503") > 0 && in.count500s() == 0,
			figures: fmt.Sprintf("%s stopped %s under load: %scapabilities %s; readyz %s; 500s logged %d; answers > 10 s: %d",
				what, r.prof.outage, figs, caps.t, readyDuring, in.count500s(), eps["exchange"].slow.Load()+eps["refresh"].slow.Load()+eps["verify"].slow.Load())},
		verdict{name: name + "/recovery", pass: recovered >= 0 && recovered <= 5*time.Second && lost == 0,
			figures: fmt.Sprintf("full service (readyz, exchange, refresh, verify) %s after %s was back, no restart (limit 5 s); still failing: %v; held refresh tokens that no longer refresh: %d of %d",
				since(recovered), what, keys(pending), lost, len(chains))},
		// The exchange consumes the OTT before the steps that can fail with
		// the outage; what it could not give back then, the retry does.
		verdict{name: name + "/retry", pass: retried.get("200") == retried.total(),
			figures: fmt.Sprintf("OTTs whose exchange got 503 during the outage, presented again after it: %s (a 503 with Retry-After must be retryable)", retried)},
	)
	return vs
}

// digest names a token in the log without printing it.
func digest(tok string) string {
	if tok == "" {
		return "-"
	}
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:3])
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// since prints a recovery time, or "never".
func since(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return d.Round(time.Millisecond).String()
}

// ottList collects OTTs from many goroutines.
type ottList struct {
	mu sync.Mutex
	l  []harness.OTT
}

func (o *ottList) add(x harness.OTT) {
	o.mu.Lock()
	o.l = append(o.l, x)
	o.mu.Unlock()
}

func (o *ottList) all() []harness.OTT {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]harness.OTT(nil), o.l...)
}
