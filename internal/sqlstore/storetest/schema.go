package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
	"github.com/nineminds/alga-mobile-auth/internal/testenv"
)

// PostgresSchema creates a schema of the test's own (named prefix_<random>)
// on the database of ALGA_TEST_POSTGRES_URL, drops it when the test ends,
// and returns a URL whose search_path points at it, so runs and tests never
// collide. Without the variable it skips (or fails under CI), as testenv says.
func PostgresSchema(t testing.TB, prefix string) string {
	t.Helper()
	base := testenv.PostgresURL(t)
	admin, err := sqlstore.Open(context.Background(), base, sqlstore.Options{})
	require.NoError(t, err)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := prefix + "_" + hex.EncodeToString(b)
	_, err = admin.DB().ExecContext(context.Background(), "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := admin.DB().ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		assert.NoError(t, err)
		assert.NoError(t, admin.Close())
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
