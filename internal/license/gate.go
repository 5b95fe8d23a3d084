package license

import (
	"maps"
	"sync"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// Mode is how the gate decides, fixed by the configuration at start-up.
type Mode string

// Modes.
const (
	// ModeCommunity: Community Edition; mobile sign-in is off.
	ModeCommunity Mode = "community"
	// ModeSelfHost: Enterprise with a license or a trial configured; the
	// license (or trial) decides for the whole installation.
	ModeSelfHost Mode = "self_host"
	// ModeHosted: Enterprise with neither; each tenant's plan decides.
	ModeHosted Mode = "hosted"
)

// Decision reasons, as the capabilities endpoint reports them.
const (
	DecisionEdition = "edition"
	DecisionLicense = "license"
)

// Decision is the gate's answer: whether mobile sign-in is enabled, and if
// not, why ("edition" or "license"; "" when enabled). Tier is the tier the
// decision rests on, "" where none applies (Community, or hosted before a
// tenant is known).
type Decision struct {
	Enabled bool
	Reason  string
	Tier    mobileauth.Tier
}

// Options configure a Gate. Edition, License, Keys and TrialStartedAt come
// from the configuration (SPEC §2); Now defaults to time.Now.
type Options struct {
	Edition        Edition
	License        string // raw compact JWS; "" when none is configured
	Keys           Keys
	TrialStartedAt *time.Time
	Now            func() time.Time
}

// Gate decides whether mobile sign-in is available. It is safe for
// concurrent use: it holds only configuration and reads its clock on every
// call, so a license or trial that ends while the service runs stops
// granting access at that moment.
type Gate struct {
	mu    sync.Mutex
	cache *verification

	edition    Edition
	license    string
	keys       Keys
	trialStart *time.Time
	now        func() time.Time
}

// NewGate builds a Gate. An edition other than Enterprise is treated as
// Community, so a zero Options grants nothing. The keys and trial start are
// copied, so later changes by the caller do not reach the gate.
func NewGate(o Options) *Gate {
	g := &Gate{
		edition: Community,
		license: o.License,
		keys:    maps.Clone(o.Keys),
		now:     o.Now,
	}
	if o.Edition == Enterprise {
		g.edition = Enterprise
	}
	if o.TrialStartedAt != nil {
		t := *o.TrialStartedAt
		g.trialStart = &t
	}
	if g.now == nil {
		g.now = time.Now
	}
	return g
}

// Mode reports how the gate decides (SPEC §5).
func (g *Gate) Mode() Mode {
	switch {
	case g.edition != Enterprise:
		return ModeCommunity
	case g.license != "" || g.trialStart != nil:
		return ModeSelfHost
	}
	return ModeHosted
}

// Status is the license state at one instant: what the check command and
// the startup log print.
type Status struct {
	Edition Edition
	Mode    Mode
	// LicensePresent is true when a license is configured (whatever the
	// edition: check reports a license that Community Edition ignores).
	LicensePresent bool
	// LicenseValid is true when it verified and is within its validity.
	LicenseValid bool
	// Reason says why a present license is not valid; ReasonNone otherwise.
	Reason Reason
	// Err is the detail behind Reason, for logs; nil when valid or absent.
	Err error
	// Claims are the license's claims when its signature verified, even if
	// it expired (so check can say when); zero otherwise.
	Claims Claims
	// KeyCount is the number of public keys configured.
	KeyCount int
	Trial    TrialStatus
	// Tier is the installation tier in self_host mode (license tier if
	// valid, else pro during an active trial, else essentials); "" in the
	// other modes.
	Tier mobileauth.Tier
	// Capabilities is Capabilities() at the same instant.
	Capabilities Decision
}

// Status evaluates the license and the trial now.
func (g *Gate) Status() Status {
	now := g.now()
	s := Status{
		Edition:        g.edition,
		Mode:           g.Mode(),
		LicensePresent: g.license != "",
		KeyCount:       len(g.keys),
		Trial:          trialStatus(g.trialStart, now),
	}
	if s.LicensePresent {
		s.Claims, s.Reason, s.Err = Verify(g.license, g.keys, now)
		s.LicenseValid = s.Reason == ReasonNone
	}
	if s.Mode == ModeSelfHost {
		s.Tier = g.selfHostTier(now, nil)
	}
	s.Capabilities = g.capabilities(now)
	return s
}

// Capabilities is the decision before any tenant is known, for the
// capabilities endpoint: Community is off ("edition"); hosted is on (each
// tenant's plan is checked at exchange); self_host is on iff the
// installation tier allows mobile ("license" otherwise). A license bound to
// one tenant by its aud still turns capabilities on: the binding is enforced
// per tenant by ForTenant.
func (g *Gate) Capabilities() Decision {
	return g.capabilities(g.now())
}

func (g *Gate) capabilities(now time.Time) Decision {
	switch g.Mode() {
	case ModeCommunity:
		return Decision{Reason: DecisionEdition}
	case ModeHosted:
		return Decision{Enabled: true}
	}
	return decide(g.selfHostTier(now, nil))
}

// ForTenant is the decision for one tenant, at exchange time. Community is
// off ("edition"). In self_host mode the license counts for the tenant if it
// is valid and unbound or bound to tenantID; otherwise an active trial gives
// pro and nothing gives essentials. In hosted mode tenantPlan decides, nil
// meaning pro (as in AlgaPSA). Mobile access needs tier ≥ solo; a denial's
// reason is "license".
func (g *Gate) ForTenant(tenantID string, tenantPlan *mobileauth.Tier) Decision {
	switch g.Mode() {
	case ModeCommunity:
		return Decision{Reason: DecisionEdition}
	case ModeHosted:
		if tenantPlan == nil {
			return decide(mobileauth.TierPro)
		}
		return decide(*tenantPlan)
	}
	return decide(g.selfHostTier(g.now(), &tenantID))
}

// PlanPerTenant reports whether ForTenant's decision depends on the
// tenant's plan (hosted mode). In the other modes it needs no tenant row.
func (g *Gate) PlanPerTenant() bool { return g.Mode() == ModeHosted }

// selfHostTier resolves the tier at now: for the installation when tenantID
// is nil, else for that tenant (which a license bound to another tenant
// does not cover).
func (g *Gate) selfHostTier(now time.Time, tenantID *string) mobileauth.Tier {
	if g.license != "" {
		c, reason := g.verified(now)
		if reason == ReasonNone {
			if tenantID == nil || c.BoundTo(*tenantID) {
				return c.Tier
			}
			// SPEC §5: a license bound to another tenant grants that tenant
			// essentials, whatever a trial would give.
			return mobileauth.TierEssentials
		}
	}
	if trialStatus(g.trialStart, now).Active {
		return mobileauth.TierPro
	}
	return mobileauth.TierEssentials
}

// verified returns the license's verification at now, re-using the last
// result while it cannot have changed: a valid license stays valid until
// exp + leeway, an expired or forged one stays refused. The ES256 check
// then runs once, not on every capabilities or exchange request.
func (g *Gate) verified(now time.Time) (Claims, Reason) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c := g.cache; c != nil && !now.Before(c.from) && now.Before(c.until) {
		return c.claims, c.reason
	}
	claims, reason, _ := Verify(g.license, g.keys, now)
	until := now.Add(time.Second) // not yet valid: look again soon
	switch reason {
	case ReasonNone:
		until = claims.ExpiresAt.Add(Leeway)
	case ReasonExpired, ReasonBadSignature, ReasonUnknownKID, ReasonMalformed, ReasonNoKeys:
		until = now.Add(100 * 365 * 24 * time.Hour)
	}
	g.cache = &verification{claims: claims, reason: reason, from: now, until: until}
	return claims, reason
}

// verification is one cached result of Verify and the window it holds in.
type verification struct {
	claims      Claims
	reason      Reason
	from, until time.Time
}

// decide turns a tier into a decision.
func decide(t mobileauth.Tier) Decision {
	if t.AllowsMobile() {
		return Decision{Enabled: true, Tier: t}
	}
	return Decision{Reason: DecisionLicense, Tier: t}
}
