package algapsa_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa"
	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
)

// standIn creates AlgaPSA's stand-in database and the adapter connected to
// it as the service's role.
func standIn(t *testing.T, opts ...algapsatest.Options) (*algapsatest.DB, *algapsa.DB) {
	t.Helper()
	sdb := algapsatest.New(t, opts...)
	db, err := algapsa.Open(context.Background(), sdb.AppURL, algapsa.Options{})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	return sdb, db
}

func ptr[T any](v T) *T { return &v }
