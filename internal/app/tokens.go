package app

import (
	"context"
	"fmt"
	"io"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/config"
	"github.com/nineminds/alga-mobile-auth/internal/httpapi"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/ratelimit"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// successorSecretName names the server secret behind refresh successors.
const successorSecretName = "refresh-successor"

// newAuthflow builds the token machinery and the use-case service.
func (a *App) newAuthflow(ctx context.Context, o Options, signIn authflow.SignInOptions) (*authflow.Service, *token.Keyring, error) {
	cfg := a.Config
	keys, err := SigningKeys(cfg, a.Store)
	if err != nil {
		return nil, nil, err
	}
	ring, err := token.NewKeyring(ctx, keys, token.KeyringOptions{Now: o.Now, Rand: o.Rand, AccessTTL: cfg.AccessTTL, Logger: a.Log})
	if err != nil {
		return nil, nil, fmt.Errorf("signing keys: %w", err)
	}
	issuer, err := token.NewIssuer(ring, cfg.Origin(), cfg.Audience, cfg.AccessTTL, o.Now, o.Rand)
	if err != nil {
		return nil, nil, err
	}
	verifier, err := token.NewVerifier(ring, cfg.Origin(), cfg.Audience, o.Now, token.NewVerifiedCache(token.DefaultCacheSize))
	if err != nil {
		return nil, nil, err
	}
	secret, err := a.serverSecret(ctx, successorSecretName, o.Rand)
	if err != nil {
		return nil, nil, fmt.Errorf("refresh successor secret: %w", err)
	}
	deriver, err := token.NewDeriver(secret)
	if err != nil {
		return nil, nil, err
	}
	a.audit = sqlstore.NewAuditBatcher(a.Store, a.Log)
	a.closers = append(a.closers, a.audit.Close)
	limiter, err := a.newLimiter()
	if err != nil {
		return nil, nil, err
	}
	deps := authflow.Deps{
		Stores:  authflow.Stores{OTTs: a.Store, Sessions: a.Store, Refresh: a.Store, Directory: a.Store, Audit: a.audit, Adoptions: a.Store},
		Limiter: limiter, Gate: a.Gate, Issuer: issuer, Verifier: verifier, Deriver: deriver,
		Events: a.Metrics, Log: a.Log, Now: o.Now, Rand: o.Rand, SignIn: signIn,
		Settings: authflow.Settings{OTTTTL: cfg.OTTTTL, AccessTTL: cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL,
			RefreshGrace: cfg.RefreshGrace, SessionTTL: cfg.SessionTTL, FamilyMaxAge: cfg.FamilyMaxAge,
			Origin: cfg.Origin(), HostAllowlist: cfg.HostAllowlist, OwnHost: cfg.OwnHost(),
			SessionCookie: httpapi.SessionCookieName(cfg.Origin())},
	}
	if err := a.applianceDeps(&deps, o); err != nil {
		return nil, nil, err
	}
	svc, err := authflow.New(deps)
	if err != nil {
		return nil, nil, err
	}
	return svc, ring, nil
}

// SigningKeys is the store's signing keys, sealed at rest when
// ALGA_MOBILE_SECRET_KEY is set; serve and `keys rotate` both use it.
func SigningKeys(cfg *config.Config, st token.KeySource) (token.KeySource, error) {
	return token.SealedKeys(st, cfg.MasterKey())
}

// AtRestStore is what SealAtRest needs of the store.
type AtRestStore interface {
	token.ResealStore
	DeleteServerSecrets(ctx context.Context) (int, error)
}

// SealAtRest applies ALGA_MOBILE_SECRET_KEY to what an install kept in
// clear before the key was set: every private signing key still stored in
// clear is sealed under it, and the stored server secrets are deleted
// (with the key they are derived from it, so the stored ones are dead
// weight that a database dump would hand out). Without a key it does
// nothing. serve runs it at start-up and `keys rotate` before rotating.
func SealAtRest(ctx context.Context, cfg *config.Config, st AtRestStore) (sealed, deleted int, err error) {
	m := cfg.MasterKey()
	if m == nil {
		return 0, 0, nil
	}
	if sealed, err = token.ResealClearKeys(ctx, st, m); err != nil {
		return sealed, 0, err
	}
	deleted, err = st.DeleteServerSecrets(ctx)
	return sealed, deleted, err
}

// serverSecret is a 32-byte secret for one purpose: derived from
// ALGA_MOBILE_SECRET_KEY when set (nothing secret in the database), else
// generated once and kept in the database, shared by every replica.
func (a *App) serverSecret(ctx context.Context, name string, r io.Reader) ([]byte, error) {
	if m := a.Config.MasterKey(); m != nil {
		return token.DeriveKey(m, name)
	}
	return a.Store.ServerSecret(ctx, name, func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := io.ReadFull(r, b)
		return b, err
	})
}

// newLimiter picks where rate-limit state lives: Redis when configured,
// else PostgreSQL (shared by replicas), else this process (SQLite means a
// single instance anyway).
func (a *App) newLimiter() (mobileauth.RateLimiter, error) {
	if a.Config.RedisURL.Set() {
		client, err := ratelimit.OpenRedis(a.Config.RedisURL.Value(), a.Log)
		if err != nil {
			return nil, fmt.Errorf("ALGA_MOBILE_REDIS_URL: %w", err)
		}
		a.closers = append(a.closers, client.Close)
		// While Redis is down each replica limits alone (logged once).
		return ratelimit.NewFallback(client.Limiter(), ratelimit.NewMemory(), a.Log), nil
	}
	if a.Store.Dialect() == "postgres" {
		return a.Store, nil
	}
	return ratelimit.NewMemory(), nil
}
