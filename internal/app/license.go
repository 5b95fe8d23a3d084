package app

import (
	"fmt"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/config"
	"github.com/nineminds/alga-mobile-auth/internal/license"
)

// NewGate builds the license gate from the configuration. A key file that
// cannot be read is returned as keysErr (the gate then has no keys, so a
// configured license reports no_keys) rather than stopping the service:
// the operator sees the reason in the log and in `check`.
func NewGate(cfg *config.Config, now func() time.Time) (gate *license.Gate, keysErr error) {
	var keys license.Keys
	if cfg.LicensePublicKeys != "" {
		k, err := license.LoadKeys(cfg.LicensePublicKeys)
		if err != nil {
			keysErr = fmt.Errorf("ALGA_LICENSE_PUBLIC_KEYS: %w", err)
		} else {
			keys = k
		}
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
