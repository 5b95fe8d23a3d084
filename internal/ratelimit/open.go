package ratelimit

import (
	"log/slog"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisClient is an opened Redis connection: the limiter over it, its
// address (for messages; never the password), and Close.
type RedisClient struct {
	*redis.Client
	// Addr is host:port (or the socket path) of the server.
	Addr string
}

// KeyPrefix is where the service's rate-limit keys live in Redis.
const KeyPrefix = "alga-mobile:rl:"

// Timeouts of the Redis client, unless the URL sets them (dial_timeout,
// read_timeout, write_timeout, max_retries). go-redis's defaults (5 s dial,
// 3 s read, 3 retries of 5 dial attempts each) suit a cache that must
// answer; a rate limiter has a local fallback, so a request should find out
// quickly that Redis is gone: with the defaults, the request that met a
// killed Redis waited 1.7 s (reliability scenario "redis").
const (
	RedisDialTimeout = 250 * time.Millisecond
	RedisIOTimeout   = 500 * time.Millisecond
	RedisMaxRetries  = 1 // a stale pooled connection after a Redis restart is retried once
)

// OpenRedis parses rawURL (redis://, rediss:// or unix://) and opens a
// client, routing go-redis's own log lines to log. It does not connect:
// the first command does (Ping to probe). serve and check both use it, so
// they read ALGA_MOBILE_REDIS_URL alike. Errors never contain the password.
// The client fails fast (see RedisDialTimeout) and honours context
// deadlines, which Fallback's probe relies on.
func OpenRedis(rawURL string, log *slog.Logger) (*RedisClient, error) {
	opts, err := ParseRedisURL(rawURL)
	if err != nil {
		return nil, err
	}
	var q url.Values
	if u, err := url.Parse(rawURL); err == nil {
		q = u.Query()
	}
	if !q.Has("dial_timeout") {
		opts.DialTimeout = RedisDialTimeout
	}
	if !q.Has("read_timeout") {
		opts.ReadTimeout = RedisIOTimeout
	}
	if !q.Has("write_timeout") {
		opts.WriteTimeout = RedisIOTimeout
	}
	if !q.Has("max_retries") {
		opts.MaxRetries = RedisMaxRetries
	}
	opts.DialerRetries = 1 // one dial attempt per try: the retry above is the only one
	opts.ContextTimeoutEnabled = true
	RouteRedisLogs(log)
	return &RedisClient{Client: redis.NewClient(opts), Addr: opts.Addr}, nil
}

// Limiter is the rate limiter over the client, under KeyPrefix.
func (c *RedisClient) Limiter() *Redis { return NewRedis(c.Client, KeyPrefix) }
