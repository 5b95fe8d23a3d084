package sso

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ID names a provider. It doubles as the last segment of the provider's
// OAuth callback path, /api/auth/callback/<ID>, which is why Microsoft is
// "azure-ad": that is the path AlgaPSA's web app registers, so operators'
// existing client registrations keep working (SPEC §3.2).
type ID string

// The providers this service knows.
const (
	Google    ID = "google"
	Microsoft ID = "azure-ad"
	Dev       ID = "dev"
)

// CallbackPathPrefix is where the provider callbacks live under the public
// origin; the provider's ID follows it.
const CallbackPathPrefix = "/api/auth/callback/"

// DefaultMicrosoftTenant is used when MICROSOFT_OAUTH_TENANT_ID is empty.
const DefaultMicrosoftTenant = "common"

// DefaultDiscoveryTimeout bounds one discovery attempt when Settings leaves
// it zero.
const DefaultDiscoveryTimeout = 10 * time.Second

// DefaultDiscoveryRetryDelay is how long a failed discovery is remembered
// before the next sign-in tries again, when Settings leaves it zero.
const DefaultDiscoveryRetryDelay = 5 * time.Second

// DefaultFlowTTL is a sensible lifetime for a sign-in flow (and its
// cookie): long enough to pick an account and type a password and a second
// factor, short enough that a stolen cookie soon goes stale.
const DefaultFlowTTL = 10 * time.Minute

// ClientSettings is one provider's OAuth client, already resolved from the
// environment (secret files included) by the config package.
type ClientSettings struct {
	ClientID     string
	ClientSecret string
	// Issuer overrides the provider's default issuer (GOOGLE_OAUTH_ISSUER,
	// MICROSOFT_OAUTH_AUTHORITY); empty means the default of SPEC §2.
	Issuer string
}

// configured reports SPEC §3.1's rule: both the id and the secret resolve
// to something other than blanks.
func (c ClientSettings) configured() bool {
	return strings.TrimSpace(c.ClientID) != "" && strings.TrimSpace(c.ClientSecret) != ""
}

// Settings is everything the package needs to build the providers.
type Settings struct {
	// PublicOrigin is NEXTAUTH_URL's origin, e.g. "https://psa.example.com";
	// callbacks are PublicOrigin + CallbackPathPrefix + ID.
	PublicOrigin string
	Google       ClientSettings
	Microsoft    ClientSettings
	// MicrosoftTenant is MICROSOFT_OAUTH_TENANT_ID; empty means "common".
	MicrosoftTenant string
	// MicrosoftTenants is ALGA_MOBILE_MICROSOFT_TENANTS: the Entra tenant
	// ids (GUIDs) whose tokens a multi-tenant authority (common,
	// organizations) trusts for their e-mail. A token from any other tenant
	// must carry xms_edov true (see microsoft.go).
	MicrosoftTenants []string
	// Dev is the development identity provider's client; nil when it is off.
	// Its Issuer must be set (the dev provider has no default).
	Dev *ClientSettings
	// HTTPClient talks to the providers; nil means a client with a 10 s
	// timeout (never http.DefaultClient, which has none).
	HTTPClient *http.Client
	// DiscoveryTimeout bounds one discovery attempt; zero means 10 s.
	DiscoveryTimeout time.Duration
	// DiscoveryRetryDelay is how long a failed discovery answers from
	// memory before it is retried; zero means 5 s.
	DiscoveryRetryDelay time.Duration
	// Now is the clock for ID-token expiry checks and the retry delay; nil
	// means time.Now.
	Now func() time.Time
}

// Configured reports the providers map of the capabilities response
// (SPEC §3.1): a provider is true iff its client id and secret are both
// non-blank. The keys are exactly the contract's field names.
func Configured(s Settings) map[string]bool {
	return map[string]bool{
		"google":    s.Google.configured(),
		"microsoft": s.Microsoft.configured(),
	}
}

// DefaultIssuer returns the issuer SPEC §2 prescribes when no override is
// set: Google "https://accounts.google.com"; Microsoft
// "https://login.microsoftonline.com/<tenant>/v2.0" with tenant defaulting
// to "common". The dev provider has no default ("").
func DefaultIssuer(id ID, microsoftTenant string) string {
	switch id {
	case Google:
		return "https://accounts.google.com"
	case Microsoft:
		return "https://login.microsoftonline.com/" + url.PathEscape(microsoftTenantOrDefault(microsoftTenant)) + "/v2.0"
	}
	return ""
}

func microsoftTenantOrDefault(t string) string {
	if t = strings.TrimSpace(t); t != "" {
		return t
	}
	return DefaultMicrosoftTenant
}

// isMultiTenant reports the Entra authorities whose tokens carry a
// per-tenant issuer: the discovery document's issuer is the template
// ".../{tenantid}/v2.0" (or, for consumers, the personal-account tenant).
func isMultiTenant(tenant string) bool {
	switch strings.ToLower(microsoftTenantOrDefault(tenant)) {
	case "common", "organizations", "consumers":
		return true
	}
	return false
}

// issuerFor resolves the issuer of a provider: the override when set, else
// the default. A trailing slash is kept as given, because issuers compare
// as exact strings.
func issuerFor(id ID, c ClientSettings, microsoftTenant string) string {
	if iss := strings.TrimSpace(c.Issuer); iss != "" {
		return iss
	}
	return DefaultIssuer(id, microsoftTenant)
}
