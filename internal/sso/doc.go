// Package sso signs people in with OpenID Connect providers (Google,
// Microsoft Entra ID and the development provider) and hands the caller a
// verified e-mail address.
//
// It owns the provider resolver of SPEC §2 (which providers are configured,
// their default and overridden issuers), lazy OIDC discovery, the
// authorization-code flow with PKCE S256, state and nonce, the sealed cookie
// that carries that flow through the browser, and ID-token verification with
// coreos/go-oidc. It knows nothing about HTTP routes, sessions or the user
// directory: the HTTP layer calls [NewFlow], [SealFlow], [Provider.AuthCodeURL]
// on the way out and [OpenFlow], [Flow.CheckState], [Provider.Finish] on the way
// back, and maps the sentinel errors below to readable pages.
package sso
