package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/harness"
)

// crashScenario kills one service with SIGKILL in the middle of sustained
// exchange and refresh load, then restarts it: once on PostgreSQL (one of
// two replicas) and once on SQLite (the single instance, whose file must
// then pass PRAGMA integrity_check). Afterwards every pair a client got
// with a 200 must still refresh, exactly once, and no token that was
// refused with a 401 may work.
func crashScenario(ctx context.Context, r *rig) []verdict {
	return []verdict{crashRun(ctx, r, true), crashRun(ctx, r, false)}
}

// phone is one simulated app: its address and the pair it holds.
type phone struct {
	ip   string
	user int
	held pair
}

// refreshGap keeps each user under SPEC §3.5's 30 refreshes per minute.
const refreshGap = 2100 * time.Millisecond

func crashRun(ctx context.Context, r *rig, postgres bool) verdict {
	name := "crash/sqlite"
	if postgres {
		name = "crash/postgres"
	}
	const users = 120
	plan := harness.Plan{Users: users, OTTUsers: users, OTTs: 600, Chains: users}
	var ins []*instance
	var sup harness.Supply
	var dbPath string
	if postgres {
		var err error
		if ins, sup, _, err = r.startReplicas(ctx, "rel_crash", 2, plan); err != nil {
			return failed(name, err)
		}
	} else {
		dbPath = filepath.Join(r.tmp, "crash.db")
		in, err := r.newInstance("crash-sqlite", "sqlite:"+dbPath)
		if err != nil {
			return failed(name, err)
		}
		if sup, err = r.seed(ctx, in, "sqlite:"+dbPath, plan); err != nil {
			return failed(name, err)
		}
		if err := in.start(ctx); err != nil {
			return failed(name, err)
		}
		ins = []*instance{in}
	}
	defer stopAll(ins)
	c := newClient(10 * time.Second)

	// send tries a request on each replica in turn until one answers
	// (a phone retrying the same request after a dropped connection),
	// for up to 20 s.
	send := func(k int, do func(base string) result) result {
		deadline := time.Now().Add(20 * time.Second)
		for {
			res := do(ins[k%len(ins)].base)
			if res.err == nil || time.Now().After(deadline) {
				return res
			}
			k++
			time.Sleep(100 * time.Millisecond)
		}
	}

	var (
		mu       sync.Mutex
		phones   []*phone // one per chain and per successful exchange
		dead     []string // refresh tokens answered 401
		deadOTTs []harness.OTT
		lostOTTs int // exchange whose answer was lost and whose retry found the OTT consumed
	)
	for _, ch := range sup.Chains {
		phones = append(phones, &phone{ip: ch.IP, user: ch.User, held: pair{refresh: ch.Token}})
	}
	exch, ref := newTally(), newTally()
	var nextOTT, nextPhone atomic.Int64
	lastRefresh := map[int]time.Time{} // by user, under mu
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; loadCtx.Err() == nil; i++ {
				if (w+i)%2 == 0 {
					j := int(nextOTT.Add(1) - 1)
					if j < len(sup.OTTs) {
						o := sup.OTTs[j]
						dropped := false
						res := send(j, func(base string) result {
							_, res := c.exchange(ctx, base, o)
							dropped = dropped || res.err != nil
							return res
						})
						exch.add(res.kind())
						mu.Lock()
						switch {
						case res.status == http.StatusOK:
							phones = append(phones, &phone{ip: o.IP, user: o.User, held: pairOf(res)})
						case res.status == http.StatusUnauthorized && dropped:
							lostOTTs++
						case res.status == http.StatusUnauthorized:
							deadOTTs = append(deadOTTs, o)
						}
						mu.Unlock()
						continue
					}
				}
				// Refresh a phone's pair; each phone is refreshed at most
				// every few seconds (30/min per user and per address).
				mu.Lock()
				n := len(phones)
				k := int(nextPhone.Add(1)-1) % n
				ph := phones[k]
				ready := time.Since(lastRefresh[ph.user]) >= refreshGap
				if ready {
					lastRefresh[ph.user] = time.Now()
				}
				mu.Unlock()
				if !ready {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				res := send(k, func(base string) result { _, res := c.refresh(ctx, base, ph.held.refresh, ph.ip); return res })
				ref.add(res.kind())
				mu.Lock()
				switch res.status {
				case http.StatusOK:
					ph.held = pairOf(res)
				case http.StatusUnauthorized:
					dead = append(dead, ph.held.refresh)
				}
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	time.Sleep(r.prof.crashLoad / 2)
	victim := ins[0]
	victim.proc.Kill()
	killedAt := time.Now()
	time.Sleep(time.Second)
	restartErr := victim.start(ctx)
	restarted := time.Since(killedAt)
	time.Sleep(r.prof.crashLoad / 2)
	stopLoad()
	wg.Wait()
	if restartErr != nil {
		return failed(name, fmt.Errorf("restart after kill -9: %w", restartErr))
	}

	// Every pair a phone got with a 200 refreshes, exactly once: the
	// successor works, the pair presented again after that does not.
	vc := newClient(10 * time.Second)
	var stale, refused, replayAccepted int
	for k, ph := range phones {
		base := ins[k%len(ins)].base
		p, res := vc.refresh(ctx, base, ph.held.refresh, ph.ip)
		if res.status != http.StatusOK {
			stale++
			continue
		}
		if vc.verify(ctx, base, p.access).status != http.StatusOK {
			refused++
		}
	}
	// A 401 stays a 401.
	revived := 0
	for k, rt := range dead {
		if _, res := vc.refresh(ctx, ins[k%len(ins)].base, rt, "192.0.2.9"); res.status == http.StatusOK {
			revived++
		}
	}
	for k, o := range deadOTTs {
		if _, res := vc.exchange(ctx, ins[k%len(ins)].base, o); res.status == http.StatusOK {
			revived++
		}
	}
	integrity := "n/a"
	if !postgres {
		victim.stop()
		integrity = integrityCheck(dbPath)
	}
	var n500 int
	for _, in := range ins {
		n500 += in.count500s()
	}
	pass := stale == 0 && refused == 0 && revived == 0 && replayAccepted == 0 && exch.get("200") > 0 && ref.get("200") > 0 &&
		exch.get("500")+ref.get("500") == 0 && (postgres || integrity == "ok")
	where := "replica 1 of 2 on PostgreSQL"
	if !postgres {
		where = "the SQLite single instance"
	}
	return verdict{name: name, pass: pass, figures: fmt.Sprintf(
		"kill -9 of %s mid-load, back in %s: exchanges %s, refreshes %s; afterwards %d held pairs: %d failed to refresh, %d new access tokens refused; 401-answered tokens that work now: %d; OTTs lost with the killed process: %d; 500s logged %d; integrity_check: %s",
		where, restarted.Round(time.Millisecond), exch, ref, len(phones), stale, refused, revived, lostOTTs, n500, integrity)}
}

// integrityCheck runs PRAGMA integrity_check on the SQLite file.
func integrityCheck(path string) string {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err.Error()
	}
	defer func() { _ = db.Close() }()
	rows, err := db.QueryContext(context.Background(), "PRAGMA integrity_check")
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err.Error()
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return err.Error()
	}
	return strings.Join(out, "; ")
}
