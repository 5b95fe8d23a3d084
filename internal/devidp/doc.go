// Package devidp is a development identity provider: a real OpenID Connect
// provider on a loopback address, so `make run` walks the whole browser
// sign-in with no Google or Microsoft account, and tests have a genuine
// provider to sign in at.
//
// The protocol side is github.com/oauth2-proxy/mockoidc (discovery, JWKS,
// RS256 ID tokens, authorization-code grant with PKCE). In front of its
// authorization endpoint sits a small login form, "Sign in as", that asks
// for an e-mail address and signs the browser in as that address with no
// password. That is its whole point and its whole danger: it must never be
// reachable from anywhere but the machine itself, so Start refuses any
// non-loopback address, and `serve` only enables it for a loopback
// NEXTAUTH_URL (SPEC §2, ALGA_MOBILE_DEV_IDP).
//
// Beyond mockoidc it insists on what our client must do: PKCE S256, a
// nonce, state, scope openid, a registered redirect_uri (when configured),
// and the same redirect_uri again at the token endpoint.
package devidp
