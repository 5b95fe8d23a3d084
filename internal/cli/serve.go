package cli

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/nineminds/alga-mobile-auth/internal/app"
	"github.com/nineminds/alga-mobile-auth/internal/config"
)

// defaultMemoryLimit is the Go runtime's soft memory limit for serve.
const defaultMemoryLimit = 40 << 20

func runServe(e Env) int {
	fs := flags("serve")
	if code, ok := parse(e, fs, "serve\n\nRuns the service. Configuration comes from the environment; see README.", 0); !ok {
		return code
	}
	cfg, err := config.Load()
	if err == nil {
		err = cfg.RequirePublicURL()
	}
	if err != nil {
		fmt.Fprintf(e.Stderr, "alga-mobile-auth serve: %v\nRun 'alga-mobile-auth check' for a full report.\n", err)
		return ExitFail
	}
	// A soft memory limit keeps the heap (and RSS) small on a busy
	// appliance; GOMEMLIMIT in the environment overrides it.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	a, err := app.Open(e.Ctx, cfg, app.Options{Version: e.Version, LogWriter: os.Stderr, Exclusive: true})
	if err != nil {
		return fail(e, "serve", err)
	}
	defer a.Close()
	err = a.Serve(e.Ctx, func(addr string) {
		a.Log.Info("listening", "addr", addr)
	})
	if err != nil && !errors.Is(err, e.Ctx.Err()) {
		return fail(e, "serve", err)
	}
	return ExitOK
}
