package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// hitScript does one hit atomically, so replicas sharing the Redis agree
// exactly: check the block key, count the hit in the window key (whose PTTL
// is the window), and on the hit past the limit set the block key and drop
// the counter. It returns {allowed (0|1), retry-after in ms}.
//
// KEYS[1] window counter, KEYS[2] block marker;
// ARGV[1] limit, ARGV[2] window ms, ARGV[3] block ms (0 = no block).
var hitScript = redis.NewScript(`
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then
  return {0, blocked}
end
local n = redis.call('INCR', KEYS[1])
-- A counter without a TTL would never reset; give it one whenever it lacks it.
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if n <= tonumber(ARGV[1]) then
  return {1, 0}
end
local block = tonumber(ARGV[3])
if block > 0 then
  redis.call('SET', KEYS[2], '1', 'PX', block)
  redis.call('DEL', KEYS[1])
  return {0, block}
end
local left = redis.call('PTTL', KEYS[1])
if left < 1 then left = 1 end
return {0, left}
`)

// Redis is a RateLimiter whose state lives in Redis, so every replica using
// the same Redis (and prefix) shares one exact count per key: each hit runs
// one Lua script (EVALSHA, falling back to EVAL once per server) that counts
// and blocks atomically.
//
// Windows and blocks are Redis key TTLs, measured by the Redis server's clock;
// the now passed to Hit is not used, so skew between replicas' clocks does
// not matter (and tests of Redis wait in real time).
type Redis struct {
	client redis.UniversalClient
	prefix string
}

// NewRedis returns a limiter that keeps its keys under prefix (for example
// "alga-mobile-auth:rl:"). The prefix must not contain '{' or '}': keys use a
// Redis Cluster hash tag so a key's counter and block marker share a slot.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	return &Redis{client: client, prefix: prefix}
}

// Hit counts one hit on key and says whether it is allowed; now is ignored
// (see Redis). Errors from Redis are returned wrapped; the caller decides
// whether to fail open or closed.
func (r *Redis) Hit(ctx context.Context, key string, l mobileauth.RateLimit, _ time.Time) (mobileauth.RateDecision, error) {
	if err := validate(l); err != nil {
		return mobileauth.RateDecision{}, err
	}
	if r.client == nil {
		return mobileauth.RateDecision{}, errors.New("ratelimit: redis limiter has no client")
	}
	base := r.prefix + "{" + hashTag(key) + "}"
	res, err := hitScript.Run(ctx, r.client, []string{base + ":n", base + ":b"},
		l.Limit, ceilMillis(l.Window), ceilMillis(l.Block)).Int64Slice()
	if err != nil {
		return mobileauth.RateDecision{}, fmt.Errorf("ratelimit: redis hit: %w", err)
	}
	if len(res) != 2 {
		return mobileauth.RateDecision{}, fmt.Errorf("ratelimit: redis hit: unexpected reply of %d values", len(res))
	}
	if res[0] == 1 {
		return allowed(), nil
	}
	return mobileauth.RateDecision{RetryAfter: time.Duration(max(res[1], 1)) * time.Millisecond}, nil
}

// ceilMillis converts d to whole milliseconds, rounding up so that a
// positive duration never becomes 0 (which PEXPIRE would treat as "now").
func ceilMillis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// hashTag returns the part of the Redis key that names the rate-limit key.
// It sits inside {…} so the counter and the block marker hash to one Cluster
// slot. A key that is empty, contains braces, or starts with '~' could break
// the tag or collide with the escaped form, so it is replaced by '~' and its
// SHA-256; every other key stays readable for operators using redis-cli.
func hashTag(key string) string {
	if key != "" && !strings.ContainsAny(key, "{}") && key[0] != '~' {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "~" + hex.EncodeToString(sum[:])
}

// ErrInvalidRedisURL is returned (wrapped) by ParseRedisURL.
var ErrInvalidRedisURL = errors.New("invalid Redis URL")

// ParseRedisURL parses a redis://, rediss:// or unix:// URL (as go-redis
// understands it) into client options. Its errors never contain the password:
// the underlying error is not wrapped, and its text is scrubbed.
func ParseRedisURL(rawURL string) (*redis.Options, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error echoes the whole URL, password included: say nothing of it.
		return nil, fmt.Errorf("%w: not a URL", ErrInvalidRedisURL)
	}
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "redis: ")
		if pw, ok := u.User.Password(); ok && pw != "" {
			// As a whole value only: a short password must not blank its
			// letters in every word of the message.
			msg = mobileauth.RedactSecret(msg, pw, "xxxxx")
		}
		return nil, fmt.Errorf("%w: %s", ErrInvalidRedisURL, msg)
	}
	return opts, nil
}

// slogPrintf adapts go-redis's internal logger to slog, so its messages
// (pool errors, reconnects) carry our format instead of bypassing it.
type slogPrintf struct{ log *slog.Logger }

func (l slogPrintf) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// RouteRedisLogs sends go-redis's own log lines to log (process-wide: the
// library has a single logger).
func RouteRedisLogs(log *slog.Logger) { redis.SetLogger(slogPrintf{log: log}) }
