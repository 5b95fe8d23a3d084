package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/allowlist"
	"github.com/nineminds/alga-mobile-auth/internal/app"
	"github.com/nineminds/alga-mobile-auth/internal/config"
	"github.com/nineminds/alga-mobile-auth/internal/license"
	"github.com/nineminds/alga-mobile-auth/internal/ratelimit"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// Severity of a check finding.
type Severity string

// Severities.
const (
	OK      Severity = "ok"
	Warning Severity = "warning"
	Error   Severity = "error"
)

// Finding is one line of the check report.
type Finding struct {
	Severity Severity
	Subject  string
	Text     string
	Fix      string
	// Stated marks an error that the service answers on purpose (the
	// capabilities endpoint tells the app: Community Edition, no provider,
	// a license without mobile access, an allowlist without the own host),
	// or that works but is unsafe (a public install without
	// ALGA_MOBILE_SECRET_KEY): serve keeps running and logs it once at start. Every other error can
	// never work, and serve refuses to start on it.
	Stated bool
}

// Report is the whole check result.
type Report []Finding

func (r *Report) add(sev Severity, subject, text, fix string) {
	*r = append(*r, Finding{Severity: sev, Subject: subject, Text: text, Fix: fix})
}

// state adds an error the service answers on purpose (see Finding.Stated).
func (r *Report) state(subject, text, fix string) {
	*r = append(*r, Finding{Severity: Error, Subject: subject, Text: text, Fix: fix, Stated: true})
}

// Fatal is what serve refuses to start on: the errors that can never work.
func (r Report) Fatal() Report {
	var out Report
	for _, f := range r {
		if f.Severity == Error && !f.Stated {
			out = append(out, f)
		}
	}
	return out
}

// StartupWarnings is what serve logs once at start: the errors it answers
// on purpose and every warning.
func (r Report) StartupWarnings() Report {
	var out Report
	for _, f := range r {
		if f.Severity == Warning || f.Stated {
			out = append(out, f)
		}
	}
	return out
}

// Failed reports whether mobile sign-in cannot work.
func (r Report) Failed() bool {
	for _, f := range r {
		if f.Severity == Error {
			return true
		}
	}
	return false
}

// Write prints one line per finding (and its fix on the next line).
func (r Report) Write(w io.Writer) {
	r.writeFindings(w)
	errs, warns := 0, 0
	for _, f := range r {
		switch f.Severity {
		case Error:
			errs++
		case Warning:
			warns++
		}
	}
	if errs > 0 {
		fmt.Fprintf(w, "\n%d error(s), %d warning(s): mobile sign-in cannot work until the errors are fixed.\n", errs, warns)
	} else {
		fmt.Fprintf(w, "\nNo errors (%d warning(s)): mobile sign-in can work.\n", warns)
	}
}

func (r Report) writeFindings(w io.Writer) {
	for _, f := range r {
		fmt.Fprintf(w, "%-9s %-28s %s\n", "["+string(f.Severity)+"]", f.Subject, f.Text)
		if f.Fix != "" && f.Severity != OK {
			fmt.Fprintf(w, "%-9s %-28s fix: %s\n", "", "", f.Fix)
		}
	}
}

// runCheck is `check`: exit 0 when mobile sign-in can work, 1 otherwise.
func runCheck(e Env) int {
	fs := flags("check")
	offline := fs.Bool("offline", false, "skip connecting to the database and Redis")
	if code, ok := parse(e, fs, "check [--offline]\n\nChecks the configuration from the environment and says what is wrong and how to fix it.", 0); !ok {
		return code
	}
	cfg, err := config.Load()
	r := BuildReport(e.Ctx, cfg, err, time.Now, !*offline)
	r.Write(e.Stdout)
	if r.Failed() {
		return ExitFail
	}
	return ExitOK
}

