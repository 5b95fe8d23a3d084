// Package authjs reads the session cookie of AlgaPSA's web app: an Auth.js v5
// (@auth/core 0.41) JWT session, a compact JWE (`alg` dir, `enc`
// A256CBC-HS512) whose key is derived from NEXTAUTH_SECRET with HKDF-SHA256,
// salted with the cookie's name. It needs no database: whether the session
// was revoked on the server is for its consumer to ask AlgaPSA.
//
// The package mirrors Auth.js where Auth.js defines the format (key
// derivation, `kid`, chunking, the 15 s clock leeway of its decode) and is
// stricter where Auth.js' reader accepts what its writer never produces
// (A256GCM, compressed payloads, missing `exp`, oversized cookies). Errors
// never carry the cookie's contents or the secret.
package authjs

import (
	"errors"
	"net/url"
	"strings"
	"time"
)

// Cookie names Auth.js gives its session cookie.
const (
	// SecureCookieName is the session cookie's name on an https site.
	SecureCookieName = "__Secure-authjs.session-token"
	// PlainCookieName is the session cookie's name on a plain-http site.
	PlainCookieName = "authjs.session-token"
)

// CookieName returns the session cookie name the web app at nextAuthURL uses
// by default: the `__Secure-` name when its scheme is https, the plain one
// otherwise (including when the URL does not parse).
func CookieName(nextAuthURL string) string {
	u, err := url.Parse(strings.TrimSpace(nextAuthURL))
	if err == nil && strings.EqualFold(u.Scheme, "https") {
		return SecureCookieName
	}
	return PlainCookieName
}

// Session is what the web app's session cookie says about its user. The
// consumer must still check the `sessions` row: AlgaPSA revokes sessions on
// the server, and the cookie stays valid until it expires.
type Session struct {
	// UserID is the `id` claim, or `sub` when `id` is absent.
	UserID string
	// Tenant is the `tenant` claim.
	Tenant string
	// UserType is the `user_type` claim: "internal" or "client".
	UserType string
	// Email and Name are the `email` and `name` claims (may be empty).
	Email string
	Name  string
	// SessionID is the `session_id` claim: the key of AlgaPSA's `sessions` row.
	SessionID string
	// IssuedAt is `iat`: when the web app last wrote the cookie. Auth.js
	// rewrites it on every request that reads the session, so it is not the
	// sign-in time. Zero when the claim is absent.
	IssuedAt time.Time
	// ExpiresAt is `exp`.
	ExpiresAt time.Time
}

// ErrNoCookie means the request carries no session cookie of the configured
// name (neither whole nor in chunks): the caller may look for another session.
var ErrNoCookie = errors.New("authjs: no session cookie")

// ErrInvalid means a session cookie is present but refused. Every refusal
// below matches it with errors.Is; the caller may log the error (it holds no
// cookie contents) and must not fall back to treating the request as signed in.
var ErrInvalid = errors.New("authjs: session cookie refused")

// refusal is one reason a present cookie is refused; it matches ErrInvalid.
type refusal struct{ reason string }

func (r *refusal) Error() string        { return "authjs: session cookie refused: " + r.reason }
func (r *refusal) Is(target error) bool { return target == ErrInvalid }

// Reasons a present cookie is refused. Each matches ErrInvalid.
var (
	// ErrTooLarge: the cookie (all chunks together) exceeds MaxCookieBytes,
	// or names a chunk beyond MaxChunks. Checked before any crypto.
	ErrTooLarge error = &refusal{"too large"}
	// ErrChunks: the chunks do not form one run .0, .1, … without a gap, or
	// the whole cookie and chunks of it are present side by side.
	ErrChunks error = &refusal{"chunks incomplete or ambiguous"}
	// ErrMalformed: not a compact JWE, or its header or payload do not parse.
	ErrMalformed error = &refusal{"malformed"}
	// ErrHeader: a JWE header other than Auth.js' own (alg dir, enc
	// A256CBC-HS512, optional kid): other algorithms, zip, crit, anything else.
	ErrHeader error = &refusal{"unsupported JWE header"}
	// ErrDecrypt: the key does not fit (another secret or cookie name, a kid
	// that is not the key's thumbprint) or the ciphertext, IV, tag or header
	// were altered.
	ErrDecrypt error = &refusal{"does not decrypt with this secret and cookie name"}
	// ErrExpired: `exp` is at or before now minus Leeway.
	ErrExpired error = &refusal{"expired"}
	// ErrNotYetValid: `nbf` is after now plus Leeway.
	ErrNotYetValid error = &refusal{"not yet valid"}
	// ErrClaims: a claim the session needs is missing or of the wrong type
	// (`exp`, `session_id`, `tenant`, `id`/`sub`, `user_type` internal|client).
	ErrClaims error = &refusal{"claims missing or invalid"}
)
