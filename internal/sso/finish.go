package sso

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Identity is who the provider vouched for.
type Identity struct {
	Provider ID
	// Subject is the provider's stable user id (sub).
	Subject string
	// Email is the verified address, lower-cased; the directory key.
	Email string
	// Name is the display name, possibly empty.
	Name string
	// Issuer is the token's iss (for Microsoft multi-tenant it names the
	// user's tenant).
	Issuer string
}

// Finish completes a sign-in: it exchanges code (with f's PKCE verifier)
// for tokens, verifies the ID token with go-oidc (signature against the
// provider's keys, aud = client id, iss, exp), checks its nonce against
// f.Nonce in constant time, and returns the verified e-mail. The caller has
// already opened f from its cookie and checked the callback's state with
// [Flow.CheckState]. Every failure wraps one of the package's sentinels.
func (p *Provider) Finish(ctx context.Context, f Flow, code string) (Identity, error) {
	if f.Provider != p.id {
		return Identity{}, fmt.Errorf("%w: flow for %q came back to %q", ErrUnknownProvider, f.Provider, p.id)
	}
	if f.Nonce == "" || f.Verifier == "" {
		return Identity{}, fmt.Errorf("%w: flow lacks nonce or verifier", ErrFlowInvalid)
	}
	if code == "" {
		return Identity{}, fmt.Errorf("%w: callback carried no code", ErrExchange)
	}
	d, err := p.discovery(ctx)
	if err != nil {
		return Identity{}, err
	}
	tok, err := d.oauth.Exchange(oidc.ClientContext(ctx, p.httpClient), code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return Identity{}, exchangeError(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, ErrNoIDToken
	}
	return p.verify(ctx, d, raw, f.Nonce)
}

// exchangeError keeps only the provider's status and OAuth error code: the
// body of a token error may echo what we sent, client secret included.
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return fmt.Errorf("%w: provider answered %d %q", ErrExchange, status, re.ErrorCode)
	}
	return fmt.Errorf("%w: %w", ErrExchange, err)
}

// verify checks a raw ID token and extracts the identity.
func (p *Provider) verify(ctx context.Context, d *discovered, raw, nonce string) (Identity, error) {
	idt, err := d.verifier.Verify(ctx, raw)
	if err != nil {
		return Identity{}, p.classify(ctx, d, raw, err)
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		return Identity{}, fmt.Errorf("%w: claims: %w", ErrInvalidIDToken, err)
	}
	if p.multiTenant {
		if err := d.checkIssuer(idt.Issuer, c.TID); err != nil {
			return Identity{}, err
		}
	}
	// go-oidc leaves the nonce to the caller; an empty expected nonce never
	// matches, so a flow without one cannot accept a token without one.
	if nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return Identity{}, ErrNonceMismatch
	}
	email, err := p.email(c, p.trustsTenant(d, c.TID))
	if err != nil {
		return Identity{}, err
	}
	if !looksLikeEmail(email) {
		return Identity{}, fmt.Errorf("%w: claim is not an e-mail address", ErrNoEmail)
	}
	return Identity{
		Provider: p.id,
		Subject:  idt.Subject,
		Email:    strings.ToLower(email),
		Name:     c.displayName(),
		Issuer:   idt.Issuer,
	}, nil
}

// classify turns a go-oidc refusal into a sentinel. go-oidc types only the
// expiry error, so for the rest we re-verify the signature alone: if even
// that fails the token is not the provider's; otherwise the claims say
// whether iss or aud was wrong. The second pass never admits a token.
func (p *Provider) classify(ctx context.Context, d *discovered, raw string, cause error) error {
	if e, ok := errorsAsExpired(cause); ok {
		return fmt.Errorf("%w: at %s", ErrTokenExpired, e.Expiry.UTC().Format(time.RFC3339))
	}
	t, err := d.sigOnly.Verify(ctx, raw)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, cause)
	}
	googleShort := p.issuer == "https://accounts.google.com" && t.Issuer == "accounts.google.com"
	if !p.multiTenant && t.Issuer != p.issuer && !googleShort {
		return fmt.Errorf("%w: got %q, want %q", ErrIssuerMismatch, t.Issuer, p.issuer)
	}
	if !slices.Contains(t.Audience, p.clientID) {
		return fmt.Errorf("%w: got %q", ErrAudienceMismatch, t.Audience)
	}
	return fmt.Errorf("%w: %w", ErrInvalidIDToken, cause)
}

// email applies the provider's rule for a verified address.
// trusted says whether a Microsoft token's tenant is trusted for its
// e-mail (see microsoftEmail); other providers ignore it.
func (p *Provider) email(c idClaims, trusted bool) (string, error) {
	if p.id == Microsoft {
		return microsoftEmail(c, trusted)
	}
	// Google (and the dev provider, which stands in for it in tests): the
	// email claim counts only with email_verified true.
	if c.Email == "" {
		return "", ErrNoEmail
	}
	if c.EmailVerified == nil || !bool(*c.EmailVerified) {
		return "", ErrEmailNotVerified
	}
	return c.Email, nil
}

// idClaims are the ID-token claims this package reads.
type idClaims struct {
	Email             string    `json:"email"`
	EmailVerified     *flexBool `json:"email_verified"`
	PreferredUsername string    `json:"preferred_username"`
	Name              string    `json:"name"`
	GivenName         string    `json:"given_name"`
	FamilyName        string    `json:"family_name"`
	TID               string    `json:"tid"`
	XmsEdov           *flexBool `json:"xms_edov"`
}

func (c idClaims) displayName() string {
	if n := strings.TrimSpace(c.Name); n != "" {
		return n
	}
	return strings.TrimSpace(c.GivenName + " " + c.FamilyName)
}

// flexBool reads a boolean claim that providers send as true/false, as the
// strings "true"/"false" (Google did, historically), or as 1/0 (seen for
// Entra optional claims). Anything else is an error, so a garbled claim
// refuses the token rather than passing as true.
type flexBool bool

// UnmarshalJSON implements json.Unmarshaler.
func (b *flexBool) UnmarshalJSON(data []byte) error {
	switch strings.ToLower(string(data)) {
	case "true", `"true"`, "1", `"1"`:
		*b = true
	case "false", `"false"`, "0", `"0"`:
		*b = false
	default:
		return fmt.Errorf("boolean claim: unexpected value %.20s", data)
	}
	return nil
}

var _ json.Unmarshaler = (*flexBool)(nil)

// looksLikeEmail accepts a bare addr-spec with a dotted domain: what a
// directory lookup can match. Display names, comments and IP literals are
// refused.
func looksLikeEmail(s string) bool {
	if s == "" || len(s) > 254 || strings.Count(s, "@") != 1 || strings.ContainsAny(s, " \t\r\n<>()[],;:\\\"") {
		return false
	}
	at := strings.IndexByte(s, '@')
	domain := s[at+1:]
	if at == 0 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}
