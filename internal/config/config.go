// Package config turns the environment (and secret files) into a Config,
// collecting every problem before reporting, each naming its variable.
// Variables follow SPEC §2; service-specific ones carry the ALGA_MOBILE_
// prefix and are documented in the README.
package config

import (
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/nineminds/alga-mobile-auth/internal/allowlist"
)

// Defaults (SPEC §2 and README).
const (
	DefaultOTTTTL          = 60 * time.Second
	DefaultAccessTTL       = 900 * time.Second
	DefaultRefreshTTL      = 2592000 * time.Second
	DefaultRefreshGrace    = 10 * time.Second
	DefaultSessionTTL      = 12 * time.Hour
	DefaultFamilyMaxAge    = 180 * 24 * time.Hour
	DefaultAuditRetention  = 90 * 24 * time.Hour
	DefaultPurgeInterval   = 10 * time.Minute
	DefaultDrain           = 5 * time.Second
	DefaultShutdownTimeout = 20 * time.Second
	DefaultDatabaseURL     = "sqlite:./data/mobile-auth.db"
	DefaultListenAddr      = ":8080"
	DefaultDevIDPAddr      = "127.0.0.1:8081"
	DefaultAudience        = "alga-psa-mobile"
	DefaultMicrosoftTenant = "common"
)

// env is what envconfig fills: the non-secret variables. Secrets are
// resolved separately (files first), see secret.go.
type env struct {
	NextAuthURL       Text    `envconfig:"NEXTAUTH_URL"`
	Edition           Text    `envconfig:"EDITION"`
	NextPublicEdition Text    `envconfig:"NEXT_PUBLIC_EDITION"`
	LicenseKeys       Text    `envconfig:"ALGA_LICENSE_PUBLIC_KEYS"`
	TrialStartedAt    Text    `envconfig:"ALGA_TRIAL_STARTED_AT"`
	MicrosoftTenant   Text    `envconfig:"MICROSOFT_OAUTH_TENANT_ID"`
	MicrosoftTenants  Text    `envconfig:"ALGA_MOBILE_MICROSOFT_TENANTS"`
	MicrosoftIssuer   Text    `envconfig:"MICROSOFT_OAUTH_AUTHORITY"`
	GoogleIssuer      Text    `envconfig:"GOOGLE_OAUTH_ISSUER"`
	HostAllowlist     Text    `envconfig:"ALGA_MOBILE_HOST_ALLOWLIST"`
	OTTTTL            Seconds `envconfig:"ALGA_MOBILE_OTT_TTL_SEC"`
	AccessTTL         Seconds `envconfig:"ALGA_MOBILE_ACCESS_TTL_SEC"`
	RefreshTTL        Seconds `envconfig:"ALGA_MOBILE_REFRESH_TTL_SEC"`
	RefreshGrace      Seconds `envconfig:"ALGA_MOBILE_REFRESH_GRACE_SEC"`
	SessionTTL        Seconds `envconfig:"ALGA_MOBILE_SESSION_TTL_SEC"`
	FamilyMaxAge      Seconds `envconfig:"ALGA_MOBILE_FAMILY_MAX_AGE_SEC"`
	AuditRetention    Seconds `envconfig:"ALGA_MOBILE_AUDIT_RETENTION_SEC"`
	PurgeInterval     Seconds `envconfig:"ALGA_MOBILE_PURGE_INTERVAL_SEC"`
	ListenAddr        Text    `envconfig:"ALGA_MOBILE_LISTEN_ADDR"`
	MetricsAddr       Text    `envconfig:"ALGA_MOBILE_METRICS_ADDR"`
	TrustedProxies    Text    `envconfig:"ALGA_MOBILE_TRUSTED_PROXIES"`
	DevIDP            Bool    `envconfig:"ALGA_MOBILE_DEV_IDP"`
	DevIDPAddr        Text    `envconfig:"ALGA_MOBILE_DEV_IDP_ADDR"`
	LogFormat         Text    `envconfig:"ALGA_MOBILE_LOG_FORMAT"`
	LogLevel          Text    `envconfig:"ALGA_MOBILE_LOG_LEVEL"`
	Drain             Seconds `envconfig:"ALGA_MOBILE_SHUTDOWN_DRAIN_SEC"`
	ShutdownTimeout   Seconds `envconfig:"ALGA_MOBILE_SHUTDOWN_TIMEOUT_SEC"`
	Audience          Text    `envconfig:"ALGA_MOBILE_ACCESS_AUDIENCE"`
}

// OAuthClient is one SSO provider's resolved settings.
type OAuthClient struct {
	ClientID     Secret
	ClientSecret Secret
	Issuer       string // "" = the provider's default
}

// Configured is SPEC §3.1's rule: both id and secret resolve.
func (c OAuthClient) Configured() bool { return c.ClientID.Set() && c.ClientSecret.Set() }

