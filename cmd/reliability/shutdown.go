package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/harness"
)

// shutdownScenario sends SIGTERM to a service under load. /readyz must
// turn 503 at once, requests in flight must finish, and a client that
// stops sending when readiness drops must see no reset or refused
// connection; the process then exits cleanly.
func shutdownScenario(ctx context.Context, r *rig) []verdict {
	const name = "shutdown"
	in, sup, err := r.startSQLite(ctx, "shutdown", harness.Plan{Users: 10, OTTUsers: 10, Extra: 0, OTTs: 10}, "ALGA_MOBILE_SHUTDOWN_DRAIN_SEC=3")
	if err != nil {
		return []verdict{failed(name, err)}
	}
	defer in.stop()
	c := newClient(10 * time.Second)
	held, res := c.exchange(ctx, in.base, sup.OTTs[0])
	if res.status != http.StatusOK {
		return []verdict{failed(name, fmt.Errorf("exchange: %s", res.kind()))}
	}

	var notReady atomic.Bool
	var inFlight, maxInFlightAtTerm atomic.Int64
	var termAt atomic.Int64 // unix nanos of SIGTERM
	t := newTally()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !notReady.Load(); i++ {
				inFlight.Add(1)
				var res result
				if (w+i)%2 == 0 {
					res = c.verify(ctx, in.base, held.access)
				} else {
					res = c.get(ctx, in.base, "/api/v1/mobile/auth/capabilities")
				}
				inFlight.Add(-1)
				t.add(res.kind())
			}
		}()
	}
	readyLag := time.Duration(-1)
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		for {
			res := c.get(ctx, in.base, "/readyz")
			if res.status == http.StatusServiceUnavailable {
				if ns := termAt.Load(); ns > 0 {
					readyLag = time.Since(time.Unix(0, ns))
				}
				notReady.Store(true)
				return
			}
			if res.err != nil {
				notReady.Store(true)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	time.Sleep(2 * time.Second)
	beforeTerm := t.total()
	termAt.Store(time.Now().UnixNano())
	maxInFlightAtTerm.Store(inFlight.Load())
	_ = in.proc.Signal(syscall.SIGTERM)
	<-pollDone
	wg.Wait()
	exited := false
	select {
	case <-in.proc.Done():
		exited = true
	case <-time.After(30 * time.Second):
	}
	failures := t.total() - t.get("200")
	pass := readyLag >= 0 && readyLag <= 500*time.Millisecond && failures == 0 && exited && in.count500s() == 0
	return []verdict{{name: name, pass: pass, figures: fmt.Sprintf(
		"SIGTERM under load (8 clients, %d requests before it): readyz 503 after %s; requests %s (non-200 or reset: %d; %d in flight at SIGTERM, all answered: %v); process exited: %v",
		beforeTerm, readyLag.Round(time.Millisecond), t, failures, maxInFlightAtTerm.Load(), failures == 0, exited)}}
}
