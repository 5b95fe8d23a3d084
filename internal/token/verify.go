package token

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalidToken wraps every reason an access token is refused. The
// wrapped detail is for logs; clients only learn "invalid_token".
var ErrInvalidToken = errors.New("invalid access token")

// Verifier checks access tokens against the keyring. It is safe for
// concurrent use.
type Verifier struct {
	keys   *Keyring
	parser *jwt.Parser
	now    func() time.Time
	cache  *VerifiedCache
}

// NewVerifier returns a Verifier accepting tokens with exactly "iss" =
// issuer and "aud" containing audience (DefaultAudience when empty). now
// defaults to time.Now. cache may be nil; when set, tokens already verified
// are answered from it until they expire. Revocation is the caller's check
// in either case, so a cache never keeps a revoked session alive. A cache
// must serve one Verifier only: it remembers that a token passed this
// Verifier's iss and aud checks, not another's.
func NewVerifier(k *Keyring, issuer, audience string, now func() time.Time, cache *VerifiedCache) (*Verifier, error) {
	if k == nil {
		return nil, errors.New("verifier: nil keyring")
	}
	if issuer == "" {
		return nil, errors.New("verifier: empty iss")
	}
	if audience == "" {
		audience = DefaultAudience
	}
	if now == nil {
		now = time.Now
	}
	return &Verifier{
		keys: k,
		now:  now,
		parser: jwt.NewParser(
			// The algorithm is ours to choose, never the token's: this
			// rejects none, HS256-with-the-public-key and every other swap
			// before a key is even looked up.
			jwt.WithValidMethods([]string{Algorithm}),
			jwt.WithIssuer(issuer),
			jwt.WithAudience(audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(Leeway),
			jwt.WithTimeFunc(now),
			jwt.WithStrictDecoding(),
		),
		cache: cache,
	}, nil
}

// Verify checks token's signature, header and claims and returns its
// claims. Every failure wraps ErrInvalidToken.
func (v *Verifier) Verify(token string) (AccessClaims, error) {
	if len(token) > MaxTokenLen {
		return AccessClaims{}, fmt.Errorf("%w: %d bytes", ErrInvalidToken, len(token))
	}
	if v.cache != nil {
		now := v.now()
		// A hit is only as good as its key: once the key has left the JWKS
		// (retired long enough, or removed from the store and dropped at the
		// next reload) a cached token must fail as a full check would, not
		// live on in this replica's memory.
		if c, ok := v.cache.Get(token, now); ok {
			if _, published := v.keys.publicKey(c.KeyID, now); published {
				return c, nil
			}
		}
	}
	var wire jwtClaims
	t, err := v.parser.ParseWithClaims(token, &wire, v.key)
	if err != nil {
		return AccessClaims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	// We never issue a token that lives longer than the access lifetime; one
	// that claims to was minted elsewhere (a stolen key, say) and must not be
	// allowed to outlast the key's publication or sit in the cache.
	if life := wire.ExpiresAt.Sub(wire.IssuedAt.Time); life > v.keys.AccessTTL()+Leeway {
		return AccessClaims{}, fmt.Errorf("%w: lifetime %s exceeds the access-token lifetime %s", ErrInvalidToken, life, v.keys.AccessTTL())
	}
	kid, _ := t.Header["kid"].(string)
	c := AccessClaims{
		KeyID:     kid,
		Subject:   wire.Subject,
		TenantID:  wire.TenantID,
		FamilyID:  wire.SessionID,
		Email:     wire.Email,
		ID:        wire.ID,
		IssuedAt:  wire.IssuedAt.Time,
		ExpiresAt: wire.ExpiresAt.Time,
	}
	if v.cache != nil {
		v.cache.Put(token, c, v.now())
	}
	return c, nil
}

// key is the jwt.Keyfunc: it runs after the algorithm check and before
// the signature check, and pins the header to our type and a published kid.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	typ, _ := t.Header["typ"].(string)
	if !validType(typ) {
		return nil, fmt.Errorf("typ %q, want %s", clip(typ), TypeHeader)
	}
	kid, _ := t.Header["kid"].(string)
	pub, ok := v.keys.publicKey(kid, v.now())
	if !ok {
		return nil, fmt.Errorf("kid %q is not published", clip(kid))
	}
	return pub, nil
}

// validType accepts "at+jwt" in any case, with or without the
// "application/" prefix (RFC 7515 §4.1.9 makes the prefix optional).
func validType(typ string) bool {
	return strings.EqualFold(typ, TypeHeader) || strings.EqualFold(typ, "application/"+TypeHeader)
}

// clip keeps attacker-chosen header values short in log lines.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
