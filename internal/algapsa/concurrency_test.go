package algapsa_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa"
	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// replicas opens n adapters on the same stand-in, as n service instances.
func replicas(t *testing.T, sdb *algapsatest.DB, n int) []*algapsa.DB {
	var out []*algapsa.DB
	for i := 0; i < n; i++ {
		db, err := algapsa.Open(context.Background(), sdb.AppURL, algapsa.Options{})
		require.NoError(t, err)
		t.Cleanup(db.Close)
		out = append(out, db)
	}
	return out
}

func TestConcurrentAdoptionsClaimOnce(t *testing.T) {
	sdb, _ := standIn(t)
	dbs := replicas(t, sdb, 2)
	u := sdb.AddUser(t, algapsatest.User{Email: "ann@example.com"})
	tok := sdb.IssueAlgaRefreshToken(t, u.TenantID, u.ID, time.Hour)

	const n = 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, misses := 0, 0
	var others []error
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(db *algapsa.DB) {
			defer wg.Done()
			<-start
			_, err := db.AdoptAlgaRefreshToken(context.Background(), hashOf(tok.Token))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case assert.ErrorIs(t, err, mobileauth.ErrNotFound):
				misses++
			default:
				others = append(others, err)
			}
		}(dbs[i%len(dbs)])
	}
	close(start)
	wg.Wait()
	assert.Equal(t, 1, wins, "exactly one adoption succeeds")
	assert.Equal(t, n-1, misses)
	assert.Empty(t, others)
	assert.False(t, sdb.APIKeyRow(t, tok.APIKeyID).Active)
}

func TestConcurrentMintsLeaveOneActiveKey(t *testing.T) {
	sdb, _ := standIn(t)
	dbs := replicas(t, sdb, 2)
	u := sdb.AddUser(t, algapsatest.User{Email: "ann@example.com"})

	const n = 40
	keys := make([]mobileauth.MintedAPIKey, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			keys[i], errs[i] = dbs[i%len(dbs)].MintAPIKey(context.Background(), u.TenantID, u.ID, "fam", phone, ttl)
		}(i)
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	active := sdb.APIKeyRows(t, "metadata->>'familyId' = 'fam' AND active")
	require.Len(t, active, 1, "one active key per family")
	assert.Len(t, sdb.APIKeyRows(t, "metadata->>'familyId' = 'fam'"), n)
	good := 0
	for _, k := range keys {
		if accepted(t, sdb, k.Key, u.TenantID) {
			good++
			assert.Equal(t, active[0].ID, k.ID)
		}
	}
	assert.Equal(t, 1, good, "AlgaPSA accepts only the last key")
}
