package license

import "strings"

// Edition is the AlgaPSA edition the appliance runs.
type Edition string

// Editions.
const (
	// Community Edition: mobile sign-in is always off.
	Community Edition = "community"
	// Enterprise Edition: mobile sign-in is governed by the license or the
	// hosted tenant plan.
	Enterprise Edition = "enterprise"
)

// ParseEdition reads the EDITION and NEXT_PUBLIC_EDITION values the way
// AlgaPSA does: "ee" or "enterprise" in either one (case-insensitive,
// trimmed) is Enterprise; anything else, including nothing, is Community.
// It never fails: an unrecognised value falls back to the edition that
// grants nothing.
func ParseEdition(edition, nextPublicEdition string) Edition {
	for _, v := range []string{edition, nextPublicEdition} {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "ee", "enterprise":
			return Enterprise
		}
	}
	return Community
}
