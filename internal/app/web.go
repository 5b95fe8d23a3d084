package app

import (
	"context"
	"fmt"
	"net/http"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/clientip"
	"github.com/nineminds/alga-mobile-auth/internal/httpapi"
	"github.com/nineminds/alga-mobile-auth/internal/license"
	"github.com/nineminds/alga-mobile-auth/internal/qr"
	"github.com/nineminds/alga-mobile-auth/internal/sso"
)

// flowSecretName names the server secret that seals sign-in flow cookies;
// stored so that every replica can open a flow another one started.
const flowSecretName = "signin-flow"

// newSignIn builds the browser sign-in: providers (plus the development
// provider when enabled) and the flow key.
func (a *App) newSignIn(ctx context.Context, o Options) (authflow.SignInOptions, error) {
	cfg := a.Config
	settings := sso.Settings{
		PublicOrigin:     cfg.Origin(),
		Google:           sso.ClientSettings{ClientID: cfg.Google.ClientID.Value(), ClientSecret: cfg.Google.ClientSecret.Value(), Issuer: cfg.Google.Issuer},
		Microsoft:        sso.ClientSettings{ClientID: cfg.Microsoft.ClientID.Value(), ClientSecret: cfg.Microsoft.ClientSecret.Value(), Issuer: cfg.Microsoft.Issuer},
		MicrosoftTenant:  cfg.MicrosoftTenant,
		MicrosoftTenants: cfg.MicrosoftTenants,
		Now:              o.Now,
	}
	if cfg.DevIDP {
		idp, err := startDevIDP(cfg.DevIDPAddr, []string{cfg.Origin() + sso.CallbackPathPrefix + string(sso.Dev)})
		if err != nil {
			return authflow.SignInOptions{}, fmt.Errorf("development identity provider: %w", err)
		}
		a.closers = append(a.closers, idp.Close)
		a.DevIDP = idp
		settings.Dev = &sso.ClientSettings{ClientID: idp.ClientID(), ClientSecret: idp.ClientSecret(), Issuer: idp.Issuer()}
		a.Log.WarnContext(ctx, "development identity provider is on: anyone can sign in as any directory user", "issuer", idp.Issuer())
	}
	key, err := a.serverSecret(ctx, flowSecretName, o.Rand)
	if err != nil {
		return authflow.SignInOptions{}, fmt.Errorf("sign-in flow key: %w", err)
	}
	return authflow.SignInOptions{Providers: sso.NewProviders(settings), FlowKey: key}, nil
}

// newWeb switches the browser pages and the hand-off on.
func (a *App) newWeb(ips *clientip.Resolver) *httpapi.WebOptions {
	return &httpapi.WebOptions{
		Service:     a.Auth,
		Origin:      a.Config.Origin(),
		RequestHost: func(r *http.Request) string { return ips.ForwardedHost(r) },
	}
}

// newConnect renders the connect QR once; it exists only on self-host
// licensing (SPEC §3.8).
func (a *App) newConnect() (*httpapi.ConnectAssets, error) {
	if a.Gate.Mode() != license.ModeSelfHost {
		return nil, nil
	}
	payload := qr.Payload(a.Config.Origin())
	png, err := qr.PNG(payload, 512)
	if err != nil {
		return nil, fmt.Errorf("connect QR: %w", err)
	}
	svg, err := qr.SVG(payload)
	if err != nil {
		return nil, fmt.Errorf("connect QR: %w", err)
	}
	return &httpapi.ConnectAssets{Origin: a.Config.Origin(), PNG: png, SVG: svg}, nil
}
