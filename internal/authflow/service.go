package authflow

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/license"
	"github.com/nineminds/alga-mobile-auth/internal/logging"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// TenantGate is the part of the license gate the use cases need.
type TenantGate interface {
	Capabilities() license.Decision
	ForTenant(tenantID string, tenantPlan *mobileauth.Tier) license.Decision
	// PlanPerTenant is true when ForTenant needs the tenant's plan.
	PlanPerTenant() bool
}

// Events counts token-lifecycle events (metrics.Metrics implements it).
type Events interface {
	AuthEvent(event, reason string)
}

// Directory is what the use cases read of the users and their tenants:
// the service's own directory (sqlstore) in standalone mode, AlgaPSA's
// users and tenants (algapsa, read-only) in appliance mode.
type Directory interface {
	// FindUsersByEmail matches case-insensitively across tenants.
	FindUsersByEmail(ctx context.Context, email string) ([]mobileauth.User, error)
	// GetUser returns one user; mobileauth.ErrNotFound if absent.
	GetUser(ctx context.Context, tenantID, userID string) (mobileauth.User, error)
	// GetMember reads a user with their tenant at once; a missing user is
	// Member.User == nil, not an error.
	GetMember(ctx context.Context, tenantID, userID string) (mobileauth.Member, error)
}

// Stores are the storage interfaces the use cases need; one SQL store
// implements all of them.
type Stores struct {
	OTTs      mobileauth.OTTStore
	Sessions  mobileauth.SessionStore
	Refresh   mobileauth.RefreshStore
	Directory Directory
	Audit     mobileauth.AuditStore
	// Adoptions starts families for refresh tokens AlgaPSA issued; needed
	// only with Deps.AlgaTokens.
	Adoptions mobileauth.AdoptionStore
}

// Settings are the lifetimes and host rules from the configuration.
type Settings struct {
	OTTTTL, AccessTTL, RefreshTTL time.Duration
	RefreshGrace, SessionTTL      time.Duration
	// FamilyMaxAge is a token family's absolute lifetime: past it refresh
	// answers 401 and the phone signs in again (0: unlimited).
	FamilyMaxAge time.Duration
	// Origin is NEXTAUTH_URL's origin and OwnHost its host; HostAllowlist
	// is ALGA_MOBILE_HOST_ALLOWLIST (SPEC §4). The hand-off is the one
	// place they are applied.
	Origin        string
	HostAllowlist []string
	OwnHost       string
	// SessionCookie names the own browser session's cookie (default
	// DefaultSessionCookie).
	SessionCookie string
	// RevocationFreshness bounds how stale this replica's view of revoked
	// families may be (default 1 s).
	RevocationFreshness time.Duration
}

// Deps are everything a Service needs; New checks them.
type Deps struct {
	Stores  Stores
	Limiter mobileauth.RateLimiter
	Gate    TenantGate
	// Issuer and Verifier sign and check access JWTs; needed only when
	// Access is nil.
	Issuer   *token.Issuer
	Verifier *token.Verifier
	Deriver  *token.Deriver
	Events   Events
	Log      *slog.Logger
	Now      func() time.Time
	Rand     io.Reader
	Settings Settings
	// SessionSources are tried, in order, before the service's own browser
	// sessions (e.g. the AlgaPSA web app's cookie in appliance mode).
	SessionSources []SessionSource
	// Access is the kind of access token handed out; nil means signed JWTs
	// (Issuer and Verifier), NewAPIKeyAccess is appliance mode's.
	Access AccessCredentials
	// AlgaTokens, when set (appliance mode), lets /refresh adopt and
	// /revoke revoke refresh tokens that AlgaPSA itself issued (SPEC §8.5).
	AlgaTokens AlgaRefreshTokens
	// SignIn switches the service's own browser sign-in on (providers and
	// the flow-cookie key); without it every provider is unknown.
	SignIn SignInOptions
}

// Service runs the use cases.
type Service struct {
	st       Stores
	limiter  mobileauth.RateLimiter
	gate     TenantGate
	deriver  *token.Deriver
	events   Events
	log      *slog.Logger
	now      func() time.Time
	rand     io.Reader
	set      Settings
	revoked  *revocationView
	sources  []SessionSource
	families *familyOwners
	access   AccessCredentials
	// ownerAtIssue: a refresh may leave the owner unread until its issue
	// is refused (admitIssue).
	ownerAtIssue bool
	alga         AlgaRefreshTokens
	signIn       SignInOptions
	// unreleased are OTTs of failed exchanges still to give back.
	unreleased unreleased
}

