package app

import (
	"context"
	"fmt"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa"
	"github.com/nineminds/alga-mobile-auth/internal/appliance"
	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/authjs"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// algaPSAConns is the default size of the pool to AlgaPSA's database in
// appliance mode: every exchange and refresh mints an API key there (a
// short transaction under a per-family lock) and every /verify reads one,
// so this pool carries the same load as the own store's (16 by default).
// Idle connections are closed after a minute, since the web app shares the
// database's connection limit. pool_max_conns in ALGA_PSA_DATABASE_URL
// overrides it.
const algaPSAConns = 16

// housekeeping is what runs with the own store's purge: in appliance mode,
// the API-key housekeeping in AlgaPSA's database (SPEC §8.4).
func (a *App) housekeeping() []func(context.Context) {
	if a.AlgaPSA == nil {
		return nil
	}
	return []func(context.Context){appliance.KeyHousekeeping(a.AlgaPSA, a.Log)}
}

// openAlgaPSA connects to AlgaPSA's database when appliance mode is on
// (SPEC §8.1). It does not wait for the database: /readyz says when it is
// unreachable, and check explains why.
func (a *App) openAlgaPSA(ctx context.Context, o Options) error {
	if !a.Config.ApplianceMode() {
		return nil
	}
	db, err := algapsa.Open(ctx, a.Config.Appliance.DatabaseURL.Value(), algapsa.Options{MaxConns: algaPSAConns, Rand: o.Rand})
	if err != nil {
		return err
	}
	a.AlgaPSA = db
	a.closers = append(a.closers, func() error { db.Close(); return nil })
	return nil
}

// applianceDeps plugs AlgaPSA into the use cases: its users and tenants as
// the directory, its API keys as access tokens, its refresh tokens to
// adopt, and (with NEXTAUTH_SECRET) its web session before the own one.
func (a *App) applianceDeps(d *authflow.Deps, o Options) error {
	db := a.AlgaPSA
	if db == nil {
		return nil
	}
	access, err := authflow.NewAPIKeyAccess(db, a.Config.AccessTTL)
	if err != nil {
		return err
	}
	d.Stores.Directory, d.Access, d.AlgaTokens = db, access, db
	secret := a.Config.Appliance.NextAuthSecret
	if !secret.Set() {
		return nil
	}
	name := a.Config.Appliance.AuthJSCookie
	if name == "" {
		name = authjs.CookieName(a.Config.Origin())
	}
	dec, err := authjs.NewDecoder(secret.Value(), name, o.Now)
	if err != nil {
		return fmt.Errorf("web app session cookie: %w", err)
	}
	src, err := appliance.NewWebAppSessions(dec, db, a.Log)
	if err != nil {
		return err
	}
	d.SessionSources = append(d.SessionSources, src)
	return nil
}

// ready is /readyz: the own store, and AlgaPSA's database in appliance
// mode (SPEC §8.1).
func (a *App) ready(ctx context.Context) error {
	if err := a.Store.Ping(ctx); err != nil {
		return err
	}
	if a.AlgaPSA != nil {
		if err := a.AlgaPSA.Ping(ctx); err != nil {
			// Said by name: the sidecar's own store is fine, and an operator
			// reading "Store is not reachable" would look in the wrong place.
			return mobileauth.WrapError(mobileauth.CodeServiceUnavailable, "AlgaPSA's database is not reachable", err)
		}
	}
	return nil
}
