package sqlstore

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url, dialect, path string
	}{
		{"sqlite:./data/mobile-auth.db", DialectSQLite, "./data/mobile-auth.db"},
		{"sqlite:///var/lib/alga/m.db", DialectSQLite, "/var/lib/alga/m.db"},
		{"sqlite://rel/m.db", DialectSQLite, "rel/m.db"},
		{"file:/tmp/m.db", DialectSQLite, "/tmp/m.db"},
		{"  sqlite:m.db ", DialectSQLite, "m.db"},
		{"postgres://u:p@localhost:5432/db?sslmode=disable", DialectPostgres, ""},
		{"postgresql://u@localhost/db", DialectPostgres, ""},
		{"PostgreSQL://u@localhost/db", DialectPostgres, ""},
	} {
		t.Run(tc.url, func(t *testing.T) {
			got, err := parseURL(tc.url)
			require.NoError(t, err)
			assert.Equal(t, tc.dialect, got.dialect)
			assert.Equal(t, tc.path, got.path)
		})
	}
}

func TestRebindSQLite(t *testing.T) {
	assert.Equal(t, "UPDATE t SET a = ?2 WHERE b = ?1 AND c > ?2 AND d = ?10",
		rebindSQLite("UPDATE t SET a = $2 WHERE b = $1 AND c > $2 AND d = $10"))
	assert.Equal(t, "SELECT '$' || x", rebindSQLite("SELECT '$' || x"), "a lone $ stays")
}

// FuzzParseURL: the database URL comes from the environment; parsing must
// never panic and never echo a password into its error.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"sqlite:./m.db", "sqlite://", "file:", "postgres://u:secretpw@h/db", "postgres://u:secretpw@h:x/db",
		"u:secretpw@h", "postgresql://[::1", "postgres://u:secretpw@h/db?sslmode=bogus", ":", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		_, err := parseURL(raw)
		// A scheme is no secret: "secretpw:" names it and holds no
		// password, and the error rightly says which scheme is unsupported.
		scheme, _, _ := strings.Cut(raw, ":")
		if err != nil && strings.Contains(raw, "secretpw") && !strings.Contains(scheme, "secretpw") &&
			strings.Contains(err.Error(), "secretpw") {
			t.Fatalf("error echoes the password: %v", err)
		}
	})
}