// New checks d and builds the Service.
func New(d Deps) (*Service, error) {
	st := d.Stores
	if st.OTTs == nil || st.Sessions == nil || st.Refresh == nil || st.Directory == nil || st.Audit == nil {
		return nil, errors.New("authflow: every store is required")
	}
	if d.Limiter == nil || d.Gate == nil || d.Deriver == nil || d.Log == nil {
		return nil, errors.New("authflow: Limiter, Gate, Deriver and Log are required")
	}
	if d.AlgaTokens != nil && st.Adoptions == nil {
		return nil, errors.New("authflow: AlgaTokens needs Stores.Adoptions")
	}
	access := d.Access
	if access == nil {
		var err error
		if access, err = NewJWTAccess(d.Issuer, d.Verifier); err != nil {
			return nil, err
		}
	}
	set := d.Settings
	if set.OTTTTL <= 0 || set.AccessTTL <= 0 || set.RefreshTTL <= 0 || set.SessionTTL <= 0 || set.RefreshGrace < 0 {
		return nil, errors.New("authflow: lifetimes must be positive")
	}
	if set.SessionCookie == "" {
		set.SessionCookie = DefaultSessionCookie
	}
	if set.OwnHost == "" && set.Origin != "" {
		if u, err := url.Parse(set.Origin); err == nil {
			set.OwnHost = u.Host
		}
	}
	if len(d.SignIn.Providers) > 0 && len(d.SignIn.FlowKey) < 32 {
		return nil, errors.New("authflow: SignIn needs a FlowKey of at least 32 bytes")
	}
	for _, src := range d.SessionSources {
		if src == nil {
			return nil, errors.New("authflow: a nil SessionSource")
		}
	}
	if set.RevocationFreshness <= 0 {
		set.RevocationFreshness = time.Second
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Rand == nil {
		d.Rand = rand.Reader
	}
	if d.Events == nil {
		d.Events = nopEvents{}
	}
	s := &Service{st: st, limiter: d.Limiter, gate: d.Gate,
		deriver: d.Deriver, events: d.Events, log: d.Log, now: d.Now, rand: d.Rand, set: set,
		access: access, alga: d.AlgaTokens, signIn: d.SignIn}
	// The key store's owner rule reads the same AlgaPSA rows as the
	// Directory: app wires both to one algapsa.DB.
	_, ownerRule := access.(ownerRuleIssuer)
	s.ownerAtIssue = ownerRule && !d.Gate.PlanPerTenant()
	s.sources = append(append([]SessionSource{}, d.SessionSources...),
		&ownSessions{cookie: set.SessionCookie, sessions: st.Sessions, users: st.Directory})
	s.revoked = newRevocationView(st.Refresh, set.RevocationFreshness, set.AccessTTL, d.Now)
	s.families = newFamilyOwners(st.Refresh)
	return s, nil
}

type nopEvents struct{}

func (nopEvents) AuthEvent(string, string) {}

// Rate limits of SPEC §3.3–§3.5.
var (
	handoffLimit  = mobileauth.RateLimit{Limit: 10, Window: time.Minute, Block: 5 * time.Minute}
	exchangeLimit = mobileauth.RateLimit{Limit: 10, Window: time.Minute, Block: 5 * time.Minute}
	refreshLimit  = mobileauth.RateLimit{Limit: 30, Window: time.Minute, Block: 5 * time.Minute}
)

// RateLimitedError carries how long the client must wait; the HTTP layer
// turns it into 429 with Retry-After and details.msBeforeNext.
type RateLimitedError struct{ RetryAfter time.Duration }

func (e *RateLimitedError) Error() string { return "rate limited" }

// limit applies one limit to key. A limiter failure is an internal error:
// failing open would let an outage disable brute-force protection.
func (s *Service) limit(ctx context.Context, key string, l mobileauth.RateLimit) error {
	d, err := s.limiter.Hit(ctx, key, l, s.now())
	if err != nil {
		code := mobileauth.CodeInternal
		if mobileauth.Unavailable(err) {
			code = mobileauth.CodeServiceUnavailable
		}
		return mobileauth.WrapError(code, "Service temporarily unavailable, please retry", err)
	}
	if !d.Allowed {
		kind, _, _ := strings.Cut(key, ":")
		s.events.AuthEvent("rate_limited", kind)
		return &RateLimitedError{RetryAfter: d.RetryAfter}
	}
	return nil
}

// audit writes an audit event to the store and the log. A store failure
// is logged, not returned: the user's operation has already happened.
func (s *Service) audit(ctx context.Context, e mobileauth.AuditEvent) {
	e.Time = s.now()
	e.CorrelationID = logging.CorrelationID(ctx)
	attrs := []any{"operation", e.Operation, "tenant_id", e.TenantID, "user_id", e.UserID,
		"record_id", e.RecordID, "client_ip", e.ClientIP}
	for k, v := range e.Details {
		attrs = append(attrs, k, v)
	}
	s.log.InfoContext(ctx, "audit", attrs...)
	if err := s.st.Audit.AppendAudit(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "audit event not stored", "operation", e.Operation, "error", err)
	}
}

