package algapsa

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// fakeKeyQuery records each query's keys and answers with the query's
// number as KeyID, for every key named valid; hold, when set, blocks each
// query until released.
type fakeKeyQuery struct {
	valid map[string]bool
	hold  chan struct{}
	err   error

	mu      sync.Mutex
	queries [][]string
	running int
	most    int
}

func (f *fakeKeyQuery) query(_ context.Context, hashes []string) (map[string]mobileauth.APIKeyHolder, error) {
	f.mu.Lock()
	f.queries = append(f.queries, hashes)
	n := len(f.queries)
	f.running++
	f.most = max(f.most, f.running)
	f.mu.Unlock()
	if f.hold != nil {
		<-f.hold
	}
	f.mu.Lock()
	f.running--
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	out := map[string]mobileauth.APIKeyHolder{}
	for _, h := range hashes {
		if f.valid[h] {
			out[h] = mobileauth.APIKeyHolder{KeyID: fmt.Sprint(n), FamilyID: h}
		}
	}
	return out, nil
}

func (f *fakeKeyQuery) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queries)
}

func TestKeyLookupsAnswerEachCallFromItsOwnKey(t *testing.T) {
	f := &fakeKeyQuery{valid: map[string]bool{"a": true, "b": true}}
	l := newKeyLookups(2, f.query)
	var wg sync.WaitGroup
	keys := []string{"a", "b", "c", "a", "b", "c"}
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := keys[i%len(keys)]
			h, ok, err := l.find(context.Background(), k)
			assert.NoError(t, err)
			assert.Equal(t, k != "c", ok, k)
			if ok {
				assert.Equal(t, k, h.FamilyID)
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, f.most, 2, "at most workers queries at once")
	for _, q := range f.queries {
		assert.LessOrEqual(t, len(q), 3, "each key once per query")
	}
	t.Logf("300 look-ups, %d queries", f.count())
}

// The point of batching without a cache: a look-up asked while a query is
// running is not answered by that query (which may predate a revocation
// committed just before the call) but by one that starts after it.
func TestKeyLookupJoinsOnlyAQueryThatStartsAfterIt(t *testing.T) {
	f := &fakeKeyQuery{valid: map[string]bool{"a": true}, hold: make(chan struct{})}
	l := newKeyLookups(1, f.query)
	first := make(chan mobileauth.APIKeyHolder, 1)
	go func() {
		h, _, err := l.find(context.Background(), "a")
		assert.NoError(t, err)
		first <- h
	}()
	require.Eventually(t, func() bool { return f.count() == 1 }, 5*time.Second, time.Millisecond, "query 1 running")

	second := make(chan mobileauth.APIKeyHolder, 1)
	go func() {
		h, _, err := l.find(context.Background(), "a")
		assert.NoError(t, err)
		second <- h
	}()
	time.Sleep(20 * time.Millisecond) // the second call is pending now
	assert.Equal(t, 1, f.count(), "no second query while the only worker is busy")
	f.hold <- struct{}{}
	assert.Equal(t, "1", (<-first).KeyID)
	f.hold <- struct{}{}
	assert.Equal(t, "2", (<-second).KeyID, "answered by the query that began after it was asked")
	assert.Equal(t, [][]string{{"a"}, {"a"}}, f.queries)
}

func TestKeyLookupFailuresAndCancellation(t *testing.T) {
	down := errors.New("connection refused")
	l := newKeyLookups(2, (&fakeKeyQuery{err: down}).query)
	_, ok, err := l.find(context.Background(), "a")
	assert.ErrorIs(t, err, down, "an outage is an error, not an invalid key")
	assert.False(t, ok)

	f := &fakeKeyQuery{valid: map[string]bool{"a": true}, hold: make(chan struct{})}
	l = newKeyLookups(1, f.query)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err = l.find(ctx, "a")
	assert.ErrorIs(t, err, context.Canceled, "a caller that gives up does not wait for the query")
	close(f.hold)
	require.Eventually(t, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.running == 0 && len(l.pending) == 0
	}, 5*time.Second, time.Millisecond, "the worker finishes and leaves")
	h, ok, err := l.find(context.Background(), "a")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "a", h.FamilyID)
}
