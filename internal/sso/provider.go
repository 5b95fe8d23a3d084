package sso

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Provider is one configured OpenID Connect provider. It is safe for
// concurrent use. Discovery is lazy: nothing is fetched until the first
// sign-in (or [Provider.Discover]), so the service starts while Google is
// unreachable; a successful discovery is cached for the life of the
// process, a failed one is retried by the first use after the retry delay.
type Provider struct {
	id          ID
	clientID    string
	secret      string
	issuer      string
	redirectURL string
	// multiTenant is Microsoft with common/organizations/consumers, whose
	// tokens are issued per tenant (see microsoft.go).
	multiTenant bool
	// trustedTenants are the lower-case tenant ids of a multi-tenant
	// Microsoft provider whose e-mail claim is taken as is.
	trustedTenants map[string]bool
	httpClient     *http.Client
	timeout        time.Duration
	retryDelay     time.Duration
	now            func() time.Time

	mu   sync.Mutex // guards the fields below; held during discovery so only one runs
	disc *discovered
	// lastErr and failedAt remember a failed discovery for retryDelay, so
	// sign-ins queued behind a hung provider fail fast instead of each
	// waiting out its own timeout in turn.
	lastErr  error
	failedAt time.Time
}

// discovered is what a successful discovery yields.
type discovered struct {
	oauth oauth2.Config
	// verifier checks signature, audience, expiry and (except multi-tenant
	// Microsoft) the issuer.
	verifier *oidc.IDTokenVerifier
	// sigOnly checks the signature alone. It never admits a token: it only
	// tells which check failed when verifier refused one.
	sigOnly *oidc.IDTokenVerifier
	// issuerTemplate is the multi-tenant issuer with "{tenantid}" in it;
	// fixedIssuer is the discovered issuer when there is no template.
	issuerTemplate string
	fixedIssuer    string
}

// NewProviders builds the configured providers, in the order the sign-in
// page shows them: Google, Microsoft, then the development provider. It
// performs no I/O.
func NewProviders(s Settings) []*Provider {
	origin := strings.TrimRight(strings.TrimSpace(s.PublicOrigin), "/")
	client := s.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: DefaultDiscoveryTimeout}
	}
	timeout := s.DiscoveryTimeout
	if timeout <= 0 {
		timeout = DefaultDiscoveryTimeout
	}
	retry := s.DiscoveryRetryDelay
	if retry <= 0 {
		retry = DefaultDiscoveryRetryDelay
	}
	now := s.Now
	if now == nil {
		now = time.Now
	}
	var out []*Provider
	add := func(id ID, c ClientSettings, multi bool) {
		iss := issuerFor(id, c, s.MicrosoftTenant)
		if !c.configured() || iss == "" {
			return
		}
		out = append(out, &Provider{
			id:          id,
			clientID:    strings.TrimSpace(c.ClientID),
			secret:      strings.TrimSpace(c.ClientSecret),
			issuer:      iss,
			redirectURL: origin + CallbackPathPrefix + string(id),
			multiTenant: multi,
			httpClient:  client,
			timeout:     timeout,
			retryDelay:  retry,
			now:         now,
		})
	}
	add(Google, s.Google, false)
	add(Microsoft, s.Microsoft, isMultiTenant(s.MicrosoftTenant))
	for _, p := range out {
		if p.id == Microsoft && p.multiTenant {
			p.trustedTenants = tenantSet(s.MicrosoftTenants)
		}
	}
	if s.Dev != nil {
		add(Dev, *s.Dev, false)
	}
	return out
}

