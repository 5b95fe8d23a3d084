package token

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// DefaultCacheSize is the capacity NewVerifiedCache uses for size ≤ 0.
const DefaultCacheSize = 10_000

// cacheShards spreads lock contention; a power of two for cheap indexing.
const cacheShards = 16

// sweepEvery bounds how often a full shard scans for expired entries, so a
// cache full of live tokens costs O(1) per insert, not O(size).
const sweepEvery = time.Second

// VerifiedCache remembers the claims of access tokens that verified, until
// they expire, so forward-auth pays for a signature check once per token
// instead of once per request. It is bounded: when a shard is full it drops
// expired entries, or else an arbitrary one (Go's map iteration order is
// randomised) — a re-verification is the only cost of a wrong choice.
//
// Entries are keyed by the SHA-256 of the token: a fixed 32 bytes each,
// and collision resistance makes a hit as good as string equality. The
// cache is safe only because revocation is checked by the caller on every
// request, cached or not; and because a key leaves the JWKS only after
// every token it signed has expired, no cached token outlives its key.
// Safe for concurrent use.
type VerifiedCache struct {
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu        sync.RWMutex
	m         map[mobileauth.Hash]AccessClaims
	lastSweep time.Time
}

// NewVerifiedCache returns a cache holding about size tokens.
func NewVerifiedCache(size int) *VerifiedCache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	c := &VerifiedCache{perShard: max(1, (size+cacheShards-1)/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[mobileauth.Hash]AccessClaims)
	}
	return c
}

// Get returns the claims of token if it is cached and unexpired at now.
func (c *VerifiedCache) Get(token string, now time.Time) (AccessClaims, bool) {
	h := cacheKey(token)
	s := c.shard(h)
	s.mu.RLock()
	claims, ok := s.m[h]
	s.mu.RUnlock()
	if !ok || !now.Before(claims.ExpiresAt) {
		return AccessClaims{}, false
	}
	return claims, true
}

// Put caches the claims of a token that has just verified; now is used to
// evict expired entries when the shard is full.
func (c *VerifiedCache) Put(token string, claims AccessClaims, now time.Time) {
	h := cacheKey(token)
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[h]; !ok && len(s.m) >= c.perShard {
		s.evict(now)
	}
	s.m[h] = claims
}

// Len reports how many tokens are cached (expired ones included until evicted).
func (c *VerifiedCache) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// cacheKey is HashOf without its heap allocation: converting a string
// longer than 32 bytes to []byte allocates, copying into a stack buffer
// does not. This is the hot path of every cached verification.
func cacheKey(token string) mobileauth.Hash {
	if len(token) > MaxTokenLen {
		return HashOf(token)
	}
	var buf [MaxTokenLen]byte
	n := copy(buf[:], token)
	return sha256.Sum256(buf[:n])
}

func (c *VerifiedCache) shard(h mobileauth.Hash) *cacheShard {
	return &c.shards[h[0]%cacheShards]
}

// evict makes room for one entry; the caller holds s.mu.
func (s *cacheShard) evict(now time.Time) {
	if now.Sub(s.lastSweep) >= sweepEvery || now.Before(s.lastSweep) {
		s.lastSweep = now
		before := len(s.m)
		for k, v := range s.m {
			if !now.Before(v.ExpiresAt) {
				delete(s.m, k)
			}
		}
		if len(s.m) < before {
			return
		}
	}
	for k := range s.m {
		delete(s.m, k)
		return
	}
}
