package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/testenv"
)

// newTestRedisClient connects to ALGA_TEST_REDIS_URL (or skips/fails) and
// deletes everything under prefix when the test ends.
func newTestRedisClient(t *testing.T, prefix string) *redis.Client {
	t.Helper()
	opts, err := ParseRedisURL(testenv.RedisURL(t))
	require.NoError(t, err)
	c := redis.NewClient(opts)
	require.NoError(t, c.Ping(context.Background()).Err(), "Redis at ALGA_TEST_REDIS_URL must answer")
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		_ = c.Close()
	})
	return c
}

// redisHarness gives each test its own key prefix and two clients, standing
// in for two replicas; time is real, since Redis TTLs run on its own clock.
func redisHarness(t *testing.T) harness {
	t.Helper()
	prefix := "alga-test:rl:" + randomHex(t) + ":"
	a := newTestRedisClient(t, prefix)
	b := newTestRedisClient(t, prefix)
	return harness{
		replicas: []mobileauth.RateLimiter{NewRedis(a, prefix), NewRedis(b, prefix)},
		now:      time.Now,
		// A margin beyond d so the server-side TTL has surely run out.
		wait: func(d time.Duration) { time.Sleep(d + 20*time.Millisecond) },
		tol:  2 * time.Millisecond,
	}
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

func TestRedis(t *testing.T) {
	runSuite(t, redisHarness)
}

func TestRedisKeysAlwaysExpire(t *testing.T) {
	prefix := "alga-test:rl:" + randomHex(t) + ":"
	c := newTestRedisClient(t, prefix)
	r := NewRedis(c, prefix)
	ctx := context.Background()
	l := mobileauth.RateLimit{Limit: 1, Window: time.Minute, Block: 5 * time.Minute}
	for range 3 {
		_, err := r.Hit(ctx, "k", l, time.Now())
		require.NoError(t, err)
	}
	keys, err := c.Keys(ctx, prefix+"*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	for _, k := range keys {
		ttl, err := c.PTTL(ctx, k).Result()
		require.NoError(t, err)
		assert.Positive(t, ttl, "key %s must carry a TTL", k)
	}
}

func TestRedisReportsAnUnreachableServer(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	_, err := NewRedis(c, "p:").Hit(context.Background(), "k",
		mobileauth.RateLimit{Limit: 1, Window: time.Minute}, time.Now())
	assert.Error(t, err)
}

func TestRedisWithoutClientFails(t *testing.T) {
	_, err := NewRedis(nil, "p:").Hit(context.Background(), "k",
		mobileauth.RateLimit{Limit: 1, Window: time.Minute}, time.Now())
	assert.Error(t, err)
}

func TestHashTag(t *testing.T) {
	tests := []struct {
		name     string
		key      string
		readable bool
	}{
		{"keeps an ordinary key readable", "exchange:ip:2001:db8::1", true},
		{"escapes an empty key", "", false},
		{"escapes an opening brace", "tenant{x", false},
		{"escapes a closing brace", "}x", false},
		{"escapes a key that looks escaped", "~abc", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := hashTag(tt.key)
			if tt.readable {
				assert.Equal(t, tt.key, got)
				return
			}
			assert.True(t, strings.HasPrefix(got, "~"))
			assert.NotContains(t, got, "{")
			assert.NotContains(t, got, "}")
			assert.Len(t, got, 65)
		})
	}
}

func TestParseRedisURL(t *testing.T) {
	const secret = "s3cr3t-Pa55word"
	tests := []struct {
		name string
		url  string
		ok   bool
	}{
		{"accepts redis with a password", "redis://user:" + secret + "@localhost:6379/2", true},
		{"accepts rediss", "rediss://:" + secret + "@redis.example:6380", true},
		{"accepts a unix socket", "unix:///run/redis.sock", true},
		{"refuses an unparsable URL", "redis://user:" + secret + "@host:port\x7f/0", false},
		{"refuses another scheme", "http://user:" + secret + "@host/", false},
		{"refuses a bad database number", "redis://user:" + secret + "@host/" + secret, false},
		{"refuses an unknown option", "redis://user:" + secret + "@host/0?" + secret + "=1", false},
		{"refuses a bad option value", "redis://:" + secret + "@host/0?dial_timeout=" + secret, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := ParseRedisURL(tt.url)
			if tt.ok {
				require.NoError(t, err)
				assert.NotEmpty(t, opts.Addr)
				return
			}
			require.ErrorIs(t, err, ErrInvalidRedisURL)
			assert.NotContains(t, err.Error(), secret)
		})
	}
	t.Run("a short password does not blank the message's words", func(t *testing.T) {
		_, err := ParseRedisURL("redis://:a@host/database")
		require.ErrorIs(t, err, ErrInvalidRedisURL)
		assert.Contains(t, err.Error(), "invalid database number")
	})
	t.Run("keeps the password in the options", func(t *testing.T) {
		opts, err := ParseRedisURL("redis://user:" + secret + "@localhost:6379/2")
		require.NoError(t, err)
		assert.Equal(t, secret, opts.Password)
		assert.Equal(t, 2, opts.DB)
	})
}

func TestOpenRedisFailsFastWhenRedisIsGone(t *testing.T) {
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now: a killed Redis

	c, err := OpenRedis("redis://"+addr+"/0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	defer func() { _ = c.Close() }()
	opts := c.Options()
	assert.Equal(t, RedisDialTimeout, opts.DialTimeout)
	assert.Equal(t, RedisIOTimeout, opts.ReadTimeout)
	assert.Equal(t, RedisMaxRetries, opts.MaxRetries)
	assert.True(t, opts.ContextTimeoutEnabled, "Fallback's probe bound needs context deadlines honoured")
	began := time.Now()
	_, err = c.Limiter().Hit(t.Context(), "k", mobileauth.RateLimit{Limit: 1, Window: time.Minute}, time.Now())
	require.Error(t, err)
	// go-redis's defaults (5 dial attempts per try, 3 retries) took 1.7 s here.
	assert.Less(t, time.Since(began), 300*time.Millisecond, "a refused connection is reported at once")

	set, err := OpenRedis("redis://"+addr+"/0?dial_timeout=2s&max_retries=4", slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	defer func() { _ = set.Close() }()
	assert.Equal(t, 2*time.Second, set.Options().DialTimeout, "the URL's own setting wins")
	assert.Equal(t, 4, set.Options().MaxRetries)
}
