package algapsa_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa"
	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
)

func TestRequiredPrivilegesAreSpecs(t *testing.T) {
	var got []algapsatest.Grant
	for _, p := range algapsa.RequiredPrivileges {
		got = append(got, algapsatest.Grant{Privilege: p.Privilege, Table: p.Table})
	}
	assert.Equal(t, algapsatest.Grants, got, "the adapter asks for exactly what SPEC §8.1 lists")
}

func TestMissingPrivileges(t *testing.T) {
	ctx := context.Background()
	t.Run("all granted", func(t *testing.T) {
		_, db := standIn(t)
		missing, err := db.MissingPrivileges(ctx)
		require.NoError(t, err)
		assert.Empty(t, missing)
	})
	t.Run("withheld privileges are reported with the GRANT that fixes them", func(t *testing.T) {
		withhold := []algapsatest.Grant{{Privilege: "DELETE", Table: "api_keys"}, {Privilege: "UPDATE", Table: "mobile_refresh_tokens"}}
		sdb, db := standIn(t, algapsatest.Options{Withhold: withhold})
		missing, err := db.MissingPrivileges(ctx)
		require.NoError(t, err)
		assert.Equal(t, []algapsa.MissingPrivilege{
			{Privilege: algapsa.Privilege{Privilege: "DELETE", Table: "api_keys"},
				Grant: "GRANT DELETE ON " + sdb.Schema + ".api_keys TO " + sdb.AppRole + ";"},
			{Privilege: algapsa.Privilege{Privilege: "UPDATE", Table: "mobile_refresh_tokens"},
				Grant: "GRANT UPDATE ON " + sdb.Schema + ".mobile_refresh_tokens TO " + sdb.AppRole + ";"},
		}, missing)
		for _, m := range missing {
			sdb.Exec(t, m.Grant)
		}
		missing, err = db.MissingPrivileges(ctx)
		require.NoError(t, err)
		assert.Empty(t, missing, "running the printed GRANTs fixes it")
	})
	t.Run("not AlgaPSA's database", func(t *testing.T) {
		sdb := algapsatest.New(t)
		u, err := url.Parse(sdb.AppURL)
		require.NoError(t, err)
		q := u.Query()
		q.Set("search_path", "no_such_schema")
		u.RawQuery = q.Encode()
		db, err := algapsa.Open(ctx, u.String(), algapsa.Options{})
		require.NoError(t, err)
		defer db.Close()
		missing, err := db.MissingPrivileges(ctx)
		require.NoError(t, err)
		require.Len(t, missing, len(algapsa.RequiredPrivileges))
		for _, m := range missing {
			assert.True(t, m.TableMissing, m.Table)
			assert.Empty(t, m.Grant)
		}
	})
}
