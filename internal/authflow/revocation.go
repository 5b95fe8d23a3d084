package authflow

import (
	"context"
	"sync"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// revocationView is this replica's set of revoked token families, kept
// fresh by asking the store for revocations since the last sync at most
// once per freshness interval. A verification never waits for more than
// one sync, and only one sync runs at a time.
type revocationView struct {
	src       mobileauth.RefreshStore
	freshness time.Duration
	horizon   time.Duration    // access-token lifetime: older revocations no longer matter
	now       func() time.Time // the use cases' clock: freshness and revocation times

	mu       sync.Mutex
	revoked  map[string]time.Time
	syncedAt time.Time // when the last successful sync began
	since    time.Time // store time to ask from next
	syncing  chan struct{}
}

// revocationOverlap is how far back each sync re-reads revocations.
const revocationOverlap = 30 * time.Second

func newRevocationView(src mobileauth.RefreshStore, freshness, horizon time.Duration, now func() time.Time) *revocationView {
	return &revocationView{src: src, freshness: freshness, horizon: horizon, now: now, revoked: map[string]time.Time{}}
}

// add records a revocation made by this replica, effective at once.
func (v *revocationView) add(familyID string) {
	v.mu.Lock()
	v.revoked[familyID] = v.now()
	v.mu.Unlock()
}

func (v *revocationView) isRevoked(ctx context.Context, familyID string) (bool, error) {
	if err := v.sync(ctx); err != nil {
		return false, err
	}
	v.mu.Lock()
	_, ok := v.revoked[familyID]
	v.mu.Unlock()
	return ok, nil
}

// sync refreshes the set when it is older than the freshness interval.
// Freshness and the "since" bound are both in the use cases' clock (which
// also stamped the rows), so tests move it instead of waiting.
func (v *revocationView) sync(ctx context.Context) error {
	for {
		v.mu.Lock()
		if v.now().Sub(v.syncedAt) < v.freshness {
			v.mu.Unlock()
			return nil
		}
		if wait := v.syncing; wait != nil {
			v.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		done := make(chan struct{})
		v.syncing = done
		since := v.since
		v.mu.Unlock()

		start := v.now()
		if since.IsZero() {
			since = start.Add(-v.horizon - time.Minute)
		}
		ids, err := v.src.RevokedFamiliesSince(ctx, since)

		v.mu.Lock()
		v.syncing = nil
		close(done)
		if err == nil {
			for _, id := range ids {
				if _, ok := v.revoked[id]; !ok {
					v.revoked[id] = start
				}
			}
			// Ask again from well before this sync began, so a revocation that
			// commits late, or was stamped by a replica whose clock is behind,
			// is not missed. Re-reading the last half minute is cheap.
			v.since = start.Add(-revocationOverlap)
			v.syncedAt = start
			v.prune(start)
		}
		v.mu.Unlock()
		return err
	}
}

// prune forgets revocations whose access tokens have all expired.
func (v *revocationView) prune(now time.Time) {
	if len(v.revoked) < 1024 {
		return
	}
	for id, at := range v.revoked {
		if now.Sub(at) > v.horizon+time.Minute {
			delete(v.revoked, id)
		}
	}
}