// ByID returns the provider with that id, or ErrUnknownProvider.
func ByID(ps []*Provider, id ID) (*Provider, error) {
	for _, p := range ps {
		if p.id == id {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownProvider, id)
}

// ID is the provider's id, also its callback path segment.
func (p *Provider) ID() ID { return p.id }

// DisplayName is the provider's name on the sign-in button.
func (p *Provider) DisplayName() string {
	switch p.id {
	case Google:
		return "Google"
	case Microsoft:
		return "Microsoft"
	case Dev:
		return "Development sign-in"
	}
	return string(p.id)
}

// Issuer is the issuer discovery starts from (default or override).
func (p *Provider) Issuer() string { return p.issuer }

// CallbackURL is the redirect_uri registered with the provider:
// PublicOrigin + "/api/auth/callback/" + ID.
func (p *Provider) CallbackURL() string { return p.redirectURL }

// Discover fetches the discovery document now if it has not been fetched
// yet. Sign-in calls it implicitly; `check` and tests call it to probe.
func (p *Provider) Discover(ctx context.Context) error {
	_, err := p.discovery(ctx)
	return err
}

// AuthCodeURL returns the provider URL the browser is sent to: the
// authorization-code flow with f.State, PKCE S256 from f.Verifier and
// f.Nonce, scopes openid email profile. Google also gets
// prompt=select_account so a phone with several Google accounts asks which.
func (p *Provider) AuthCodeURL(ctx context.Context, f Flow) (string, error) {
	if f.Provider != p.id {
		return "", fmt.Errorf("%w: flow for %q used with %q", ErrUnknownProvider, f.Provider, p.id)
	}
	if f.State == "" || f.Nonce == "" || f.Verifier == "" {
		return "", fmt.Errorf("%w: state, nonce and verifier are required", ErrFlowInvalid)
	}
	d, err := p.discovery(ctx)
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.Verifier), oidc.Nonce(f.Nonce)}
	if p.id == Google {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "select_account"))
	}
	return d.oauth.AuthCodeURL(f.State, opts...), nil
}

// discovery returns the cached discovery or performs one attempt, bounded
// by the configured timeout. A success is kept for good; a failure only for
// the retry delay, after which the next sign-in tries again.
func (p *Provider) discovery(ctx context.Context) (*discovered, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.disc != nil {
		return p.disc, nil
	}
	if p.lastErr != nil && p.now().Sub(p.failedAt) < p.retryDelay {
		return nil, p.lastErr
	}
	d, err := p.discover(ctx)
	if err != nil {
		p.lastErr, p.failedAt = err, p.now()
		return nil, err
	}
	p.disc, p.lastErr = d, nil
	return d, nil
}

// discover performs one discovery attempt.
func (p *Provider) discover(ctx context.Context) (*discovered, error) {
	// The attempt's outcome is shared with every sign-in waiting on the
	// mutex, so one browser giving up must not fail it for the others: keep
	// the context's values, drop its cancellation, bound it by the timeout.
	dctx, cancel := context.WithTimeout(oidc.ClientContext(context.WithoutCancel(ctx), p.httpClient), p.timeout)
	defer cancel()
	if p.multiTenant {
		// Entra's multi-tenant discovery document names the issuer
		// ".../{tenantid}/v2.0", never the URL we fetched it from. Accepting
		// that here is safe only because every token's issuer is then
		// checked against its own tid (checkIssuer).
		dctx = oidc.InsecureIssuerURLContext(dctx, p.issuer)
	}
	op, err := oidc.NewProvider(dctx, p.issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrDiscovery, p.issuer, err)
	}
	ep := op.Endpoint()
	// Google and Microsoft both document client_secret_post; fixing it
	// avoids x/oauth2's auto-detection, which on failure sends the code a
	// second time.
	ep.AuthStyle = oauth2.AuthStyleInParams
	d := &discovered{
		oauth: oauth2.Config{
			ClientID:     p.clientID,
			ClientSecret: p.secret,
			Endpoint:     ep,
			RedirectURL:  p.redirectURL,
			Scopes:       []string{oidc.ScopeOpenID, "email", "profile"},
		},
		verifier: op.Verifier(&oidc.Config{ClientID: p.clientID, SkipIssuerCheck: p.multiTenant, Now: p.now}),
		sigOnly: op.Verifier(&oidc.Config{
			SkipClientIDCheck: true, SkipExpiryCheck: true, SkipIssuerCheck: true, Now: p.now,
		}),
	}
	if p.multiTenant {
		if err := d.setMultiTenantIssuer(op, p.issuer); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// errorsAsExpired unwraps go-oidc's expiry error.
func errorsAsExpired(err error) (*oidc.TokenExpiredError, bool) {
	var e *oidc.TokenExpiredError
	ok := errors.As(err, &e)
	return e, ok
}
