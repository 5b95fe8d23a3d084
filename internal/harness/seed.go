package harness

import (
	"context"
	"crypto/rand"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// Tenants is how many tenants the seeded users are spread over.
const Tenants = 4

// Seeding parallelism per engine (SQLite has one writer): SeedWorkersPG
// goroutines on PostgreSQL.
const (
	SeedWorkersPG  = 16
	seedWorkersSQL = 4
)

// TenantID, UserID and Email name seeded user i.
func TenantID(i int) string { return fmt.Sprintf("5eed0000-0000-4000-8000-%012d", i%Tenants) }

// UserID is seeded user i's id.
func UserID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// Email is seeded user i's address.
func Email(i int) string { return fmt.Sprintf("bench-%06d@example.com", i) }

// IPOf gives user i its own address in 10.0.0.0/8.
func IPOf(i int) string { i++; return fmt.Sprintf("10.%d.%d.%d", (i>>16)&255, (i>>8)&255, i&255) }

// SeedUsers creates the store (`migrate`: the other admin commands never
// create one), then adds users [0, n): the last oneByOne with `users add`,
// the rest in one `users import`, all admin commands of the service binary.
func SeedUsers(ctx context.Context, bin string, env []string, tmp string, n, oneByOne int) error {
	if _, err := RunCLI(ctx, bin, env, "migrate"); err != nil {
		return err
	}
	first := n - oneByOne
	for i := first; i < n; i++ {
		if _, err := RunCLI(ctx, bin, env, "users", "add", "--tenant", TenantID(i), "--email", Email(i),
			"--first-name", "Verify", "--last-name", fmt.Sprint(i), "--user-id", UserID(i)); err != nil {
			return err
		}
	}
	if first == 0 {
		return nil
	}
	path := filepath.Join(tmp, "users.csv")
	f, err := os.Create(path) //nolint:gosec // G304: users.csv in the run's own temporary directory
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"tenant", "email", "type", "first_name", "last_name", "user_id"})
	for i := range first {
		_ = w.Write([]string{TenantID(i), Email(i), "internal", "Bench", fmt.Sprint(i), UserID(i)})
	}
	w.Flush()
	if err := errors.Join(w.Error(), f.Close()); err != nil {
		return err
	}
	_, err = RunCLI(ctx, bin, env, "users", "import", path)
	return err
}

// Plan is how much SeedTokens issues: OTTs go to users [0, OTTUsers)
// round-robin (so consecutive exchanges come from different phones), chain
// i belongs to user i, and user OTTUsers+k gets extra OTT k.
type Plan struct {
	Users, OTTUsers int
	OTTs, Chains    int
	Extra           int // one OTT each for users OTTUsers … OTTUsers+Extra-1
	OTTLifetime     time.Duration
}

// OTT is an issued one-time token as the phone would get it.
type OTT struct {
	OTT, State, IP, Device string
	User                   int
}

// Chain is the first refresh token of a family, with its owner's address.
type Chain struct {
	Token, IP string
	User      int
}

// Supply is what SeedTokens issued: clear tokens only the caller knows.
type Supply struct {
	OTTs   []OTT
	Extra  []OTT
	Chains []Chain
}

// SeedTokens opens the store (while no service holds a SQLite file) and
// issues, as the hand-off would, a web session per user, the OTTs and the
// first refresh token of each chain.
func SeedTokens(ctx context.Context, dbURL string, p Plan, postgres bool) (Supply, error) {
	st, err := sqlstore.Open(ctx, dbURL, sqlstore.Options{Exclusive: !postgres})
	if err != nil {
		return Supply{}, err
	}
	defer func() { _ = st.Close() }() // seeding's errors are returned; closing a store read to the end adds none
	workers := seedWorkersSQL
	if postgres {
		workers = SeedWorkersPG
	}
	if p.OTTLifetime <= 0 {
		p.OTTLifetime = 30 * time.Minute
	}
	now := time.Now()
	sessions := make([]mobileauth.Hash, p.Users)
	err = Parallel(p.Users, workers, func(i int) error {
		id, err := token.NewOpaque(rand.Reader)
		if err != nil {
			return err
		}
		sessions[i] = token.HashOf(id)
		return st.CreateSession(ctx, mobileauth.WebSession{IDHash: sessions[i], TenantID: TenantID(i), UserID: UserID(i),
			Provider: "google", CreatedAt: now, ExpiresAt: now.Add(12 * time.Hour)})
	})
	if err != nil {
		return Supply{}, fmt.Errorf("seed sessions: %w", err)
	}

	var s Supply
	newOTT := func(user int, into *OTT, n int) error {
		ott, err := token.NewOpaque(rand.Reader)
		if err != nil {
			return err
		}
		*into = OTT{OTT: ott, State: fmt.Sprintf("st-%d", n), IP: IPOf(user), Device: fmt.Sprintf("bench-device-%d", user), User: user}
		return st.CreateOTT(ctx, mobileauth.OneTimeToken{Hash: token.HashOf(ott), TenantID: TenantID(user), UserID: UserID(user),
			SessionHash: sessions[user], State: into.State, CreatedAt: now, ExpiresAt: now.Add(p.OTTLifetime)})
	}
	s.OTTs = make([]OTT, p.OTTs)
	if p.OTTs > 0 {
		if err := Parallel(p.OTTs, workers, func(j int) error { return newOTT(j%p.OTTUsers, &s.OTTs[j], j) }); err != nil {
			return Supply{}, fmt.Errorf("seed OTTs: %w", err)
		}
	}
	s.Extra = make([]OTT, p.Extra)
	for k := range p.Extra {
		if err := newOTT(p.OTTUsers+k, &s.Extra[k], -k); err != nil {
			return Supply{}, fmt.Errorf("seed OTTs: %w", err)
		}
	}

	s.Chains = make([]Chain, p.Chains)
	err = Parallel(p.Chains, workers, func(i int) error {
		fam, err := token.NewOpaque(rand.Reader)
		if err != nil {
			return err
		}
		rt, err := token.NewOpaque(rand.Reader)
		if err != nil {
			return err
		}
		f := mobileauth.TokenFamily{ID: fam[:22], TenantID: TenantID(i), UserID: UserID(i), SessionHash: sessions[i],
			Device: mobileauth.Device{Platform: "android", AppVersion: "1.4.0"}, CreatedAt: now}
		first := mobileauth.RefreshToken{Hash: token.HashOf(rt), FamilyID: f.ID, TenantID: f.TenantID, UserID: f.UserID,
			CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}
		s.Chains[i] = Chain{Token: rt, IP: IPOf(i), User: i}
		return st.CreateFamily(ctx, f, first)
	})
	if err != nil {
		return Supply{}, fmt.Errorf("seed refresh chains: %w", err)
	}
	return s, nil
}

// Parallel calls fn(0..n-1) from workers goroutines; the first error wins.
func Parallel(n, workers int, fn func(i int) error) error {
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
