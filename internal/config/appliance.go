package config

import (
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/kelseyhightower/envconfig"
)

// Defaults of AlgaPSA's own database variables (SPEC §8.1).
const (
	DefaultDBPort       = 5432
	DefaultDBNameServer = "server"
	DefaultDBUserServer = "app_user"
)

// Appliance is the configuration of appliance mode (SPEC §8): the sidecar
// uses AlgaPSA's users, web session and API keys. It is on when AlgaPSA's
// database is configured.
type Appliance struct {
	// Enabled: ALGA_PSA_DATABASE_URL or DB_HOST is set.
	Enabled bool
	// DatabaseURL is the postgres:// URL of AlgaPSA's database, either
	// ALGA_PSA_DATABASE_URL or built from DB_HOST, DB_PORT,
	// DB_NAME_SERVER, DB_USER_SERVER and DB_PASSWORD_SERVER.
	DatabaseURL Secret
	// DatabaseFrom names where the URL came from (ALGA_PSA_DATABASE_URL
	// or DB_HOST), and Database describes it without the password
	// (user@host:port/name), both for check and the startup log.
	DatabaseFrom string
	Database     string
	// MissingPassword says, when AlgaPSA's database has no password
	// configured, where one was looked for (DB_HOST form: the variable,
	// its _FILE and the secrets directory; URL form: the URL holds none),
	// for check and the startup warning; "" when a password is set. The
	// connection is still tried without one (a server may trust the host).
	MissingPassword string
	// NextAuthSecret is the web app's NEXTAUTH_SECRET, which decrypts its
	// session cookie; without it the hand-off falls back to the service's
	// own sign-in.
	NextAuthSecret Secret
	// AuthJSCookie is ALGA_MOBILE_AUTHJS_COOKIE, the web app's session
	// cookie name when it is not the default ("" = derive it from
	// NEXTAUTH_URL as Auth.js does).
	AuthJSCookie string
}

// applianceEnv holds the non-secret variables of appliance mode.
type applianceEnv struct {
	DBHost       Text `envconfig:"DB_HOST"`
	DBPort       Text `envconfig:"DB_PORT"`
	DBName       Text `envconfig:"DB_NAME_SERVER"`
	DBUser       Text `envconfig:"DB_USER_SERVER"`
	AuthJSCookie Text `envconfig:"ALGA_MOBILE_AUTHJS_COOKIE"`
}

// appliance fills c.Appliance (SPEC §8.1). ALGA_PSA_DATABASE_URL wins over
// the DB_* variables. No error ever repeats a URL or a password.
func (b builder) appliance() {
	var e applianceEnv
	if err := envconfig.Process("", &e); err != nil {
		b.problem("environment", "could not be read")
		return
	}
	a := &b.c.Appliance
	a.NextAuthSecret, _ = b.secret("NEXTAUTH_SECRET")
	a.AuthJSCookie = string(e.AuthJSCookie)
	if a.AuthJSCookie != "" && !validCookieName(a.AuthJSCookie) {
		b.problem("ALGA_MOBILE_AUTHJS_COOKIE", "must be a cookie name such as __Secure-authjs.session-token (letters, digits and !#$%%&'*+-.^_`|~ only)")
		a.AuthJSCookie = ""
	}
	psaURL, _, psaUnreadable := b.secretOrUnreadable("ALGA_PSA_DATABASE_URL")
	switch {
	case psaUnreadable:
		// Configured, though unreadable (reported): appliance mode is what
		// the operator asked for, so nothing may describe standalone mode.
		a.Enabled, a.DatabaseFrom = true, "ALGA_PSA_DATABASE_URL"
	case psaURL.Set():
		a.Enabled, a.DatabaseFrom = true, "ALGA_PSA_DATABASE_URL"
		u, err := url.Parse(psaURL.Value())
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			b.problem("ALGA_PSA_DATABASE_URL", "must be postgres://user:password@host:5432/server (AlgaPSA's database; the value is not repeated here because it may hold a password)")
			return
		}
		a.DatabaseURL = psaURL
		a.Database = describe(u)
		if _, ok := u.User.Password(); !ok {
			a.MissingPassword = "ALGA_PSA_DATABASE_URL holds none"
		}
	case e.DBHost != "":
		a.Enabled, a.DatabaseFrom = true, "DB_HOST"
		b.dbVars(e)
	}
}

// dbVars builds the URL from AlgaPSA's own variables, escaping every part.
func (b builder) dbVars(e applianceEnv) {
	a := &b.c.Appliance
	host := string(e.DBHost)
	if strings.ContainsAny(host, "/?#@ ") {
		b.problem("DB_HOST", "must be a host name or address, e.g. db.msp.svc.cluster.local or postgres, got %q", clip(host))
		return
	}
	port := DefaultDBPort
	if v := string(e.DBPort); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			b.problem("DB_PORT", "must be a port number between 1 and 65535, got %q", clip(v))
			return
		}
		port = n
	}
	name := string(e.DBName)
	if name == "" {
		name = DefaultDBNameServer
	}
	user := string(e.DBUser)
	if user == "" {
		user = DefaultDBUserServer
	}
	password, src, unreadable := b.secretOrUnreadable("DB_PASSWORD_SERVER")
	if !password.Set() && !unreadable {
		a.MissingPassword = b.secrets.lookedIn("DB_PASSWORD_SERVER", src)
	}
	u := &url.URL{Scheme: "postgres", Host: net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port)), Path: "/" + name}
	if password.Set() {
		u.User = url.UserPassword(user, password.Value())
	} else {
		u.User = url.User(user)
	}
	a.DatabaseURL = Secret(u.String())
	a.Database = describe(u)
}

// describe is user@host:port/database, without the password.
func describe(u *url.URL) string {
	d := u.Host + u.Path
	if name := u.User.Username(); name != "" {
		d = name + "@" + d
	}
	return d
}

// validCookieName reports whether s is an RFC 6265 cookie name (a token).
func validCookieName(s string) bool {
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r) {
			return false
		}
	}
	return s != ""
}

// ApplianceMode reports whether appliance mode is on (SPEC §8.1).
func (c *Config) ApplianceMode() bool { return c.Appliance.Enabled }
