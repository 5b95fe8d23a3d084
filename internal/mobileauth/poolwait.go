package mobileauth

import (
	"context"
	"time"
)

// poolWaitKey is the context key of WithPoolWait.
type poolWaitKey struct{}

// WithPoolWait bounds how long each store operation run with ctx may wait
// for a free database connection: past d the store gives up with an error
// wrapping ErrUnavailable (a 503 SERVICE_UNAVAILABLE with Retry-After),
// instead of queueing for as long as the client keeps waiting. The HTTP
// layer sets it on every request; background work (purge, sync loops) has
// none and waits for as long as it takes. A deadline of ctx's own that
// comes sooner still wins.
func WithPoolWait(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, poolWaitKey{}, d)
}

// PoolWait is ctx's bound from WithPoolWait, if any.
func PoolWait(ctx context.Context) (time.Duration, bool) {
	d, ok := ctx.Value(poolWaitKey{}).(time.Duration)
	return d, ok && d > 0
}
