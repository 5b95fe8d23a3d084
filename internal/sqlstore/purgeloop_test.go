package sqlstore_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
)

// syncBuf is a log destination the loop and the test share.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type ctxKey struct{}

// RunPurge's further housekeeping (AlgaPSA's API keys in appliance mode)
// runs every round, in order, after that round's purge, with the loop's
// context; also when the purge fails; and the loop ends with its context.
func TestRunPurgeRunsTheHousekeepingEveryRound(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		purgeFails bool
	}{
		{"after each round's purge", false},
		{"even when the purge fails", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bg := context.Background()
			s, err := sqlstore.Open(bg, "sqlite:"+filepath.Join(t.TempDir(), "p.db"), sqlstore.Options{PurgeEvery: 10 * time.Millisecond})
			require.NoError(t, err)
			require.NoError(t, s.Migrate(bg))
			require.NoError(t, s.CreateOTT(bg, mobileauth.OneTimeToken{Hash: mobileauth.Hash{1}, TenantID: "t", UserID: "u",
				State: "s", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}))
			if tc.purgeFails {
				require.NoError(t, s.Close()) // every PurgeExpired now fails
			} else {
				t.Cleanup(func() { _ = s.Close() })
			}

			type call struct {
				hook      int
				fromLoop  bool
				ottsAfter int // OTT rows when the hook ran (-1: not readable)
			}
			calls := make(chan call, 64)
			hook := func(n int) func(context.Context) {
				return func(ctx context.Context) {
					c := call{hook: n, fromLoop: ctx.Value(ctxKey{}) == "loop", ottsAfter: -1}
					if !tc.purgeFails {
						_ = s.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM one_time_tokens").Scan(&c.ottsAfter)
					}
					select {
					case calls <- c:
					default:
					}
				}
			}
			var log syncBuf
			ctx, cancel := context.WithCancel(context.WithValue(bg, ctxKey{}, "loop"))
			defer cancel()
			done := make(chan struct{})
			go func() {
				defer close(done)
				s.RunPurge(ctx, func() time.Time { return t0.Add(time.Hour) }, slog.New(slog.NewTextHandler(&log, nil)), hook(1), hook(2))
			}()

			var got []call
			for len(got) < 4 { // two rounds of two hooks
				select {
				case c := <-calls:
					got = append(got, c)
				case <-time.After(10 * time.Second):
					t.Fatalf("the hooks ran %d times in 10 s, want 4 (two rounds)", len(got))
				}
			}
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("RunPurge did not return after its context ended")
			}

			for i, c := range got {
				assert.Equal(t, 1+i%2, c.hook, "call %d: the hooks run in the order given, each round", i)
				assert.True(t, c.fromLoop, "call %d: the hook gets the loop's context", i)
				if !tc.purgeFails {
					assert.Equal(t, 0, c.ottsAfter, "call %d: the round's purge ran before the hook", i)
				}
			}
			if tc.purgeFails {
				assert.Contains(t, log.String(), "purging expired rows failed", "the purge's failure is logged, and the hooks still ran")
			} else {
				assert.Contains(t, log.String(), `tables="one_time_tokens 1 rows, 1 statements, `, "the cycle's line says which table its rows came from")
			}
		})
	}
}