// BuildReport checks cfg (and loadErr's problems) and, when probe is set,
// connects to the database and Redis.
func BuildReport(ctx context.Context, cfg *config.Config, loadErr error, now func() time.Time, probe bool) Report {
	var r Report
	var problems config.Problems
	errors.As(loadErr, &problems)
	bad := map[string]bool{}
	for _, p := range problems {
		bad[p.Var] = true
		fix := p.Fix
		if fix == "" {
			fix = problemFix(p.Var)
		}
		r.add(Error, p.Var, p.Message, fix)
	}
	checkPublicURL(&r, cfg, bad)
	checkLicense(&r, cfg, now, bad)
	checkProviders(&r, cfg, bad)
	checkAllowlist(&r, cfg, bad)
	if !bad["ALGA_MOBILE_TRUSTED_PROXIES"] {
		checkTrustedProxies(&r, cfg, inContainer())
	}
	if !bad["ALGA_MOBILE_DATABASE_URL"] {
		checkDatabase(ctx, &r, cfg, probe)
	}
	checkAppliance(ctx, &r, cfg, probe, bad)
	if cfg.RedisURL.Set() && !bad["ALGA_MOBILE_REDIS_URL"] {
		checkRedis(ctx, &r, cfg, probe)
	}
	if !bad["ALGA_MOBILE_SECRET_KEY"] {
		checkSecretKey(&r, cfg)
	}
	switch {
	case cfg.DevIDP && !app.DevIDPBuiltIn:
		r.add(Error, "ALGA_MOBILE_DEV_IDP", "is on, but this binary was built without the development identity provider (only builds with the devidp tag, such as make run, carry it): serve refuses to start",
			"unset ALGA_MOBILE_DEV_IDP")
	case cfg.DevIDP:
		r.add(Warning, "ALGA_MOBILE_DEV_IDP", "the development sign-in is on: it signs in anyone who types a known e-mail", "unset ALGA_MOBILE_DEV_IDP outside local demos")
	}
	return r
}

func checkPublicURL(r *Report, cfg *config.Config, bad map[string]bool) {
	switch {
	case bad["NEXTAUTH_URL"]:
	case cfg.PublicURL == nil:
		r.add(Error, "NEXTAUTH_URL", "is not set: the service cannot build redirects, OAuth callbacks or tokens", "set NEXTAUTH_URL to the appliance's public URL, e.g. https://psa.example.com")
	case cfg.PublicURL.Scheme == "http" && !allowlist.IsLoopback(cfg.PublicURL.Hostname()):
		r.add(Error, "NEXTAUTH_URL", cfg.Origin()+" is plain http: the mobile app only connects to https servers, cookies are not Secure and Google/Microsoft refuse http callbacks", "serve the appliance over https and set NEXTAUTH_URL=https://…")
	case cfg.PublicURL.Scheme == "http":
		r.add(Warning, "NEXTAUTH_URL", cfg.Origin()+" is a local http address: fine for a demo, unreachable from a phone", "use the appliance's public https URL in production")
	default:
		r.add(OK, "NEXTAUTH_URL", cfg.Origin(), "")
	}
}

