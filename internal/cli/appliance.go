package cli

import (
	"fmt"

	"github.com/nineminds/alga-mobile-auth/internal/config"
)

// refusedInApplianceMode wraps the users and tenants subcommands: in
// appliance mode (SPEC §8.2) users and plans live in AlgaPSA's database,
// which this service never writes users or plans to, so these commands
// would edit a directory nobody reads. They refuse with exit 1 (the
// command line is fine; the configuration makes it pointless), and --help
// still works.
func refusedInApplianceMode(group string, cmds []*command) []*command {
	for _, c := range cmds {
		run, name := c.run, group+" "+c.name
		c.run = func(e Env) int {
			for _, a := range e.Args {
				if isHelp(a) {
					return run(e)
				}
			}
			// Only the mode matters here; other problems are check's to report.
			if cfg, _ := config.Load(); cfg != nil && cfg.ApplianceMode() {
				fmt.Fprintf(e.Stderr, "alga-mobile-auth %s: refused in appliance mode (%s is set): users and their plans live in AlgaPSA, "+
					"so add, disable or re-plan them in AlgaPSA's web app; this service reads them from AlgaPSA's database\n",
					name, cfg.Appliance.DatabaseFrom)
				return ExitFail
			}
			return run(e)
		}
	}
	return cmds
}
