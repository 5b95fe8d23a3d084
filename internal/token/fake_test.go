package token

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/testclock"
)

// memKeys is an in-memory KeySource with the store's contract: newest
// first, and adding a key retires every other active key.
type memKeys struct {
	mu      sync.Mutex
	keys    []mobileauth.SigningKey
	listErr error
	listed  chan struct{} // if set, receives (without blocking) on each list
}

func (m *memKeys) ListSigningKeys(ctx context.Context) ([]mobileauth.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.listed != nil {
		select {
		case m.listed <- struct{}{}:
		default:
		}
	}
	if m.listErr != nil {
		return nil, m.listErr
	}
	out := slices.Clone(m.keys)
	slices.SortStableFunc(out, func(a, b mobileauth.SigningKey) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}

func (m *memKeys) AddSigningKey(ctx context.Context, k mobileauth.SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.keys {
		if m.keys[i].KID == k.KID {
			return mobileauth.ErrConflict
		}
		if m.keys[i].RetiredAt == nil {
			at := k.CreatedAt
			m.keys[i].RetiredAt = &at
		}
	}
	m.keys = append(m.keys, k)
	return nil
}

func (m *memKeys) setListErr(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.listErr = err
}

// clock is a settable clock, safe for concurrent use.
type clock = testclock.Clock

func newClock() *clock { return testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

// seeded returns a deterministic random reader.
func seeded(seed byte) *rand.ChaCha8 {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

// errReader fails every read.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBoom }

var errBoom = errorString("boom")

type errorString string

func (e errorString) Error() string { return string(e) }

func (m *memKeys) ReplaceSigningKeyPrivate(ctx context.Context, kid string, old, new []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.keys {
		if m.keys[i].KID == kid && bytes.Equal(m.keys[i].PrivateDER, old) {
			m.keys[i].PrivateDER = new
			return true, nil
		}
	}
	return false, nil
}