// unauthorized is the one sentence every token failure shares, so that a
// caller learns nothing about which check failed.
func unauthorized(cause error) error {
	return mobileauth.WrapError(mobileauth.CodeUnauthorized, "Invalid or expired token", cause)
}

// required refuses an empty required field of a request body: the one
// check of it (the HTTP layer only decodes), with details.field naming it.
func required(field, value string) error {
	if value != "" {
		return nil
	}
	return &mobileauth.Error{Code: mobileauth.CodeValidation, Message: field + " is required and must be a non-empty string",
		Details: map[string]string{"field": field}}
}

// gateError maps a refused gate decision to the contract's 403 texts.
func gateError(d license.Decision) error {
	if d.Reason == license.DecisionEdition {
		return mobileauth.Errorf(mobileauth.CodeForbidden, "Mobile app access is not available on this edition")
	}
	return mobileauth.Errorf(mobileauth.CodeForbidden, "Mobile app access is not available on your plan")
}

// member is a token's owner as exchange and refresh need them: the user
// (nil when absent) and the gate's decision for their tenant, read from the
// store at once.
type member struct {
	user *mobileauth.User
	gate license.Decision
}

// loadMember reads the user and their tenant's plan in one store call.
func (s *Service) loadMember(ctx context.Context, tenantID, userID string) (member, error) {
	m, err := s.st.Directory.GetMember(ctx, tenantID, userID)
	if err != nil {
		return member{}, fmt.Errorf("load user: %w", err)
	}
	return s.memberOf(tenantID, m), nil
}

// memberOf applies the gate to a user and tenant as the Directory has them.
func (s *Service) memberOf(tenantID string, m mobileauth.Member) member {
	gate := s.gate.ForTenant(tenantID, m.Tenant.Plan)
	if gate.Enabled && m.Tenant.Suspended {
		// AlgaPSA's suspended tenant (appliance mode): no mobile access,
		// answered like a plan without it.
		gate = license.Decision{Enabled: false, Reason: reasonSuspended, Tier: gate.Tier}
	}
	return member{user: m.User, gate: gate}
}

// reasonSuspended is the gate refusal of a tenant AlgaPSA suspended.
const reasonSuspended = "suspended"

// activeInternal refuses a missing, inactive or client user.
func (m member) activeInternal() (mobileauth.User, error) {
	switch {
	case m.user == nil:
		return mobileauth.User{}, unauthorized(errors.New("user not found"))
	case !m.user.Active:
		return mobileauth.User{}, unauthorized(errors.New("user is inactive"))
	case m.user.Type != mobileauth.UserInternal:
		return mobileauth.User{}, mobileauth.Errorf(mobileauth.CodeForbidden, "Client portal users cannot use the mobile app")
	}
	return *m.user, nil
}

// rateIP is the address a per-IP limit counts: IPv6 clients by their /64,
// since one subscriber usually holds a whole /64 and could otherwise
// rotate addresses past every limit. Audit events keep the full address.
func rateIP(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is6() || a.Is4In6() {
		return ip
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}
