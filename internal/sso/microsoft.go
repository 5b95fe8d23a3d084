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

// tenantSet normalises ALGA_MOBILE_MICROSOFT_TENANTS: lower-case GUIDs.
// Anything that is not a GUID can never equal a token's tid (which
// checkIssuer requires to be one), so it is dropped; config reports it.
func tenantSet(ids []string) map[string]bool {
	out := map[string]bool{}
	for _, id := range ids {
		if id = strings.ToLower(strings.TrimSpace(id)); guidPattern.MatchString(id) {
			out[id] = true
		}
	}
	return out
}

// trustsTenant reports whether a multi-tenant Microsoft token's e-mail
// may be taken without xms_edov: its tid is one the operator listed, or
// the authority is "consumers", whose one fixed tenant (personal
// accounts) has no administrator who could set a user's mail.
func (p *Provider) trustsTenant(d *discovered, tid string) bool {
	if !p.multiTenant {
		return true
	}
	return d.fixedIssuer != "" || p.trustedTenants[strings.ToLower(tid)]
}

// microsoftEmail picks the e-mail of an Entra ID token.
//
// Entra ID tokens carry no email_verified claim. From a trusted tenant (a
// single-tenant authority, or a tid listed in ALGA_MOBILE_MICROSOFT_TENANTS)
// we take the `email` claim when present, else `preferred_username` when
// it looks like an e-mail address (for work accounts it is the UPN, whose
// domain the tenant has verified; for personal accounts it is the sign-in
// address). An xms_edov (email domain owner verified) claim that is false
// refuses the token.
//
// From any other tenant of a multi-tenant authority (common,
// organizations) the e-mail counts only when the token carries
// xms_edov true. Without that, the administrator of any Entra directory
// could set a user's mail attribute to ceo@victim.example and sign in as
// that address here ("nOAuth"), so the token is refused with
// ErrUntrustedTenant. An explicit email_verified=false, should Microsoft
// ever send one, is also refused.
func microsoftEmail(c idClaims, trusted bool) (string, error) {
	if c.EmailVerified != nil && !bool(*c.EmailVerified) {
		return "", ErrEmailNotVerified
	}
	if !trusted {
		if c.Email == "" || c.XmsEdov == nil || !bool(*c.XmsEdov) {
			return "", fmt.Errorf("%w: tenant %s is not in ALGA_MOBILE_MICROSOFT_TENANTS and the token has no xms_edov true", ErrUntrustedTenant, c.TID)
		}
		return c.Email, nil
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
