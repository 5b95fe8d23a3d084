package token

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Access-token constants.
const (
	// TypeHeader is the JOSE "typ" of access tokens (RFC 9068 §2.1).
	TypeHeader = "at+jwt"
	// ClientID is the OAuth client the tokens are issued to (RFC 9068 §2.2).
	ClientID = "alga-mobile"
	// DefaultAudience is the "aud" used when none is configured.
	DefaultAudience = "alga-psa-mobile"
	// Leeway is the clock skew tolerated on exp and iat.
	Leeway = 5 * time.Second
	// MaxTokenLen bounds what the verifier will parse; ours are ~500 bytes.
	MaxTokenLen = 4096
)

// AccessClaims are the facts an access token carries.
type AccessClaims struct {
	Subject   string // user id ("sub")
	TenantID  string // "tenant_id"
	FamilyID  string // refresh-token family, i.e. the app session ("sid")
	Email     string // "email"
	ID        string // "jti"; Issue generates one when empty
	IssuedAt  time.Time
	ExpiresAt time.Time
	// KeyID is the kid of the key that signed the token; set by Verify
	// (so a cached verification can re-check that the key is still
	// published), ignored by Issue.
	KeyID string
}

// jwtClaims is the wire form of AccessClaims (RFC 9068 §2.2).
type jwtClaims struct {
	jwt.RegisteredClaims
	ClientID  string `json:"client_id"`
	TenantID  string `json:"tenant_id"`
	SessionID string `json:"sid"`
	Email     string `json:"email,omitempty"`
}

// Validate is called by the jwt parser after the standard checks: a token
// without these claims was not issued by us, whatever its signature.
func (c jwtClaims) Validate() error {
	switch {
	case c.Subject == "":
		return errors.New("missing sub")
	case c.TenantID == "":
		return errors.New("missing tenant_id")
	case c.SessionID == "":
		return errors.New("missing sid")
	case c.ID == "":
		return errors.New("missing jti")
	case c.IssuedAt == nil:
		return errors.New("missing iat")
	}
	return nil
}

// Issuer signs access tokens with the keyring's current key. It is safe
// for concurrent use.
type Issuer struct {
	keys     *Keyring
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
	rand     io.Reader
}

// NewIssuer returns an Issuer for tokens with "iss" = issuer (the
// NEXTAUTH_URL origin) and "aud" = audience (DefaultAudience when empty),
// valid for ttl (the keyring's AccessTTL when 0). now and rand default to
// time.Now and crypto/rand.Reader. ttl may not exceed the keyring's
// AccessTTL, or tokens would outlive the publication of their key.
func NewIssuer(k *Keyring, issuer, audience string, ttl time.Duration, now func() time.Time, random io.Reader) (*Issuer, error) {
	if k == nil {
		return nil, errors.New("issuer: nil keyring")
	}
	if issuer == "" {
		return nil, errors.New("issuer: empty iss")
	}
	if audience == "" {
		audience = DefaultAudience
	}
	if ttl == 0 {
		ttl = k.AccessTTL()
	}
	if ttl < time.Second || ttl > k.AccessTTL() {
		return nil, fmt.Errorf("issuer: access-token TTL %s outside [1s, %s]", ttl, k.AccessTTL())
	}
	if now == nil {
		now = time.Now
	}
	if random == nil {
		random = rand.Reader
	}
	return &Issuer{keys: k, issuer: issuer, audience: audience, ttl: ttl, now: now, rand: random}, nil
}

// Issue signs an access token for c. Subject, TenantID and FamilyID are
// required; ID, IssuedAt and ExpiresAt are filled in when zero (IssuedAt
// now, ExpiresAt IssuedAt + ttl). An ExpiresAt later than now + ttl is
// refused: the token would outlive its key's publication. It returns the
// token and its lifetime from now, for the response's expiresInSec.
func (i *Issuer) Issue(c AccessClaims) (string, time.Duration, error) {
	if c.Subject == "" || c.TenantID == "" || c.FamilyID == "" {
		return "", 0, errors.New("issue access token: subject, tenant and family are required")
	}
	now := i.now()
	if c.ID == "" {
		var b [16]byte
		if _, err := io.ReadFull(i.rand, b[:]); err != nil {
			return "", 0, fmt.Errorf("issue access token: jti: %w", err)
		}
		c.ID = base64.RawURLEncoding.EncodeToString(b[:])
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now
	}
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = c.IssuedAt.Add(i.ttl)
	}
	if !c.ExpiresAt.After(c.IssuedAt) || c.ExpiresAt.After(now.Add(i.ttl)) {
		return "", 0, errors.New("issue access token: expiry outside (iat, now + ttl]")
	}
	key, err := i.keys.signer(now)
	if err != nil {
		return "", 0, fmt.Errorf("issue access token: %w", err)
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   c.Subject,
			Audience:  jwt.ClaimStrings{i.audience},
			ExpiresAt: jwt.NewNumericDate(c.ExpiresAt),
			IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
			ID:        c.ID,
		},
		ClientID:  ClientID,
		TenantID:  c.TenantID,
		SessionID: c.FamilyID,
		Email:     c.Email,
	})
	t.Header["typ"] = TypeHeader
	t.Header["kid"] = key.kid
	s, err := t.SignedString(key.priv)
	if err != nil {
		return "", 0, fmt.Errorf("issue access token: sign: %w", err)
	}
	return s, c.ExpiresAt.Sub(now), nil
}
