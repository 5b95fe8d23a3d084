package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa"
	"github.com/nineminds/alga-mobile-auth/internal/authjs"
	"github.com/nineminds/alga-mobile-auth/internal/config"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// checkAppliance reports the mode (SPEC §8.1) and, in appliance mode,
// whether AlgaPSA's database answers with every privilege the service
// needs (printing the GRANT for each missing one), and whether
// NEXTAUTH_SECRET lets the hand-off read the web app's session.
func checkAppliance(ctx context.Context, r *Report, cfg *config.Config, probe bool, bad map[string]bool) {
	a := cfg.Appliance
	if !a.Enabled {
		r.add(OK, "mode", "standalone: users and plans live in this service's own directory (users, tenants commands); "+
			"set ALGA_PSA_DATABASE_URL or DB_HOST to use AlgaPSA's instead (appliance mode)", "")
		return
	}
	r.add(OK, "mode", "appliance: users, plans, the web session and API keys come from AlgaPSA's database (configured by "+a.DatabaseFrom+")", "")
	if !bad["ALGA_PSA_DATABASE_URL"] && !bad["DB_HOST"] && !bad["DB_PORT"] && !bad["DB_PASSWORD_SERVER"] {
		if !probe && a.MissingPassword != "" && a.DatabaseFrom == "DB_HOST" {
			// Without connecting (serve, check --offline) a missing password
			// is only a likely problem: a server may trust this host.
			r.add(Warning, "DB_PASSWORD_SERVER", "not set ("+a.MissingPassword+"): the service connects to AlgaPSA's database as "+
				userOf(a)+" without a password, which PostgreSQL refuses unless it trusts this host", passwordFix(a))
		}
		checkAlgaDatabase(ctx, r, a, probe)
	}
	if !bad["NEXTAUTH_SECRET"] {
		// An unreadable one is reported once, as its own error, not as unset.
		checkNextAuthSecret(r, cfg)
	}
}

// checkAlgaDatabase connects to AlgaPSA's database and checks privileges.
func checkAlgaDatabase(ctx context.Context, r *Report, a config.Appliance, probe bool) {
	const subject = "AlgaPSA database"
	if !probe {
		r.add(OK, subject, a.Database+" (not probed)", "")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s := settingsOf(a)
	db, err := algapsa.Open(ctx, a.DatabaseURL.Value(), algapsa.Options{MaxConns: 1})
	if err != nil {
		fix := "check " + s.all + " (AlgaPSA's own values: host, 5432, server, app_user)"
		if a.DatabaseFrom == "ALGA_PSA_DATABASE_URL" {
			fix = "set ALGA_PSA_DATABASE_URL to postgres://app_user:<password>@<host>:5432/server"
		}
		r.add(Error, subject, err.Error(), fix)
		return
	}
	defer db.Close()
	if err := db.Ping(ctx); err != nil {
		text, fix := connectFailure(err, a)
		r.add(Error, subject, text, fix)
		return
	}
	missing, err := db.MissingPrivileges(ctx)
	if err != nil {
		r.add(Error, subject, a.Database+": cannot check privileges: "+redact(oneLine{err}.Error(), a),
			"make sure "+s.all+" are AlgaPSA's own, then run check again")
		return
	}
	if len(missing) == 0 {
		r.add(OK, subject, a.Database+": reachable, every privilege present (SELECT on users, tenants, sessions, "+
			"mobile_refresh_tokens; SELECT, INSERT, UPDATE, DELETE on api_keys; UPDATE on mobile_refresh_tokens)", "")
		return
	}
	r.add(OK, subject, a.Database+": reachable", "")
	reported := map[string]bool{}
	for _, m := range missing {
		if m.TableMissing {
			if reported[m.Table] {
				continue
			}
			reported[m.Table] = true
			r.add(Error, "table "+m.Table, "not found: "+a.Database+" does not look like AlgaPSA's database (or its schema is not on the search path)",
				"point "+s.nameIs+", after AlgaPSA's migrations have run")
			continue
		}
		r.add(Error, "privilege", fmt.Sprintf("%s on %s is missing", m.Privilege.Privilege, m.Table),
			"as AlgaPSA's database owner, run: "+m.Grant)
	}
}

// connectFailure turns a connection error into a finding that names the
// cause and the variable to fix, never the password.
func connectFailure(err error, a config.Appliance) (text, fix string) {
	s := settingsOf(a)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01":
			if a.MissingPassword != "" {
				// PostgreSQL's own words would send the operator looking for a
				// wrong password where there is none.
				where := a.MissingPassword
				if a.DatabaseFrom == "DB_HOST" {
					where = "DB_PASSWORD_SERVER: " + where
				}
				return a.Database + ": no password is set for " + userOf(a) + " (" + where + "), and the server asks for one", passwordFix(a)
			}
			return a.Database + ": password authentication failed for user " + userOf(a), passwordFix(a)
		case "28000":
			return a.Database + ": the server refuses this user or host: " + pgErr.Message,
				"check " + s.user + " and the server's pg_hba.conf"
		case "3D000":
			return a.Database + ": no such database", "set " + s.name + " to AlgaPSA's database (server)"
		}
		return a.Database + ": cannot connect: " + redact(pgErr.Message, a) + " (SQLSTATE " + pgErr.Code + ")",
			"check " + s.all + " against AlgaPSA's own settings (PostgreSQL's log says more)"
	}
	return a.Database + ": cannot connect: " + redact(oneLine{err}.Error(), a),
		"check " + s.hostPort + ", and that the sidecar can reach AlgaPSA's PostgreSQL"
}

