package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/testenv"
)

// testSchemaURL is storetest.PostgresSchema for this package's internal
// tests (which cannot import storetest: it imports this package): a schema
// of the test's own, dropped when the test ends, and a URL whose
// search_path points at it.
func testSchemaURL(t *testing.T, prefix string) string {
	t.Helper()
	base := testenv.PostgresURL(t)
	admin, err := Open(context.Background(), base, Options{})
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
