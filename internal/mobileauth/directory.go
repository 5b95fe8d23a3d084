package mobileauth

import (
	"fmt"
	"strings"
	"time"
)

// UserType says whether a user is staff of the MSP (internal) or a customer
// contact (client). Only internal users may use the mobile app.
type UserType string

// User types.
const (
	UserInternal UserType = "internal"
	UserClient   UserType = "client"
)

// ParseUserType accepts "internal" or "client" (case-insensitive).
func ParseUserType(s string) (UserType, error) {
	switch UserType(strings.ToLower(strings.TrimSpace(s))) {
	case UserInternal:
		return UserInternal, nil
	case UserClient:
		return UserClient, nil
	}
	return "", fmt.Errorf("user type %q: want internal or client", s)
}

// User is an entry of the directory: the people who may sign in.
type User struct {
	TenantID  string
	ID        string
	Email     string // stored lower-case; unique per tenant
	FirstName string
	LastName  string
	Type      UserType
	Active    bool
	CreatedAt time.Time
}

// Name is the display name the exchange response carries.
func (u User) Name() string {
	return strings.TrimSpace(u.FirstName + " " + u.LastName)
}

// Tenant is a customer of the appliance; Plan is nil when unset (which the
// hosted gate reads as pro, like AlgaPSA). Suspended is set only in
// appliance mode, from AlgaPSA's tenants.suspended_at: a suspended tenant
// gets no mobile access whatever its plan.
type Tenant struct {
	ID        string
	Plan      *Tier
	Suspended bool
}

// Member is a user with their tenant. User is nil when no such user
// exists; Tenant.Plan is nil when unset or when the tenant does not exist
// (both read as no plan by the gate).
type Member struct {
	User   *User
	Tenant Tenant
}

// Tier is a licensing tier. Order: essentials < solo < pro.
type Tier string

// Tiers.
const (
	TierEssentials Tier = "essentials"
	TierSolo       Tier = "solo"
	TierPro        Tier = "pro"
)

// ParseTier accepts the three tiers; "premium" counts as pro.
func ParseTier(s string) (Tier, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "essentials":
		return TierEssentials, nil
	case "solo":
		return TierSolo, nil
	case "pro", "premium":
		return TierPro, nil
	}
	return "", fmt.Errorf("tier %q: want essentials, solo or pro", s)
}

// Rank orders tiers; unknown tiers rank below essentials.
func (t Tier) Rank() int {
	switch t {
	case TierEssentials:
		return 1
	case TierSolo:
		return 2
	case TierPro:
		return 3
	}
	return 0
}

// AllowsMobile reports whether the tier includes mobile access (≥ solo).
func (t Tier) AllowsMobile() bool { return t.Rank() >= TierSolo.Rank() }
