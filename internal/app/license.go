package app

import (
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/config"
	"github.com/nineminds/alga-mobile-auth/internal/license"
)

// NewGate builds the license gate from the configuration. Keys that
// cannot be loaded from ALGA_LICENSE_PUBLIC_KEYS are returned as keysErr,
// license.LoadKeys's own error, which names the path but not the variable
// (its reporters, check and the startup log, name it once). The gate then
// has no keys, so a configured license reports no_keys, rather than the
// service stopping; without a license no key is needed (license.NoKeys
// tells an absent or empty source, which is fine until one is).
func NewGate(cfg *config.Config, now func() time.Time) (gate *license.Gate, keysErr error) {
	var keys license.Keys
	if cfg.LicensePublicKeys != "" {
		keys, keysErr = license.LoadKeys(cfg.LicensePublicKeys)
	}
	gate = license.NewGate(license.Options{
		Edition:        license.ParseEdition(cfg.Edition, cfg.NextPublicEdition),
		License:        cfg.License.Value(),
		Keys:           keys,
		TrialStartedAt: cfg.TrialStartedAt,
		Now:            now,
	})
	return gate, keysErr
}
