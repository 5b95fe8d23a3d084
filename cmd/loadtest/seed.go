package main

import (
	"context"
	"crypto/rand"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// Per-phone budgets that keep the load inside SPEC §3.4–§3.5's limits:
// each user (with its own client address) is given at most this many
// OTTs and refreshes over the whole benchmark, which no one-minute window
// can exceed.
const (
	ottsPerUser    = 10 // exchange: 10/min per IP and per tenant:user
	verifyUsers    = 8  // users whose access tokens verify presents
	ottLifetime    = 30 * time.Minute
	benchTenants   = 4
	seedWorkersPG  = 16
	seedWorkersSQL = 4
)

// plan is how much to pre-issue.
type plan struct {
	users, otts, chains int
}

// newPlan sizes the supply for the selected endpoints: enough for
// -supply-rate requests per second through the warm-up, every run and
// every half-rate run.
func newPlan(o options) plan {
	secs := o.warmup.Seconds() + float64(o.runs)*o.duration.Seconds() + float64(o.halfRuns)*o.duration.Seconds()*o.halfFraction
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

func tenantID(i int) string { return fmt.Sprintf("5eed0000-0000-4000-8000-%012d", i%benchTenants) }
func userID(i int) string   { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }
func email(i int) string    { return fmt.Sprintf("bench-%06d@example.com", i) }

// ipOf gives user i its own address in 10.0.0.0/8.
func ipOf(i int) string { i++; return fmt.Sprintf("10.%d.%d.%d", (i>>16)&255, (i>>8)&255, i&255) }

// seedUsers creates the store (`migrate`: the other admin commands never
// create one), then adds the verify users one by one with `users add` and
// the rest in one `users import`, all admin commands of the service binary.
func seedUsers(ctx context.Context, bin string, env []string, tmp string, p plan) error {
	if _, err := runCLI(ctx, bin, env, "migrate"); err != nil {
		return err
	}
	first := p.users - verifyUsers
	for i := first; i < p.users; i++ {
		if _, err := runCLI(ctx, bin, env, "users", "add", "--tenant", tenantID(i), "--email", email(i),
			"--first-name", "Verify", "--last-name", fmt.Sprint(i), "--user-id", userID(i)); err != nil {
			return err
		}
	}
	if first == 0 {
		return nil
	}
	path := filepath.Join(tmp, "users.csv")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"tenant", "email", "type", "first_name", "last_name", "user_id"})
	for i := range first {
		_ = w.Write([]string{tenantID(i), email(i), "internal", "Bench", fmt.Sprint(i), userID(i)})
	}
	w.Flush()
	if err := errors.Join(w.Error(), f.Close()); err != nil {
		return err
	}
	_, err = runCLI(ctx, bin, env, "users", "import", path)
	return err
}

// seedTokens opens the store while the service is stopped and issues, as
// the handoff would, a web session per user, the OTTs and the first
// refresh token of each chain.
func seedTokens(ctx context.Context, dbURL string, p plan, postgres bool) (supply, error) {
	st, err := sqlstore.Open(ctx, dbURL, sqlstore.Options{Exclusive: !postgres})
	if err != nil {
		return supply{}, err
	}
	defer st.Close()
	workers := seedWorkersSQL
	if postgres {
		workers = seedWorkersPG
	}
	now := time.Now()
	sessions := make([]mobileauth.Hash, p.users)
	err = parallel(p.users, workers, func(i int) error {
		id, err := token.NewOpaque(rand.Reader)
		if err != nil {
			return err
		}
		sessions[i] = token.HashOf(id)
		return st.CreateSession(ctx, mobileauth.WebSession{IDHash: sessions[i], TenantID: tenantID(i), UserID: userID(i),
			Provider: "google", CreatedAt: now, ExpiresAt: now.Add(12 * time.Hour)})
	})
	if err != nil {
		return supply{}, fmt.Errorf("seed sessions: %w", err)
	}

	ottUsers := p.users - verifyUsers
	var s supply
	s.otts = &ottSupply{items: make([]ottItem, p.otts)}
	newOTT := func(user int, into *ottItem, n int) error {
		ott, err := token.NewOpaque(rand.Reader)
		if err != nil {
			return err
		}
		*into = ottItem{ott: ott, state: fmt.Sprintf("st-%d", n), ip: ipOf(user), device: fmt.Sprintf("bench-device-%d", user)}
		return st.CreateOTT(ctx, mobileauth.OneTimeToken{Hash: token.HashOf(ott), TenantID: tenantID(user), UserID: userID(user),
			SessionHash: sessions[user], State: into.state, CreatedAt: now, ExpiresAt: now.Add(ottLifetime)})
	}
	// OTT j belongs to user j mod ottUsers: consecutive exchanges come from
	// different phones, and no user holds more than ottsPerUser.
	if err := parallel(p.otts, workers, func(j int) error { return newOTT(j%ottUsers, &s.otts.items[j], j) }); err != nil {
		return supply{}, fmt.Errorf("seed OTTs: %w", err)
	}
	s.verify = make([]ottItem, verifyUsers)
	for k := range verifyUsers {
		if err := newOTT(ottUsers+k, &s.verify[k], -k); err != nil {
			return supply{}, fmt.Errorf("seed OTTs: %w", err)
		}
	}

	s.chains = make([]*chain, p.chains)
	err = parallel(p.chains, workers, func(i int) error {
		fam, err := token.NewOpaque(rand.Reader)
		if err != nil {
			return err
		}
		rt, err := token.NewOpaque(rand.Reader)
		if err != nil {
			return err
		}
		f := mobileauth.TokenFamily{ID: fam[:22], TenantID: tenantID(i), UserID: userID(i), SessionHash: sessions[i],
			Device: mobileauth.Device{Platform: "android", AppVersion: "1.4.0"}, CreatedAt: now}
		first := mobileauth.RefreshToken{Hash: token.HashOf(rt), FamilyID: f.ID, TenantID: f.TenantID, UserID: f.UserID,
			CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}
		s.chains[i] = &chain{token: rt, ip: ipOf(i)}
		return st.CreateFamily(ctx, f, first)
	})
	if err != nil {
		return supply{}, fmt.Errorf("seed refresh chains: %w", err)
	}
	return s, nil
}

// parallel calls fn(0..n-1) from workers goroutines; the first error wins.
func parallel(n, workers int, fn func(i int) error) error {
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
