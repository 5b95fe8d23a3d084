package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/allowlist"
	"github.com/nineminds/alga-mobile-auth/internal/clientip"
)

// builder fills a Config from the decoded env, appending every problem.
type builder struct {
	c       *Config
	ps      *Problems
	secrets secretResolver
}

func (b builder) problem(v, format string, args ...any) {
	*b.ps = append(*b.ps, Problem{Var: v, Message: fmt.Sprintf(format, args...)})
}

// problemFix records a problem that carries its own fix line.
func (b builder) problemFix(v, fix, format string, args ...any) {
	*b.ps = append(*b.ps, Problem{Var: v, Message: fmt.Sprintf(format, args...), Fix: fix})
}

func (b builder) secret(name string) (Secret, SecretSource) {
	s, src, _ := b.secretOrUnreadable(name)
	return s, src
}

// secretOrUnreadable is secret, also reporting whether the secret is there
// but could not be read (a problem is recorded then): the variable is
// configured, so nothing may treat it as unset.
func (b builder) secretOrUnreadable(name string) (Secret, SecretSource, bool) {
	s, src, err := b.secrets.resolve(name)
	if err == nil {
		return s, src, false
	}
	var fe *secretFileError
	if errors.As(err, &fe) {
		b.problemFix(name, fe.fix, "%v", err)
	} else {
		b.problem(name, "%v", err)
	}
	return s, src, true
}

// publicURL applies the serve rule for NEXTAUTH_URL: absolute http(s),
// no path other than "/", no query, fragment or user info.
func (b builder) publicURL(raw string) {
	if raw == "" {
		return
	}
	u, err := ParsePublicURL(raw)
	if err != nil {
		b.problem("NEXTAUTH_URL", "%v", err)
		return
	}
	b.c.PublicURL = u
}

// ParsePublicURL validates a NEXTAUTH_URL value.
func ParsePublicURL(raw string) (*url.URL, error) {
	const example = "e.g. https://psa.example.com"
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("must be an absolute URL, %s", example)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("must start with https:// (or http:// for local testing), %s", example)
	}
	if u.User != nil {
		return nil, fmt.Errorf("must not contain a user name or password")
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("must be the origin only, without a path (%q); the service lives at the root of the appliance's public URL", u.Path)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, fmt.Errorf("must not have a query or fragment, %s", example)
	}
	if h := u.Hostname(); h == "" || strings.ContainsAny(h, " %") {
		return nil, fmt.Errorf("has no valid host name, %s", example)
	}
	host := strings.ToLower(u.Host)
	// An explicit default port is the same origin as none; browsers and the
	// app drop it, so keeping it would break same-origin checks and iss.
	if p := u.Port(); (u.Scheme == "https" && p == "443") || (u.Scheme == "http" && p == "80") {
		host = strings.TrimSuffix(host, ":"+p)
	}
	return &url.URL{Scheme: u.Scheme, Host: host}, nil
}

func (b builder) licensing(e env) {
	b.c.Edition = string(e.Edition)
	b.c.NextPublicEdition = string(e.NextPublicEdition)
	b.c.License, b.c.LicenseSource = b.secret("ALGA_LICENSE")
	b.c.LicensePublicKeys = string(e.LicenseKeys)
	if v := string(e.TrialStartedAt); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		switch {
		case err == nil:
			b.c.TrialStartedAt = &t
		case postgresTime.MatchString(v):
			// What psql prints for SELECT trial_started_at FROM
			// license_state: the contract keeps RFC 3339, so say how to
			// get it from the same table.
			b.problemFix("ALGA_TRIAL_STARTED_AT", "set ALGA_TRIAL_STARTED_AT to what that query prints, e.g. 2026-11-01T09:00:00Z",
				"must be an RFC 3339 time such as 2026-11-01T09:00:00Z; %q is PostgreSQL's own text format, as psql prints it; "+
					"this query prints it as RFC 3339: %s", clip(v), TrialStartedAtQuery)
		default:
			b.problem("ALGA_TRIAL_STARTED_AT", "must be an RFC 3339 time such as 2026-11-01T09:00:00Z, got %q", clip(v))
		}
	}
}

// TrialStartedAtQuery prints an appliance's trial start (AlgaPSA's
// license_state table) as ALGA_TRIAL_STARTED_AT wants it, RFC 3339 in UTC.
const TrialStartedAtQuery = `SELECT to_char(trial_started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') FROM license_state`

