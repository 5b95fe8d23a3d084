package ratelimit

import (
	"log/slog"

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

// OpenRedis parses rawURL (redis://, rediss:// or unix://) and opens a
// client, routing go-redis's own log lines to log. It does not connect:
// the first command does (Ping to probe). serve and check both use it, so
// they read ALGA_MOBILE_REDIS_URL alike. Errors never contain the password.
func OpenRedis(rawURL string, log *slog.Logger) (*RedisClient, error) {
	opts, err := ParseRedisURL(rawURL)
	if err != nil {
		return nil, err
	}
	RouteRedisLogs(log)
	return &RedisClient{Client: redis.NewClient(opts), Addr: opts.Addr}, nil
}

// Limiter is the rate limiter over the client, under KeyPrefix.
func (c *RedisClient) Limiter() *Redis { return NewRedis(c.Client, KeyPrefix) }
