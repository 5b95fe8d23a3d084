package devidp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
)

// user is whoever typed their e-mail into the login form. It implements
// mockoidc.User so mockoidc signs its claims.
type user struct {
	email    string
	verified bool
}

var _ mockoidc.User = user{}

// ID is a stable subject derived from the e-mail, as a real provider keeps
// sub stable across sign-ins.
func (u user) ID() string {
	sum := sha256.Sum256([]byte(strings.ToLower(u.email)))
	return "dev-" + hex.EncodeToString(sum[:12])
}

// name is a readable display name: the e-mail's local part.
func (u user) name() string {
	local, _, _ := strings.Cut(u.email, "@")
	return local
}

type userClaims struct {
	*mockoidc.IDTokenClaims
	Email string `json:"email,omitempty"`
	// EmailVerified is a pointer so that, with scope email, false is sent
	// explicitly (as Google does) rather than omitted.
	EmailVerified *bool  `json:"email_verified,omitempty"`
	Name          string `json:"name,omitempty"`
}

func (u user) claims(scopes []string) userClaims {
	var c userClaims
	if slices.Contains(scopes, "email") {
		v := u.verified
		c.Email, c.EmailVerified = u.email, &v
	}
	if slices.Contains(scopes, "profile") {
		c.Name = u.name()
	}
	return c
}

// Claims builds the ID-token claims on mockoidc's registered ones (iss,
// aud, exp, nonce…).
func (u user) Claims(scopes []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	c := u.claims(scopes)
	c.IDTokenClaims = base
	return &c, nil
}

// Userinfo answers the userinfo endpoint.
func (u user) Userinfo(scopes []string) ([]byte, error) {
	c := u.claims(scopes)
	return json.Marshal(struct {
		Sub string `json:"sub"`
		userClaims
	}{u.ID(), c})
}