func checkLicense(r *Report, cfg *config.Config, now func() time.Time, bad map[string]bool) {
	gate, keysErr := app.NewGate(cfg, now)
	st := gate.Status()
	if name, v, ok := unknownEdition(cfg); ok {
		// The contract reads anything but ee/enterprise as Community, so the
		// service runs (capabilities says enabled:false), but a typo such as
		// "enterprize" is surely not what the operator meant.
		r.state(name, fmt.Sprintf("%q is not an edition: it means Community Edition, where mobile sign-in is off", v),
			"set "+name+"=ee for Enterprise Edition (ce or community for Community)")
		return
	}
	if st.Edition != license.Enterprise {
		fix := "set EDITION=ee (Enterprise Edition)"
		if cfg.ApplianceMode() {
			// An appliance chose its edition at setup; the sidecar must say the same.
			fix = "set EDITION=ee if the appliance runs Enterprise Edition (as its web app's EDITION says, or SELECT edition_choice FROM license_state); a Community appliance has no mobile sign-in"
		}
		r.state("EDITION", "Community Edition: mobile sign-in is off whatever else is configured", fix)
		return
	}
	r.add(OK, "EDITION", "Enterprise Edition", "")
	checkLicenseKeys(r, cfg, keysErr, bad)
	switch st.Mode {
	case license.ModeHosted:
		if bad["ALGA_LICENSE"] || bad["ALGA_TRIAL_STARTED_AT"] {
			// A license or trial is set but cannot be used, which its own
			// error above says: "none is set" would contradict it.
			return
		}
		// Right for a hosted install; on a self-hosted appliance it means the
		// license was forgotten, so it is a warning that says which mode.
		if cfg.ApplianceMode() {
			// AlgaPSA licenses an appliance by its license_state row (license
			// token or trial), which supersedes tenants.plan there; the
			// sidecar reads no license_state, so it must be given the same.
			r.add(Warning, "licensing", "hosted: each tenant's plan decides (tenants.plan in AlgaPSA's database; none set counts as pro), "+
				"but an appliance licenses itself (its own license or trial, kept in AlgaPSA's license_state table, which this service does not read): "+
				"no ALGA_LICENSE, ALGA_LICENSE_FILE or ALGA_TRIAL_STARTED_AT is set",
				"give this service the appliance's own license: ALGA_LICENSE set to its license token (Kubernetes: Secret appliance-license-seed in msp, "+
					"key LICENSE_TOKEN; or SELECT license_token FROM license_state) with ALGA_LICENSE_PUBLIC_KEYS at the vendor's published key; "+
					"during the trial, ALGA_TRIAL_STARTED_AT set to SELECT trial_started_at FROM license_state, written in RFC 3339 "+
					"(psql prints another format; "+config.TrialStartedAtQuery+" prints it so)")
			return
		}
		r.add(Warning, "licensing", "hosted: each tenant's plan decides (no ALGA_LICENSE, ALGA_LICENSE_FILE or ALGA_TRIAL_STARTED_AT is set)",
			"self-hosting? set ALGA_LICENSE_FILE to your license (or ALGA_TRIAL_STARTED_AT for a trial); hosted: set each tenant's plan")
		return
	case license.ModeSelfHost:
	}
	if st.LicensePresent {
		switch {
		case st.LicenseValid:
			r.add(OK, "ALGA_LICENSE", fmt.Sprintf("valid: customer %s, tier %s, expires %s%s", st.Claims.Customer, st.Claims.Tier,
				st.Claims.ExpiresAt.UTC().Format(time.RFC3339), boundText(st.Claims.Audience)), "")
		case st.Reason == license.ReasonExpired:
			r.state("ALGA_LICENSE", fmt.Sprintf("expired on %s (reason: expired)", st.Claims.ExpiresAt.UTC().Format(time.RFC3339)), "install a renewed license in ALGA_LICENSE or ALGA_LICENSE_FILE")
		default:
			r.state("ALGA_LICENSE", fmt.Sprintf("not valid (reason: %s): %s", st.Reason, st.Reason.Hint()), licenseFix(st.Reason))
		}
	}
	if st.Trial.Configured {
		if st.Trial.Active {
			r.add(OK, "ALGA_TRIAL_STARTED_AT", "trial active until "+st.Trial.EndsAt.UTC().Format(time.RFC3339), "")
		} else {
			r.add(Warning, "ALGA_TRIAL_STARTED_AT", "trial ended on "+st.Trial.EndsAt.UTC().Format(time.RFC3339), "install a license")
		}
	}
	if st.Tier.AllowsMobile() {
		r.add(OK, "license tier", fmt.Sprintf("%s: includes mobile access", st.Tier), "")
	} else {
		r.state("license tier", fmt.Sprintf("%s: does not include mobile access (needs solo or pro)", st.Tier), "install a valid solo or pro license")
	}
}

