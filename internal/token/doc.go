// Package token owns the service's credentials as byte strings: opaque
// tokens (one-time tokens, refresh tokens, session ids) and their SHA-256
// hashes, PKCE S256 checks, the derivation of a refresh token's successor,
// and access tokens — Ed25519-signed JWTs (RFC 9068) — together with the
// signing keys that replicas share through the store and the JWKS that
// publishes them.
//
// It knows nothing of HTTP or SQL: keys come from a KeySource (a subset of
// mobileauth.KeyStore) and every error is either a wrapped sentinel or a
// plain wrapped cause for the log; callers assign contract codes.
package token
