package authflow

import (
	"maps"
	"slices"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/license"
)

// Capabilities is the SPEC §3.1 body, field for field. Reason is the
// beyond-AlgaPSA explanation when Enabled is false ("edition" or "license").
type Capabilities struct {
	Enabled               bool            `json:"enabled"`
	Reason                string          `json:"reason,omitempty"`
	Providers             map[string]bool `json:"providers"`
	HostedDomainAllowlist []string        `json:"hostedDomainAllowlist,omitempty"`
	AccessTTLSec          int             `json:"accessTtlSec"`
	RefreshTTLSec         int             `json:"refreshTtlSec"`
	OTTTTLSec             int             `json:"ottTtlSec"`
}

// InstallGate is the part of the license gate the capabilities need.
type InstallGate interface {
	Capabilities() license.Decision
}

// CapabilitiesService assembles the capabilities answer. The gate is asked
// on every call because a trial or license can expire while we run.
type CapabilitiesService struct {
	gate      InstallGate
	providers map[string]bool
	allowlist []string
	ttl       [3]int
}

// NewCapabilitiesService fixes the parts that only change with the config.
func NewCapabilitiesService(gate InstallGate, providers map[string]bool, allowlist []string, access, refresh, ott time.Duration) *CapabilitiesService {
	p := map[string]bool{"google": providers["google"], "microsoft": providers["microsoft"]}
	return &CapabilitiesService{gate: gate, providers: p, allowlist: allowlist,
		ttl: [3]int{int(access.Seconds()), int(refresh.Seconds()), int(ott.Seconds())}}
}

// Capabilities answers SPEC §3.1.
func (s *CapabilitiesService) Capabilities() Capabilities {
	d := s.gate.Capabilities()
	c := Capabilities{
		Enabled:               d.Enabled,
		Providers:             maps.Clone(s.providers),
		HostedDomainAllowlist: slices.Clone(s.allowlist),
		AccessTTLSec:          s.ttl[0],
		RefreshTTLSec:         s.ttl[1],
		OTTTTLSec:             s.ttl[2],
	}
	if !d.Enabled {
		c.Reason = d.Reason
	}
	return c
}