// checkLicenseKeys reports keys that ALGA_LICENSE_PUBLIC_KEYS could not
// give. Only a configured license needs them: the Kubernetes manifest sets
// the variable from an optional ConfigMap, which mounts as an empty
// directory when it does not exist, and a trial needs no key.
func checkLicenseKeys(r *Report, cfg *config.Config, keysErr error, bad map[string]bool) {
	const name = "ALGA_LICENSE_PUBLIC_KEYS"
	fix := "point ALGA_LICENSE_PUBLIC_KEYS at the vendor's published key (a JWKS file or a directory of <kid>.pem files)"
	if errors.Is(keysErr, fs.ErrPermission) {
		// There, but closed to the image's unprivileged user.
		uid := strconv.Itoa(os.Getuid())
		fix = "give this service's user (uid " + uid + ") read access to " + cfg.LicensePublicKeys + " and its files, e.g. `setfacl -R -m u:" + uid +
			":rX <host path>` on the host, or mount them readable to it (a Kubernetes ConfigMap volume is, with its default mode 0644)"
	}
	switch {
	case keysErr == nil:
	case cfg.License.Set() || bad["ALGA_LICENSE"]:
		r.state(name, keysErr.Error(), fix)
	case license.NoKeys(keysErr):
		r.add(OK, name, "no keys at "+cfg.LicensePublicKeys+": no license configured; keys are needed only once one is", "")
	default:
		r.add(Warning, name, keysErr.Error()+" (no license is configured yet; one could not be verified with these)", fix)
	}
}

func boundText(aud string) string {
	if aud == "" {
		return ""
	}
	return ", bound to tenant " + aud
}

func licenseFix(reason license.Reason) string {
	switch reason {
	case license.ReasonNoKeys, license.ReasonUnknownKID:
		return "set ALGA_LICENSE_PUBLIC_KEYS to the vendor's published key file or directory (the license's kid must be among them)"
	case license.ReasonBadSignature:
		return "the license was altered or signed by another vendor; install the license file exactly as issued"
	case license.ReasonNotYetValid:
		return "check the server clock (the license starts in the future)"
	}
	return "install the license file exactly as issued (ALGA_LICENSE_FILE=/path/to/license.jwt)"
}

func checkProviders(r *Report, cfg *config.Config, bad map[string]bool) {
	any := false
	// A secret that is there but unreadable is reported once, as its own
	// error; "not set" or "no provider" lines would contradict it.
	unreadable := cfg.ApplianceMode() && bad["NEXTAUTH_SECRET"]
	for _, p := range []struct {
		name, prefix string
		c            config.OAuthClient
	}{{"Google", "GOOGLE_OAUTH", cfg.Google}, {"Microsoft", "MICROSOFT_OAUTH", cfg.Microsoft}} {
		subject := p.name + " SSO"
		switch {
		case bad[p.prefix+"_CLIENT_ID"] || bad[p.prefix+"_CLIENT_SECRET"]:
			unreadable = true
		case p.c.Configured():
			any = true
			text := "configured"
			if p.c.Issuer != "" {
				text += " (issuer " + p.c.Issuer + ")"
			}
			if p.name == "Microsoft" && p.c.Issuer == "" {
				text += " (tenant " + cfg.MicrosoftTenant + ")"
			}
			r.add(OK, subject, text, "")
			if p.name == "Microsoft" {
				checkMicrosoftTenants(r, cfg)
			}
		case p.c.ClientID.Set():
			r.add(Error, subject, p.prefix+"_CLIENT_ID is set but "+p.prefix+"_CLIENT_SECRET is not", "set "+p.prefix+"_CLIENT_SECRET (or "+p.prefix+"_CLIENT_SECRET_FILE)")
		case p.c.ClientSecret.Set():
			r.add(Error, subject, p.prefix+"_CLIENT_SECRET is set but "+p.prefix+"_CLIENT_ID is not", "set "+p.prefix+"_CLIENT_ID")
		default:
			r.add(OK, subject, "not configured", "")
		}
	}
	if !any && !unreadable {
		if cfg.ApplianceMode() && cfg.Appliance.NextAuthSecret.Set() {
			// On an appliance the web app signs users in (its own page,
			// password, SSO, two-factor) and the hand-off reads its session:
			// the sidecar's own providers are an option, not a need.
			r.add(OK, "SSO", "none in this service: on the appliance the web app's own sign-in is used (NEXTAUTH_SECRET)", "")
			return
		}
		add := r.state
		if cfg.DevIDP {
			add = func(subject, text, fix string) { r.add(Warning, subject, text, fix) }
		}
		add("SSO", "no provider is configured: nobody can sign in", "set GOOGLE_OAUTH_CLIENT_ID/SECRET or MICROSOFT_OAUTH_CLIENT_ID/SECRET (callbacks: <NEXTAUTH_URL>/api/auth/callback/google and /api/auth/callback/azure-ad)")
	}
}

