package algapsatest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// catalogQueries describe every object of the stand-in's schema that the
// service must never create, alter or drop: tables (with owner, row
// security and privileges), columns, indexes, constraints, triggers,
// functions, sequences, policies and types.
var catalogQueries = []string{
	`SELECT 'table ' || c.relname || ' kind=' || c.relkind::text || ' owner=' || pg_get_userbyid(c.relowner)
	        || ' rls=' || c.relrowsecurity::text || ' acl=' || coalesce(c.relacl::text, '')
	   FROM pg_class c WHERE c.relnamespace = $1::regnamespace`,
	`SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
	        || ' notnull=' || a.attnotnull::text || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
	   FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
	   LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	  WHERE c.relnamespace = $1::regnamespace AND a.attnum > 0 AND NOT a.attisdropped`,
	`SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	  WHERE c.relnamespace = $1::regnamespace`,
	`SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
	   FROM pg_constraint WHERE connamespace = $1::regnamespace`,
	`SELECT 'trigger ' || tgrelid::regclass || ' ' || tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
	  WHERE c.relnamespace = $1::regnamespace`,
	`SELECT 'function ' || p.oid::regprocedure FROM pg_proc p WHERE p.pronamespace = $1::regnamespace`,
	`SELECT 'policy ' || tablename || ' ' || policyname FROM pg_policies WHERE schemaname = $1`,
	`SELECT 'type ' || typname FROM pg_type WHERE typnamespace = $1::regnamespace`,
	`SELECT 'schema ' || nspname || ' owner=' || pg_get_userbyid(nspowner) || ' acl=' || coalesce(nspacl::text, '')
	   FROM pg_namespace WHERE nspname = $1`,
}

// Catalog lists every object of the stand-in's schema, sorted, one line
// each; two snapshots are equal iff nothing was created, altered or
// dropped in it.
func (d *DB) Catalog(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, q := range catalogQueries {
		rows, err := d.Admin.Query(context.Background(), q+" ORDER BY 1", d.Schema)
		require.NoError(t, err, q)
		for rows.Next() {
			var line string
			require.NoError(t, rows.Scan(&line))
			out = append(out, line)
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	return out
}
