package authflow

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// An exchange that answers 503 promises that the same OTT works again.
// Consuming the OTT is the exactly-once point, so a failed exchange gives
// its OTT back (releaseOTT). Two cases leave that undone when the store is
// what went away: the give-back itself fails, or the consume's own reply is
// lost (it may have committed as the connection dropped). unreleased keeps
// those OTTs, by hash and this attempt's consumption stamp, until the
// phone's retry reaches this replica (the retry gives the OTT back first,
// then consumes it as any exchange does) or GiveBackWaiting, run every
// second, finds the store back. The stamp makes the give-back
// safe whatever happened meanwhile: it only ever clears this replica's own
// consumption, never a later one (ReleaseOTT matches consumed_at exactly).
type unreleased struct {
	mu sync.Mutex
	m  map[mobileauth.Hash]unreleasedOTT
}

type unreleasedOTT struct {
	consumedAt time.Time
	// until is when the OTT expires (or, when the consume's reply was
	// lost, the latest it can): after it no retry can succeed anyway.
	until time.Time
}

// maxUnreleased bounds the memory one long outage can take: an entry is
// a few dozen bytes, and OTTs live a minute by default.
const maxUnreleased = 10000

// add remembers an OTT to give back; expired entries make room first, and
// past the bound the OTT stays consumed (the phone signs in again). Of two
// stamps for one OTT the earlier is kept: a later attempt could only have
// consumed it had the earlier one's give-back succeeded, which removes
// that entry; so a later stamp comes from a consume that met the store
// down (or flapping), and the earlier one is what may be in the store.
func (u *unreleased) add(hash mobileauth.Hash, e unreleasedOTT, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[mobileauth.Hash]unreleasedOTT{}
	}
	if old, ok := u.m[hash]; ok && !old.consumedAt.After(e.consumedAt) {
		return true
	}
	if len(u.m) >= maxUnreleased {
		for h, old := range u.m {
			if !old.until.After(now) {
				delete(u.m, h)
			}
		}
		if len(u.m) >= maxUnreleased {
			return false
		}
	}
	u.m[hash] = e
	return true
}

// take removes and returns the entry for hash, if it is still worth
// trying; of concurrent retries of one OTT only one gets it.
func (u *unreleased) take(hash mobileauth.Hash, now time.Time) (unreleasedOTT, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	e, ok := u.m[hash]
	if !ok {
		return unreleasedOTT{}, false
	}
	delete(u.m, hash)
	return e, e.until.After(now)
}

// hashes lists the waiting OTTs.
func (u *unreleased) hashes() []mobileauth.Hash {
	u.mu.Lock()
	defer u.mu.Unlock()
	hs := make([]mobileauth.Hash, 0, len(u.m))
	for h := range u.m {
		hs = append(hs, h)
	}
	return hs
}

// len is the number of OTTs waiting to be given back.
func (u *unreleased) len() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.m)
}

// releaseOTT gives a consumed OTT back after its exchange failed with a
// 503, so that the phone's retry can still succeed (the consumption is
// only the exactly-once point; nothing was handed out). It outlives the
// request's cancellation, briefly; when the store is down too, the OTT
// waits in s.unreleased for the retry or GiveBackWaiting.
func (s *Service) releaseOTT(ctx context.Context, hash mobileauth.Hash, e unreleasedOTT) {
	err := s.giveBack(context.WithoutCancel(ctx), hash, e)
	switch {
	case err == nil:
	case s.unreleased.add(hash, e, s.now()):
		s.log.WarnContext(ctx, "could not give back a one-time token after a failed exchange; will try again", "error", err)
	default:
		s.log.WarnContext(ctx, "could not give back a one-time token after a failed exchange; too many waiting, it stays used", "error", err)
	}
}

// giveBack clears the consumption e stamped; nil also when there was none
// to clear (the consume never committed).
func (s *Service) giveBack(ctx context.Context, hash mobileauth.Hash, e unreleasedOTT) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := s.st.OTTs.ReleaseOTT(ctx, hash, e.consumedAt)
	switch {
	case err == nil:
		s.events.AuthEvent("ott_released", "")
	case errors.Is(err, mobileauth.ErrNotFound):
		return nil
	}
	return err
}

// releaseBeforeRetry gives back the OTT of an earlier failed exchange on
// this replica, if one is waiting, before the retry consumes it.
func (s *Service) releaseBeforeRetry(ctx context.Context, hash mobileauth.Hash, now time.Time) {
	if e, ok := s.unreleased.take(hash, now); ok {
		s.releaseOTT(ctx, hash, e)
	}
}

// GiveBackWaiting gives back the OTTs waiting on this replica, so that a
// retry that reaches another replica succeeds too once the store is back.
// It stops at the first failure (the store is still down); the rest wait
// for the next call.
func (s *Service) GiveBackWaiting(ctx context.Context) {
	now := s.now()
	for _, hash := range s.unreleased.hashes() {
		e, ok := s.unreleased.take(hash, now)
		if !ok {
			continue
		}
		if err := s.giveBack(ctx, hash, e); err != nil {
			s.unreleased.add(hash, e, now)
			return
		}
	}
}

// RunGiveBack calls GiveBackWaiting every interval until ctx ends.
func (s *Service) RunGiveBack(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.GiveBackWaiting(ctx)
		}
	}
}
