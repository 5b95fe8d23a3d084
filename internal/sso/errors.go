package sso

import "errors"

// Sentinel errors. Every error this package returns wraps at most one of
// them, so the HTTP layer can pick a readable sentence with errors.Is and
// log the wrapped cause.
var (
	// ErrUnknownProvider: the flow or request names a provider that is not
	// configured (or a flow opened for one provider came back to another).
	ErrUnknownProvider = errors.New("sso: unknown or unconfigured provider")
	// ErrDiscovery: the provider's discovery document could not be fetched
	// or is unusable (provider unreachable, wrong issuer, bad JSON).
	ErrDiscovery = errors.New("sso: provider discovery failed")
	// ErrExchange: the provider refused the authorization code or could
	// not be reached for the token exchange.
	ErrExchange = errors.New("sso: code exchange failed")
	// ErrNoIDToken: the token response carried no id_token.
	ErrNoIDToken = errors.New("sso: token response has no id_token")
	// ErrInvalidIDToken: the ID token is malformed or failed a check not
	// covered by a more specific sentinel.
	ErrInvalidIDToken = errors.New("sso: invalid ID token")
	// ErrBadSignature: the ID token's signature does not verify against the
	// provider's published keys.
	ErrBadSignature = errors.New("sso: ID token signature invalid")
	// ErrAudienceMismatch: the ID token was issued for another client.
	ErrAudienceMismatch = errors.New("sso: ID token audience mismatch")
	// ErrIssuerMismatch: the ID token (or, for Microsoft multi-tenant, its
	// tid) does not match the expected issuer.
	ErrIssuerMismatch = errors.New("sso: ID token issuer mismatch")
	// ErrTokenExpired: the ID token has expired.
	ErrTokenExpired = errors.New("sso: ID token expired")
	// ErrNonceMismatch: the ID token's nonce is not the one this flow sent.
	ErrNonceMismatch = errors.New("sso: ID token nonce mismatch")
	// ErrStateMismatch: the callback's state is not the one this flow sent.
	ErrStateMismatch = errors.New("sso: state mismatch")
	// ErrEmailNotVerified: the provider did not vouch for the e-mail.
	ErrEmailNotVerified = errors.New("sso: e-mail not verified")
	// ErrUntrustedTenant: a multi-tenant Microsoft token comes from a
	// tenant not listed in ALGA_MOBILE_MICROSOFT_TENANTS and does not carry
	// xms_edov true, so its e-mail cannot be trusted (nOAuth).
	ErrUntrustedTenant = errors.New("sso: Microsoft tenant not trusted for its e-mail")
	// ErrNoEmail: the ID token carries no usable e-mail address.
	ErrNoEmail = errors.New("sso: ID token has no e-mail address")
	// ErrFlowInvalid: the flow cookie is missing, malformed or tampered.
	ErrFlowInvalid = errors.New("sso: sign-in flow invalid")
	// ErrFlowExpired: the flow cookie is authentic but too old.
	ErrFlowExpired = errors.New("sso: sign-in flow expired")
	// ErrWeakKey: the flow-sealing key is shorter than 32 bytes.
	ErrWeakKey = errors.New("sso: flow key shorter than 32 bytes")
)