// checkMicrosoftTenants warns about nOAuth: with common/organizations any
// Entra directory's tokens are accepted, and only a listed tenant's e-mail
// (or one Microsoft marks xms_edov true) may be trusted.
func checkMicrosoftTenants(r *Report, cfg *config.Config) {
	const subject = "ALGA_MOBILE_MICROSOFT_TENANTS"
	switch {
	case !cfg.MicrosoftMultiTenant():
		return
	case len(cfg.MicrosoftTenants) == 0:
		r.add(Warning, subject, "MICROSOFT_OAUTH_TENANT_ID is "+cfg.MicrosoftTenant+" and no tenant is listed: Microsoft accounts of any organisation can reach sign-in, and their e-mail is accepted only when Microsoft marks its domain verified (xms_edov), so most sign-ins will be refused",
			"set ALGA_MOBILE_MICROSOFT_TENANTS to your Entra tenant id(s), or MICROSOFT_OAUTH_TENANT_ID to your tenant id; optionally add the xms_edov optional claim to the app registration")
	default:
		r.add(OK, subject, strings.Join(cfg.MicrosoftTenants, ",")+": e-mails of other tenants need xms_edov", "")
	}
}

func checkAllowlist(r *Report, cfg *config.Config, bad map[string]bool) {
	if bad["ALGA_MOBILE_HOST_ALLOWLIST"] {
		// The bad entries are reported already; whether the good ones
		// include the own host is still worth saying (a URL-shaped entry
		// such as https://psa.example.com matches no host).
		if cfg.PublicURL != nil && !allowlist.Contains(cfg.HostAllowlist, cfg.OwnHost()) {
			r.state("ALGA_MOBILE_HOST_ALLOWLIST", "no valid entry is "+cfg.OwnHost()+" (the host of NEXTAUTH_URL): every phone will be blocked",
				"write host names only and include "+cfg.OwnHost()+", e.g. ALGA_MOBILE_HOST_ALLOWLIST="+cfg.OwnHost()+", or unset it")
		}
		return
	}
	switch {
	case len(cfg.HostAllowlist) == 0:
		r.add(OK, "ALGA_MOBILE_HOST_ALLOWLIST", "empty: the appliance's own host is allowed", "")
	case cfg.PublicURL != nil && !allowlist.Contains(cfg.HostAllowlist, cfg.OwnHost()):
		r.state("ALGA_MOBILE_HOST_ALLOWLIST", fmt.Sprintf("%s does not include %s (the host of NEXTAUTH_URL): every phone will be blocked", strings.Join(cfg.HostAllowlist, ","), cfg.OwnHost()),
			"add "+cfg.OwnHost()+" to ALGA_MOBILE_HOST_ALLOWLIST, or unset it")
	default:
		r.add(OK, "ALGA_MOBILE_HOST_ALLOWLIST", strings.Join(cfg.HostAllowlist, ","), "")
	}
}

