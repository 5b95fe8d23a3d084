package sso

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/nineminds/alga-mobile-auth/internal/allowlist"
)

// tenantPlaceholder is how Entra's multi-tenant discovery document writes
// the tenant in its issuer: "https://login.microsoftonline.com/{tenantid}/v2.0".
const tenantPlaceholder = "{tenantid}"

// guidPattern is the shape of an Entra tenant id (tid). It is strict on
// purpose: tid is spliced into the expected issuer, so it must not be able
// to carry "/", "@" or anything else that could make a foreign issuer match.
var guidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// setMultiTenantIssuer records what the issuer of a multi-tenant Microsoft
// token must be. common and organizations publish the template with
// {tenantid}; consumers publishes the fixed personal-account tenant. The
// discovered issuer must live on the origin we asked, so a discovery
// document cannot nominate some other host's tokens.
func (d *discovered) setMultiTenantIssuer(op *oidc.Provider, configured string) error {
	var meta struct {
		Issuer string `json:"issuer"`
	}
	if err := op.Claims(&meta); err != nil {
		return fmt.Errorf("%w: %s: reading issuer: %w", ErrDiscovery, configured, err)
	}
	if meta.Issuer == "" || !allowlist.SameOriginURLs(meta.Issuer, configured) {
		return fmt.Errorf("%w: %s: discovery names issuer %q on another origin", ErrDiscovery, configured, meta.Issuer)
	}
	if strings.Contains(meta.Issuer, tenantPlaceholder) {
		d.issuerTemplate = meta.Issuer
	} else {
		d.fixedIssuer = meta.Issuer
	}
	return nil
}

// checkIssuer is the issuer check for multi-tenant Microsoft tokens, which
// go-oidc was told to skip: iss must equal the template with {tenantid}
// replaced by the token's own tid (a GUID), or the fixed discovered issuer.
// Signature, audience and expiry were already verified by go-oidc.
func (d *discovered) checkIssuer(iss, tid string) error {
	if d.issuerTemplate == "" {
		if iss != d.fixedIssuer {
			return fmt.Errorf("%w: got %q, want %q", ErrIssuerMismatch, iss, d.fixedIssuer)
		}
		return nil
	}
	if !guidPattern.MatchString(tid) {
		return fmt.Errorf("%w: tid %q is not a tenant GUID", ErrIssuerMismatch, tid)
	}
	want := strings.ReplaceAll(d.issuerTemplate, tenantPlaceholder, tid)
	if iss != want {
		return fmt.Errorf("%w: got %q, want %q for tid %s", ErrIssuerMismatch, iss, want, tid)
	}
	return nil
}

// microsoftEmail picks the e-mail of an Entra ID token.
//
// Entra ID tokens carry no email_verified claim. We take the `email` claim
// when present, else `preferred_username` when it looks like an e-mail
// address (for work accounts it is the UPN, whose domain the tenant has
// verified; for personal accounts it is the sign-in address).
//
// Risk: in a tenant, an administrator can set a user's `email` (mail)
// attribute to an address in a domain that tenant does not own; with a
// multi-tenant app (tenant common/organizations) any tenant's
// administrator could then sign in as that address ("nOAuth"). Mitigations,
// in order of strength: set MICROSOFT_OAUTH_TENANT_ID to your own tenant's
// GUID; add the `xms_edov` optional claim (email domain owner verified) to
// the app registration — when the token carries it and it is false we
// refuse, when it is true the e-mail's domain is verified; and keep the
// directory the final say (an e-mail that maps to no active user of this
// appliance is refused anyway). An explicit email_verified=false, should
// Microsoft ever send one, is also refused.
func microsoftEmail(c idClaims) (string, error) {
	if c.EmailVerified != nil && !bool(*c.EmailVerified) {
		return "", ErrEmailNotVerified
	}
	if c.Email != "" {
		if c.XmsEdov != nil && !bool(*c.XmsEdov) {
			return "", fmt.Errorf("%w: xms_edov is false", ErrEmailNotVerified)
		}
		return c.Email, nil
	}
	if looksLikeEmail(c.PreferredUsername) {
		return c.PreferredUsername, nil
	}
	return "", ErrNoEmail
}
