// Package algapsatest gives tests a stand-in of AlgaPSA's database on the
// real PostgreSQL (ALGA_TEST_POSTGRES_URL): a fresh schema holding exactly
// the tables and columns SPEC §8.2 lists (testdata/algapsa-schema.sql),
// owned by a role other than the one the adapter connects as, which gets
// only the privileges SPEC §8.1 lists. It also seeds users, tenants, web
// sessions and AlgaPSA-issued refresh tokens, stubs AlgaPSA's API-key check,
// and snapshots the schema's catalog. The adapter's tests, the use-case
// tests and the end-to-end tests share it.
package algapsatest

import (
	"context"
	"crypto/rand"
	_ "embed" // the stand-in schema
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/testenv"
)

//go:embed testdata/algapsa-schema.sql
var schemaSQL string

// Schema is the stand-in's DDL, as run by New.
func Schema() string { return schemaSQL }

// Grant is one privilege of SPEC §8.1 on one table.
type Grant struct {
	Privilege string // SELECT, INSERT, UPDATE or DELETE
	Table     string
}

// Grants are the privileges SPEC §8.1 gives the service's role.
var Grants = []Grant{
	{"SELECT", "users"}, {"SELECT", "tenants"}, {"SELECT", "sessions"}, {"SELECT", "mobile_refresh_tokens"},
	{"SELECT", "api_keys"}, {"INSERT", "api_keys"}, {"UPDATE", "api_keys"}, {"DELETE", "api_keys"},
	{"UPDATE", "mobile_refresh_tokens"},
}

// Options shape the stand-in.
type Options struct {
	// Withhold lists privileges of Grants that the service's role does not
	// get (to test MissingPrivileges and check).
	Withhold []Grant
}

// DB is one stand-in of AlgaPSA's database.
type DB struct {
	// Schema is the stand-in's schema; OwnerRole owns it and its tables;
	// AppRole is the role the adapter connects as.
	Schema, OwnerRole, AppRole string
	// AppURL connects as AppRole with search_path set to Schema, as the
	// service would connect to AlgaPSA's database.
	AppURL string
	// Admin is a superuser pool with search_path set to Schema: AlgaPSA's
	// side of the database (seeding, the API-key check, inspection).
	Admin *pgxpool.Pool
}

// New creates a stand-in for one test and drops it (schema and roles) when
// the test ends. Without ALGA_TEST_POSTGRES_URL it skips (fails under CI).
func New(t testing.TB, opts ...Options) *DB {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	base := testenv.PostgresURL(t)
	ctx := context.Background()
	suffix := randomHex(t, 6)
	d := &DB{Schema: "algapsa_" + suffix, OwnerRole: "algapsa_owner_" + suffix, AppRole: "algapsa_app_" + suffix}

	root, err := pgx.Connect(ctx, base)
	require.NoError(t, err, "connect to ALGA_TEST_POSTGRES_URL")
	defer func() { _ = root.Close(ctx) }()
	t.Cleanup(func() { d.drop(t, base) })
	for _, stmt := range []string{
		"CREATE ROLE " + d.OwnerRole + " NOLOGIN",
		"CREATE ROLE " + d.AppRole + " LOGIN PASSWORD 'stand-in'",
		"CREATE SCHEMA " + d.Schema + " AUTHORIZATION " + d.OwnerRole,
	} {
		_, err := root.Exec(ctx, stmt)
		require.NoError(t, err, stmt)
	}
	// The owner creates the tables, so the service's role holds only what
	// is granted below, as on an appliance.
	tx, err := root.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "SET LOCAL ROLE "+d.OwnerRole+"; SET LOCAL search_path = "+d.Schema)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, schemaSQL)
	require.NoError(t, err, "create the stand-in schema")
	require.NoError(t, tx.Commit(ctx))
	withheld := map[Grant]bool{}
	for _, g := range o.Withhold {
		withheld[g] = true
	}
	_, err = root.Exec(ctx, "GRANT USAGE ON SCHEMA "+d.Schema+" TO "+d.AppRole)
	require.NoError(t, err)
	for _, g := range Grants {
		if withheld[g] {
			continue
		}
		_, err := root.Exec(ctx, "GRANT "+g.Privilege+" ON "+d.Schema+"."+g.Table+" TO "+d.AppRole)
		require.NoError(t, err)
	}

	d.AppURL = withUserAndPath(t, base, d.AppRole, "stand-in", d.Schema)
	d.Admin, err = pgxpool.New(ctx, withUserAndPath(t, base, "", "", d.Schema))
	require.NoError(t, err)
	return d
}

// drop removes the schema and both roles (after the adapter's pool, which
// tests close in a later-registered cleanup, is gone).
func (d *DB) drop(t testing.TB, base string) {
	if d.Admin != nil {
		d.Admin.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root, err := pgx.Connect(ctx, base)
	if !assert.NoError(t, err) {
		return
	}
	defer func() { _ = root.Close(ctx) }()
	// Connections of the app role that a test leaked would keep its role alive.
	_, _ = root.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", d.AppRole)
	for _, stmt := range []string{
		"DROP SCHEMA IF EXISTS " + d.Schema + " CASCADE",
		"DROP ROLE IF EXISTS " + d.AppRole,
		"DROP ROLE IF EXISTS " + d.OwnerRole,
	} {
		_, err := root.Exec(ctx, stmt)
		assert.NoError(t, err, stmt)
	}
}

// withUserAndPath rewrites base to connect as user (unchanged when empty)
// with search_path set to schema.
func withUserAndPath(t testing.TB, base, user, password, schema string) string {
	u, err := url.Parse(base)
	require.NoError(t, err)
	if user != "" {
		u.User = url.UserPassword(user, password)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// Exec runs one statement on AlgaPSA's side of the stand-in (as a
// superuser), e.g. to move a time into the past.
func (d *DB) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	_, err := d.Admin.Exec(context.Background(), sql, args...)
	require.NoError(t, err, sql)
}
