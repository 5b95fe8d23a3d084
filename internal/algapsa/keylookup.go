package algapsa

import (
	"context"
	"sync"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// keyLookups runs /verify's API-key look-ups in batches, so that many
// verifications at once cost one query rather than one each, without a
// cache: a look-up joins the next query that starts, never one already
// running, so its answer reflects every change committed before it was
// asked (a deactivated key, an owner disabled in AlgaPSA, a suspended
// tenant fail at once, as SPEC §8.4 requires). At most workers queries run
// at a time; while they do, new look-ups gather for the next one. Alone, a
// look-up is one query, as before; under load it may wait for the query in
// flight to finish first.
type keyLookups struct {
	// query answers a batch of SHA-256 hex keys with the holders of the
	// valid ones; absent keys are not valid.
	query   func(ctx context.Context, hashes []string) (map[string]mobileauth.APIKeyHolder, error)
	workers int

	mu      sync.Mutex
	pending []*keyLookup
	running int
}

// keyLookup is one waiting look-up.
type keyLookup struct {
	hash   string
	done   chan struct{}
	holder mobileauth.APIKeyHolder
	found  bool
	err    error
}

const (
	// keyLookupWorkers is how many batch queries may run at once: a
	// fraction of the pool (DefaultMaxConns; serve opens 16), so that
	// exchanges and refreshes keep connections. Two keep one query
	// gathering while the other runs.
	keyLookupWorkers = 2
	// maxKeyBatch bounds one query's keys.
	maxKeyBatch = 256
	// keyLookupTimeout bounds one batch query, which no single request's
	// context governs.
	keyLookupTimeout = 10 * time.Second
)

func newKeyLookups(workers int, query func(ctx context.Context, hashes []string) (map[string]mobileauth.APIKeyHolder, error)) *keyLookups {
	return &keyLookups{query: query, workers: workers}
}

// find returns the holder of the key whose SHA-256 hex is hash, and whether
// it is valid; an error when the query failed or ctx ended first.
func (l *keyLookups) find(ctx context.Context, hash string) (mobileauth.APIKeyHolder, bool, error) {
	c := &keyLookup{hash: hash, done: make(chan struct{})}
	l.mu.Lock()
	l.pending = append(l.pending, c)
	start := l.running < l.workers
	if start {
		l.running++
	}
	l.mu.Unlock()
	if start {
		go l.work()
	}
	select {
	case <-c.done:
		return c.holder, c.found, c.err
	case <-ctx.Done():
		return mobileauth.APIKeyHolder{}, false, ctx.Err()
	}
}

// work runs batches of pending look-ups until none are left.
func (l *keyLookups) work() {
	for {
		l.mu.Lock()
		n := min(len(l.pending), maxKeyBatch)
		if n == 0 {
			l.pending = nil
			l.running--
			l.mu.Unlock()
			return
		}
		batch := l.pending[:n:n]
		l.pending = l.pending[n:]
		l.mu.Unlock()
		l.run(batch)
	}
}

// run asks one query for batch (each distinct key once) and answers every
// look-up in it.
func (l *keyLookups) run(batch []*keyLookup) {
	hashes := make([]string, 0, len(batch))
	seen := make(map[string]bool, len(batch))
	for _, c := range batch {
		if !seen[c.hash] {
			seen[c.hash] = true
			hashes = append(hashes, c.hash)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), keyLookupTimeout)
	found, err := l.query(ctx, hashes)
	cancel()
	for _, c := range batch {
		c.holder, c.found = found[c.hash]
		c.err = err
		close(c.done)
	}
}
