package token

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func claimsUntil(exp time.Time) AccessClaims {
	c := testClaims
	c.ExpiresAt = exp
	return c
}

func TestVerifiedCacheAnswersUntilExpiry(t *testing.T) {
	now := newClock().Now()
	c := NewVerifiedCache(10)
	c.Put("tok", claimsUntil(now.Add(time.Minute)), now)

	got, ok := c.Get("tok", now)
	require.True(t, ok)
	assert.Equal(t, claimsUntil(now.Add(time.Minute)), got)
	_, ok = c.Get("tok", now.Add(time.Minute-time.Nanosecond))
	assert.True(t, ok)
	_, ok = c.Get("tok", now.Add(time.Minute))
	assert.False(t, ok, "expires at exp")
	_, ok = c.Get("other", now)
	assert.False(t, ok)
}

func TestVerifiedCacheStaysBounded(t *testing.T) {
	now := newClock().Now()
	c := NewVerifiedCache(64)
	for i := range 10_000 {
		c.Put(fmt.Sprint(i), claimsUntil(now.Add(time.Hour)), now)
	}
	assert.LessOrEqual(t, c.Len(), 64)
	assert.Greater(t, c.Len(), 32, "shards fill up")
}

func TestVerifiedCacheDefaultsItsSize(t *testing.T) {
	assert.Equal(t, DefaultCacheSize/cacheShards, NewVerifiedCache(0).perShard)
	assert.Equal(t, 1, NewVerifiedCache(1).perShard)
}

// sameShard returns n tokens that land in shard 0.
func sameShard(n int, prefix string) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		tok := fmt.Sprintf("%s-%d", prefix, i)
		if h := cacheKey(tok); h[0]%cacheShards == 0 {
			out = append(out, tok)
		}
	}
	return out
}

func TestVerifiedCacheEvictsExpiredEntriesFirst(t *testing.T) {
	clk := newClock()
	c := NewVerifiedCache(4 * cacheShards) // 4 per shard
	for _, tok := range sameShard(4, "old") {
		c.Put(tok, claimsUntil(clk.Now().Add(time.Minute)), clk.Now())
	}
	clk.Advance(time.Hour)
	live := sameShard(4, "new")
	for _, tok := range live {
		c.Put(tok, claimsUntil(clk.Now().Add(time.Minute)), clk.Now())
	}
	for _, tok := range live {
		_, ok := c.Get(tok, clk.Now())
		assert.True(t, ok, tok)
	}
	assert.Equal(t, 4, c.Len())
}

func TestVerifiedCacheReplacesAnEntryInPlace(t *testing.T) {
	now := newClock().Now()
	c := NewVerifiedCache(cacheShards) // 1 per shard
	toks := sameShard(2, "t")
	c.Put(toks[0], claimsUntil(now.Add(time.Minute)), now)
	c.Put(toks[0], claimsUntil(now.Add(2*time.Minute)), now)
	got, ok := c.Get(toks[0], now)
	require.True(t, ok)
	assert.Equal(t, now.Add(2*time.Minute), got.ExpiresAt)

	c.Put(toks[1], claimsUntil(now.Add(time.Minute)), now)
	_, ok = c.Get(toks[1], now)
	assert.True(t, ok, "a full shard makes room")
	assert.Equal(t, 1, c.Len())
}

func TestVerifiedCacheIsSafeForConcurrentUse(t *testing.T) {
	now := newClock().Now()
	c := NewVerifiedCache(128)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				tok := fmt.Sprintf("%d-%d", g, i%300)
				if _, ok := c.Get(tok, now); !ok {
					c.Put(tok, claimsUntil(now.Add(time.Duration(i)*time.Millisecond)), now.Add(time.Duration(i)*time.Millisecond))
				}
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, c.Len(), 128)
}

func TestCacheKeyIsTheTokenHash(t *testing.T) {
	for _, tok := range []string{"", "short", strings.Repeat("x", MaxTokenLen), strings.Repeat("y", MaxTokenLen+1)} {
		assert.Equal(t, HashOf(tok), cacheKey(tok))
	}
}