// Config is the whole configuration. Build it with Load.
type Config struct {
	// PublicURL is NEXTAUTH_URL; nil when unset (serve refuses to start).
	PublicURL *url.URL

	Edition           string
	NextPublicEdition string
	License           Secret
	LicenseSource     SecretSource
	LicensePublicKeys string
	TrialStartedAt    *time.Time

	Google          OAuthClient
	Microsoft       OAuthClient
	MicrosoftTenant string
	// MicrosoftTenants is ALGA_MOBILE_MICROSOFT_TENANTS: lower-case Entra
	// tenant ids whose e-mail claims a common/organizations authority takes
	// as is; other tenants' e-mails need xms_edov true (nOAuth).
	MicrosoftTenants []string

	HostAllowlist []string

	OTTTTL, AccessTTL, RefreshTTL time.Duration
	RefreshGrace, SessionTTL      time.Duration
	// FamilyMaxAge is ALGA_MOBILE_FAMILY_MAX_AGE_SEC: a refresh-token
	// family's absolute lifetime.
	FamilyMaxAge time.Duration
	// AuditRetention is ALGA_MOBILE_AUDIT_RETENTION_SEC: audit events older
	// than this are deleted by the purge. PurgeInterval is
	// ALGA_MOBILE_PURGE_INTERVAL_SEC: how often the purge runs.
	AuditRetention, PurgeInterval time.Duration
	Drain, ShutdownTimeout        time.Duration

	DatabaseURL Secret
	RedisURL    Secret
	// SecretKey is ALGA_MOBILE_SECRET_KEY: when set, signing keys are
	// encrypted at rest and server secrets are derived from it rather than
	// kept in the database. Every replica needs the same value.
	SecretKey      Secret
	ListenAddr     string
	MetricsAddr    string
	TrustedProxies []netip.Prefix

	DevIDP     bool
	DevIDPAddr string

	LogFormat string // json | text
	LogLevel  string // debug | info | warn | error
	Audience  string

	// Appliance is appliance mode (SPEC §8), on when AlgaPSA's database is
	// configured; see appliance.go.
	Appliance Appliance
}

// MasterKey is the configured secret key as bytes, nil when unset.
func (c *Config) MasterKey() []byte {
	if !c.SecretKey.Set() {
		return nil
	}
	return []byte(c.SecretKey.Value())
}

// MicrosoftMultiTenant reports whether the Microsoft authority accepts
// tokens of many Entra tenants (common or organizations), so that their
// e-mails need ALGA_MOBILE_MICROSOFT_TENANTS or xms_edov to count.
func (c *Config) MicrosoftMultiTenant() bool {
	t := strings.ToLower(c.MicrosoftTenant)
	return t == "" || t == "common" || t == "organizations"
}

// Origin is NEXTAUTH_URL's origin ("https://psa.example.com"), "" if unset.
func (c *Config) Origin() string {
	if c.PublicURL == nil {
		return ""
	}
	return c.PublicURL.Scheme + "://" + c.PublicURL.Host
}

// OwnHost is NEXTAUTH_URL's host name without port.
func (c *Config) OwnHost() string {
	if c.PublicURL == nil {
		return ""
	}
	return allowlist.HostName(c.PublicURL.Host)
}

// SelfHostLicensing reports whether a license or trial is configured (SPEC §5).
func (c *Config) SelfHostLicensing() bool {
	return c.License.Set() || c.TrialStartedAt != nil
}

// Problem is one configuration error, naming its variable. Fix, when set,
// says how to correct it where the variable alone does not tell (a secret
// file the service may not read, a value in another program's format);
// check prints it as the problem's fix line.
type Problem struct {
	Var     string
	Message string
	Fix     string
}

func (p Problem) String() string { return p.Var + ": " + p.Message }

// Problems is every configuration error found; it is an error when non-empty.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return "configuration is invalid:\n  " + strings.Join(lines, "\n  ")
}

// Load reads the process environment. It returns a usable Config even
// when it also returns Problems, so `check` can report everything; callers
// that run the service must stop on error. A missing NEXTAUTH_URL is not a
// problem here (admin subcommands do not need it); RequirePublicURL
// enforces it.
func Load() (*Config, error) {
	return loadWith(newSecretResolver(os.LookupEnv))
}

// loadWith is Load with the secret resolver given (tests replace its file
// access).
func loadWith(secrets secretResolver) (*Config, error) {
	var e env
	err := envconfig.Process("", &e)
	var ps Problems
	if err != nil {
		// Our decoders never fail, so this is unexpected; report without values.
		ps = append(ps, Problem{Var: "environment", Message: "could not be read"})
	}
	c := &Config{}
	b := builder{c: c, ps: &ps, secrets: secrets}
	b.publicURL(string(e.NextAuthURL))
	b.licensing(e)
	b.providers(e)
	b.durations(e)
	b.network(e)
	b.logging(e)
	b.devIDP(e)
	b.appliance()
	if len(ps) > 0 {
		return c, ps
	}
	return c, nil
}

// RequirePublicURL is the serve-time rule: NEXTAUTH_URL must be set.
func (c *Config) RequirePublicURL() error {
	if c.PublicURL == nil {
		return Problems{{Var: "NEXTAUTH_URL", Message: "is not set; set it to the appliance's public URL, e.g. https://psa.example.com"}}
	}
	return nil
}