func checkDatabase(ctx context.Context, r *Report, cfg *config.Config, probe bool) {
	url := cfg.DatabaseURL.Value()
	kind := "PostgreSQL"
	if strings.HasPrefix(url, "sqlite:") {
		kind = "SQLite at " + strings.TrimPrefix(url, "sqlite:") + " (one instance only; replicas need PostgreSQL)"
	}
	if !probe {
		r.add(OK, "ALGA_MOBILE_DATABASE_URL", kind+" (not probed)", "")
		return
	}
	if path, ok := strings.CutPrefix(url, "sqlite:"); ok {
		// Do not create a database just by checking: report where it will be.
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if err := writableDir(filepath.Dir(path)); err != nil {
				r.add(Error, "ALGA_MOBILE_DATABASE_URL", kind+": cannot be created: "+err.Error(), "point it at a writable directory, e.g. sqlite:/data/mobile-auth.db on a volume")
				return
			}
			r.add(OK, "ALGA_MOBILE_DATABASE_URL", kind+": will be created at first start", "")
			return
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := sqlstore.Open(ctx, url, sqlstore.Options{})
	if err == nil {
		defer func() { _ = st.Close() }()
		err = st.Ping(ctx)
	}
	if err != nil {
		r.add(Error, "ALGA_MOBILE_DATABASE_URL", kind+": cannot connect: "+oneLine{err}.Error(), "check the host, credentials and that the database exists")
		return
	}
	r.add(OK, "ALGA_MOBILE_DATABASE_URL", kind+": reachable", "")
	if cfg.SecretKey.Set() {
		checkAtRest(ctx, r, cfg, st)
	}
}

// checkSecretKey reports ALGA_MOBILE_SECRET_KEY (its strength was checked
// by config). Without it a database dump yields keys that sign tokens:
// tolerable on a loopback test install, an error on a real one.
func checkSecretKey(r *Report, cfg *config.Config) {
	const name = "ALGA_MOBILE_SECRET_KEY"
	const fix = "set ALGA_MOBILE_SECRET_KEY to the output of `openssl rand -base64 48` or `alga-mobile-auth secret` (the same on every replica), then run keys rotate"
	switch {
	case cfg.SecretKey.Set():
		r.add(OK, name, "set: signing keys encrypted at rest, server secrets derived from it", "")
	case cfg.PublicURL != nil && !allowlist.IsLoopback(cfg.PublicURL.Hostname()):
		// An error for check, but serve keeps running (an upgrade must not
		// take a working install down); it logs this once at start.
		r.state(name, "not set on a public install ("+cfg.Origin()+"): signing keys and server secrets are kept in the database in clear, so anyone with a dump or backup can mint access tokens", fix)
	default:
		r.add(Warning, name, "not set: signing keys and server secrets are kept in the database in clear (tolerated on a loopback test install only)", fix)
	}
}

// checkAtRest says whether anything is still stored in clear although a
// secret key is set, and whether the stored keys open with this key.
func checkAtRest(ctx context.Context, r *Report, cfg *config.Config, st *sqlstore.Store) {
	const subject = "secrets at rest"
	keys, err := st.ListSigningKeys(ctx)
	if err != nil {
		r.add(Warning, subject, "cannot read the signing keys: "+oneLine{err}.Error(), "run migrate, or start the service once")
		return
	}
	clearKeys := 0
	for _, k := range keys {
		if token.InClear(k.PrivateDER) {
			clearKeys++
		}
	}
	secrets, err := st.CountServerSecrets(ctx)
	if err != nil {
		r.add(Warning, subject, "cannot read the server secrets: "+oneLine{err}.Error(), "run migrate, or start the service once")
		return
	}
	sealed, err := app.SigningKeys(cfg, st)
	if err == nil {
		_, err = sealed.ListSigningKeys(ctx)
	}
	switch {
	case errors.Is(err, token.ErrSealedKey):
		r.add(Error, subject, "the stored signing keys were sealed with another ALGA_MOBILE_SECRET_KEY: the service cannot sign with them", "restore the previous ALGA_MOBILE_SECRET_KEY, or delete the signing_keys rows and run keys rotate (every phone then signs in again when its access token expires)")
	case clearKeys+secrets > 0:
		r.add(Warning, subject, fmt.Sprintf("%d signing key(s) and %d server secret(s) are still stored in clear", clearKeys, secrets), "run keys rotate, or start the service: both seal them with ALGA_MOBILE_SECRET_KEY")
	default:
		r.add(OK, subject, "no signing key or server secret is stored in clear", "")
	}
}

// writableDir reports whether dir (or its nearest existing parent) exists
// and is a directory we could create files in.
func writableDir(dir string) error {
	for {
		st, err := os.Stat(dir)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("%s is not a directory", dir)
			}
			f, err := os.CreateTemp(dir, ".alga-check-*")
			if err != nil {
				return fmt.Errorf("%s is not writable", dir)
			}
			name := f.Name()
			_ = f.Close()
			return os.Remove(name)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return err
		}
		dir = parent
	}
}