// dbSettings names, for fix lines, where each part of the connection to
// AlgaPSA's database was configured: the parts of ALGA_PSA_DATABASE_URL
// or AlgaPSA's own DB_* variables, whichever form the operator used (a
// fix naming the other form sends them to a variable they never set).
type dbSettings struct {
	hostPort, name, user, password, all string
	// nameIs completes "point …" with the setting that selects the database.
	nameIs string
}

func settingsOf(a config.Appliance) dbSettings {
	if a.DatabaseFrom == "ALGA_PSA_DATABASE_URL" {
		return dbSettings{
			hostPort: "the host and port in ALGA_PSA_DATABASE_URL",
			name:     "the database name in ALGA_PSA_DATABASE_URL (its path)",
			user:     "the user in ALGA_PSA_DATABASE_URL",
			password: "the password in ALGA_PSA_DATABASE_URL",
			all:      "the host, port, database and user in ALGA_PSA_DATABASE_URL",
			nameIs:   "ALGA_PSA_DATABASE_URL at AlgaPSA's own database (its path: /server)",
		}
	}
	return dbSettings{
		hostPort: "DB_HOST and DB_PORT",
		name:     "DB_NAME_SERVER",
		user:     "DB_USER_SERVER",
		password: "DB_PASSWORD_SERVER (or the db_password_server secret)",
		all:      "DB_HOST, DB_PORT, DB_NAME_SERVER and DB_USER_SERVER",
		nameIs:   "the service at AlgaPSA's own database (DB_NAME_SERVER=server)",
	}
}

// passwordFix is the fix for a wrong or missing password.
func passwordFix(a config.Appliance) string {
	return "set " + settingsOf(a).password + " to the password of " + userOf(a) + " (AlgaPSA's DB_PASSWORD_SERVER)"
}

func userOf(a config.Appliance) string {
	u, err := url.Parse(a.DatabaseURL.Value())
	if err != nil || u.User == nil {
		return "(none)"
	}
	return u.User.Username()
}

// redact removes the database password from a driver message, in case a
// driver ever quotes its connection string.
func redact(s string, a config.Appliance) string {
	u, err := url.Parse(a.DatabaseURL.Value())
	if err != nil || u.User == nil {
		return s
	}
	if pw, ok := u.User.Password(); ok {
		s = mobileauth.RedactSecret(s, pw, "[redacted]")
	}
	return s
}

// checkNextAuthSecret says whether the hand-off can read the web app's
// session (SPEC §8.3).
func checkNextAuthSecret(r *Report, cfg *config.Config) {
	name := cfg.Appliance.AuthJSCookie
	if name == "" {
		name = authjs.CookieName(cfg.Origin())
	}
	if cfg.Appliance.NextAuthSecret.Set() {
		r.add(OK, "NEXTAUTH_SECRET", "set: the hand-off accepts the web app's session (cookie "+name+"), so signed-in users are not asked to sign in again", "")
		return
	}
	r.add(Warning, "NEXTAUTH_SECRET", "not set: the hand-off cannot read the web app's session, so it falls back to this service's own "+
		"sign-in (SSO only, no password or two-factor), reached wherever the proxy sends /auth/signin to the sidecar",
		"set NEXTAUTH_SECRET (or the nextauth_secret secret) to the web app's own value")
}