// postgresTime matches PostgreSQL's text output of a timestamptz
// ("2026-12-01 12:34:56.789012+00"), and of a timestamp without a zone.
var postgresTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:\d{2}){0,2})?$`)

func (b builder) providers(e env) {
	b.c.Google.ClientID, _ = b.secret("GOOGLE_OAUTH_CLIENT_ID")
	b.c.Google.ClientSecret, _ = b.secret("GOOGLE_OAUTH_CLIENT_SECRET")
	b.c.Microsoft.ClientID, _ = b.secret("MICROSOFT_OAUTH_CLIENT_ID")
	b.c.Microsoft.ClientSecret, _ = b.secret("MICROSOFT_OAUTH_CLIENT_SECRET")
	b.c.MicrosoftTenant = string(e.MicrosoftTenant)
	if b.c.MicrosoftTenant == "" {
		b.c.MicrosoftTenant = DefaultMicrosoftTenant
	} else if strings.ContainsAny(b.c.MicrosoftTenant, "/?#: ") {
		b.problem("MICROSOFT_OAUTH_TENANT_ID", "must be a tenant id (GUID), a verified domain, or common / organizations")
	}
	b.c.MicrosoftTenants = b.tenantIDs("ALGA_MOBILE_MICROSOFT_TENANTS", string(e.MicrosoftTenants))
	b.c.Google.Issuer = b.issuer("GOOGLE_OAUTH_ISSUER", string(e.GoogleIssuer))
	b.c.Microsoft.Issuer = b.issuer("MICROSOFT_OAUTH_AUTHORITY", string(e.MicrosoftIssuer))
}

// tenantGUID is the shape of an Entra tenant id.
var tenantGUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// tenantIDs parses a comma-separated list of Entra tenant GUIDs,
// lower-cased; blanks between commas are ignored.
func (b builder) tenantIDs(name, raw string) []string {
	var out []string
	for _, f := range strings.Split(raw, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		if !tenantGUID.MatchString(f) {
			b.problem(name, "must be comma-separated Entra tenant ids (GUIDs such as 72f988bf-86f1-41af-91ab-2d7cd011db47), got %q", clip(f))
			continue
		}
		out = append(out, f)
	}
	return out
}

func (b builder) issuer(name, raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		b.problem(name, "must be an issuer URL such as https://login.microsoftonline.com/<tenant>/v2.0 (discovery is read at <issuer>/.well-known/openid-configuration)")
		return ""
	}
	return strings.TrimSuffix(raw, "/")
}

func (b builder) durations(e env) {
	pick := func(name string, s Seconds, def time.Duration) time.Duration {
		if s.err != nil {
			b.problem(name, "%v", s.err)
			return def
		}
		if s.set {
			return s.D
		}
		return def
	}
	c := b.c
	c.OTTTTL = pick("ALGA_MOBILE_OTT_TTL_SEC", e.OTTTTL, DefaultOTTTTL)
	c.AccessTTL = pick("ALGA_MOBILE_ACCESS_TTL_SEC", e.AccessTTL, DefaultAccessTTL)
	c.RefreshTTL = pick("ALGA_MOBILE_REFRESH_TTL_SEC", e.RefreshTTL, DefaultRefreshTTL)
	c.RefreshGrace = pick("ALGA_MOBILE_REFRESH_GRACE_SEC", e.RefreshGrace, DefaultRefreshGrace)
	c.SessionTTL = pick("ALGA_MOBILE_SESSION_TTL_SEC", e.SessionTTL, DefaultSessionTTL)
	c.FamilyMaxAge = pick("ALGA_MOBILE_FAMILY_MAX_AGE_SEC", e.FamilyMaxAge, DefaultFamilyMaxAge)
	c.AuditRetention = pick("ALGA_MOBILE_AUDIT_RETENTION_SEC", e.AuditRetention, DefaultAuditRetention)
	c.PurgeInterval = pick("ALGA_MOBILE_PURGE_INTERVAL_SEC", e.PurgeInterval, DefaultPurgeInterval)
	c.Drain = pick("ALGA_MOBILE_SHUTDOWN_DRAIN_SEC", e.Drain, DefaultDrain)
	c.ShutdownTimeout = pick("ALGA_MOBILE_SHUTDOWN_TIMEOUT_SEC", e.ShutdownTimeout, DefaultShutdownTimeout)
	if e.RefreshTTL.err == nil && e.AccessTTL.err == nil && c.RefreshTTL <= c.AccessTTL {
		b.problem("ALGA_MOBILE_REFRESH_TTL_SEC", "must be longer than ALGA_MOBILE_ACCESS_TTL_SEC (%d s), or the app is signed out whenever its access token expires", int(c.AccessTTL.Seconds()))
	}
}

func (b builder) network(e env) {
	c := b.c
	var err error
	if c.HostAllowlist, err = allowlist.Parse(string(e.HostAllowlist)); err != nil {
		b.problem("ALGA_MOBILE_HOST_ALLOWLIST", "%v", err)
	}
	c.DatabaseURL, _ = b.secret("ALGA_MOBILE_DATABASE_URL")
	if !c.DatabaseURL.Set() {
		c.DatabaseURL = DefaultDatabaseURL
	} else if !validDatabaseURL(c.DatabaseURL.Value()) {
		b.problem("ALGA_MOBILE_DATABASE_URL", "must be sqlite:<path> or postgres://user:password@host:5432/db")
	}
	c.RedisURL, _ = b.secret("ALGA_MOBILE_REDIS_URL")
	if c.RedisURL.Set() && !strings.HasPrefix(c.RedisURL.Value(), "redis://") && !strings.HasPrefix(c.RedisURL.Value(), "rediss://") {
		b.problem("ALGA_MOBILE_REDIS_URL", "must be redis://[:password@]host:6379[/db] or rediss://…")
	}
	c.SecretKey, _ = b.secret("ALGA_MOBILE_SECRET_KEY")
	if c.SecretKey.Set() {
		if err := checkSecretKey(c.SecretKey.Value()); err != nil {
			b.problem("ALGA_MOBILE_SECRET_KEY", "%v", err)
		}
	}
	c.ListenAddr = b.addr("ALGA_MOBILE_LISTEN_ADDR", string(e.ListenAddr), DefaultListenAddr)
	c.MetricsAddr = b.addr("ALGA_MOBILE_METRICS_ADDR", string(e.MetricsAddr), "")
	if c.TrustedProxies, err = clientip.ParseTrusted(string(e.TrustedProxies)); err != nil {
		b.problem("ALGA_MOBILE_TRUSTED_PROXIES", "%v", err)
	}
}

func validDatabaseURL(v string) bool {
	switch {
	case strings.HasPrefix(v, "sqlite:"):
		return len(v) > len("sqlite:")
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
		u, err := url.Parse(v)
		return err == nil && u.Host != ""
	}
	return false
}

func (b builder) addr(name, v, def string) string {
	if v == "" {
		return def
	}
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		b.problem(name, "must be host:port or :port, e.g. :8080, got %q", clip(v))
		return def
	}
	return v
}

func (b builder) logging(e env) {
	b.c.LogFormat = strings.ToLower(string(e.LogFormat))
	switch b.c.LogFormat {
	case "":
		b.c.LogFormat = "json"
	case "json", "text":
	default:
		b.problem("ALGA_MOBILE_LOG_FORMAT", "must be json or text, got %q", clip(b.c.LogFormat))
	}
	b.c.LogLevel = strings.ToLower(string(e.LogLevel))
	switch b.c.LogLevel {
	case "":
		b.c.LogLevel = "info"
	case "debug", "info", "warn", "error":
	default:
		b.problem("ALGA_MOBILE_LOG_LEVEL", "must be debug, info, warn or error, got %q", clip(b.c.LogLevel))
	}
	b.c.Audience = string(e.Audience)
	if b.c.Audience == "" {
		b.c.Audience = DefaultAudience
	}
}

// devIDP enforces SPEC §2: the development identity provider is refused
// unless NEXTAUTH_URL is a loopback URL, so it can never reach production.
func (b builder) devIDP(e env) {
	if e.DevIDP.err != nil {
		b.problem("ALGA_MOBILE_DEV_IDP", "%v", e.DevIDP.err)
		return
	}
	b.c.DevIDP = e.DevIDP.V
	b.c.DevIDPAddr = b.addr("ALGA_MOBILE_DEV_IDP_ADDR", string(e.DevIDPAddr), DefaultDevIDPAddr)
	if host, _, err := net.SplitHostPort(b.c.DevIDPAddr); err == nil && !allowlist.IsLoopback(host) {
		b.problem("ALGA_MOBILE_DEV_IDP_ADDR", "must be a loopback address such as 127.0.0.1:8081 (the development provider signs anyone in)")
		b.c.DevIDPAddr = DefaultDevIDPAddr
	}
	if b.c.DevIDP && (b.c.PublicURL == nil || !allowlist.IsLoopback(b.c.PublicURL.Hostname())) {
		b.problem("ALGA_MOBILE_DEV_IDP", "is only allowed when NEXTAUTH_URL is a loopback URL such as http://localhost:8080 (it signs anyone in)")
	}
}
