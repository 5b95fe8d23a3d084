package algapsa

import (
	"context"
	"fmt"
)

// Privilege is one table privilege the service needs (SPEC §8.1).
type Privilege struct {
	Privilege string // SELECT, INSERT, UPDATE or DELETE
	Table     string
}

// RequiredPrivileges are every privilege the adapter uses, and nothing more.
var RequiredPrivileges = []Privilege{
	{"SELECT", "users"}, {"SELECT", "tenants"}, {"SELECT", "sessions"}, {"SELECT", "mobile_refresh_tokens"},
	{"SELECT", "api_keys"}, {"INSERT", "api_keys"}, {"UPDATE", "api_keys"}, {"DELETE", "api_keys"},
	{"UPDATE", "mobile_refresh_tokens"},
}

// MissingPrivilege is a required privilege the connected role lacks.
type MissingPrivilege struct {
	Privilege
	// TableMissing: no such table is visible on the search path, so the
	// URL probably names another database than AlgaPSA's (or a role without
	// USAGE on its schema); Grant is empty then.
	TableMissing bool
	// Grant is the statement that fixes it, e.g.
	// GRANT UPDATE ON public.mobile_refresh_tokens TO app_user;
	Grant string
}

// MissingPrivileges checks each RequiredPrivileges entry with
// has_table_privilege for the connected role (current_user) and returns
// those it lacks, each with the GRANT that fixes it. It changes nothing.
func (d *DB) MissingPrivileges(ctx context.Context) ([]MissingPrivilege, error) {
	privs := make([]string, len(RequiredPrivileges))
	tables := make([]string, len(RequiredPrivileges))
	for i, p := range RequiredPrivileges {
		privs[i], tables[i] = p.Privilege, p.Table
	}
	rows, err := d.pool.Query(ctx, `SELECT x.p, x.t, c.oid IS NULL,
       coalesce(has_table_privilege(c.oid, x.p), false),
       CASE WHEN c.oid IS NULL THEN ''
            ELSE format('GRANT %s ON %I.%I TO %s;', x.p, n.nspname, c.relname, quote_ident(current_user)) END
  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x(p, t, i)
  LEFT JOIN pg_class c ON c.oid = to_regclass(x.t)
  LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
 ORDER BY x.i`, privs, tables)
	if err != nil {
		return nil, fmt.Errorf("check privileges on AlgaPSA's database: %w", err)
	}
	defer rows.Close()
	var out []MissingPrivilege
	for rows.Next() {
		var m MissingPrivilege
		var has bool
		if err := rows.Scan(&m.Privilege.Privilege, &m.Table, &m.TableMissing, &has, &m.Grant); err != nil {
			return nil, fmt.Errorf("check privileges on AlgaPSA's database: %w", err)
		}
		if !has {
			out = append(out, m)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("check privileges on AlgaPSA's database: %w", err)
	}
	return out, nil
}