func checkRedis(ctx context.Context, r *Report, cfg *config.Config, probe bool) {
	// The finding says what went wrong; go-redis's own log lines would only
	// repeat it on stderr.
	client, err := ratelimit.OpenRedis(cfg.RedisURL.Value(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		r.add(Error, "ALGA_MOBILE_REDIS_URL", err.Error(), "use redis://[:password@]host:6379[/db]")
		return
	}
	defer func() { _ = client.Close() }()
	if !probe {
		r.add(OK, "ALGA_MOBILE_REDIS_URL", "rate limits shared through Redis at "+client.Addr+" (not probed)", "")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		r.add(Error, "ALGA_MOBILE_REDIS_URL", "Redis at "+client.Addr+" is not reachable", "check the address and password, or unset it to keep rate limits in the database")
		return
	}
	r.add(OK, "ALGA_MOBILE_REDIS_URL", "rate limits shared through Redis at "+client.Addr+": reachable", "")
}

// unknownEdition reports an EDITION or NEXT_PUBLIC_EDITION value that is
// neither Enterprise (ee, enterprise) nor Community (ce, community), unless
// the other variable says Enterprise.
func unknownEdition(cfg *config.Config) (name, value string, ok bool) {
	if license.ParseEdition(cfg.Edition, cfg.NextPublicEdition) == license.Enterprise {
		return "", "", false
	}
	for _, e := range []struct{ name, v string }{{"EDITION", cfg.Edition}, {"NEXT_PUBLIC_EDITION", cfg.NextPublicEdition}} {
		switch strings.ToLower(strings.TrimSpace(e.v)) {
		case "", "ce", "community":
		default:
			return e.name, e.v, true
		}
	}
	return "", "", false
}

// problemFix is the fix line for a variable that did not parse.
func problemFix(v string) string {
	switch {
	case v == "NEXTAUTH_URL":
		return "set NEXTAUTH_URL to the appliance's public origin, e.g. https://psa.example.com (no path)"
	case strings.HasSuffix(v, "_SEC"):
		return "set " + v + " to a positive whole number of seconds, or unset it for the default"
	case v == "ALGA_TRIAL_STARTED_AT":
		return "write the trial's start as an RFC 3339 time, e.g. 2026-11-01T09:00:00Z"
	case v == "ALGA_MOBILE_HOST_ALLOWLIST":
		return "write bare host names separated by commas, e.g. psa.example.com (no scheme, port or path)"
	case v == "ALGA_MOBILE_DATABASE_URL":
		return "use sqlite:/data/mobile-auth.db or postgres://user:password@host:5432/db"
	case v == "ALGA_MOBILE_REDIS_URL":
		return "use redis://[:password@]host:6379[/db], or unset it to keep rate limits in the database"
	case v == "ALGA_MOBILE_SECRET_KEY":
		return "generate one with: alga-mobile-auth secret"
	case v == "ALGA_MOBILE_TRUSTED_PROXIES":
		// One address each: trusting a whole private network lets any host
		// in it choose its own client IP (and rate-limit key).
		return "list the proxy's own IP addresses (or single-address CIDRs) separated by commas, e.g. 172.18.0.1 or 192.0.2.10/32"
	case strings.HasSuffix(v, "_ADDR"):
		return "use host:port or :port, e.g. :8080"
	case v == "ALGA_MOBILE_DEV_IDP":
		return "unset ALGA_MOBILE_DEV_IDP: the development sign-in runs only with a loopback NEXTAUTH_URL, for local demos"
	}
	return "correct " + v + " as the line above says (the README lists every variable and its form)"
}
