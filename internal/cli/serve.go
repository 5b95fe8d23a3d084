package cli

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"time"

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
	// serve is as strict as check on what can never work, in check's own
	// words, without probing (opening the store is serve's own first step).
	report := BuildReport(e.Ctx, cfg, err, time.Now, false)
	if fatal := report.Fatal(); len(fatal) > 0 {
		fmt.Fprintf(e.Stderr, "alga-mobile-auth serve: refusing to start: %d problem(s) that can never work:\n", len(fatal))
		fatal.writeFindings(e.Stderr)
		fmt.Fprintln(e.Stderr, "Run 'alga-mobile-auth check' for a full report.")
		return ExitFail
	}
	// A soft memory limit keeps the heap (and RSS) small on a busy
	// appliance; GOMEMLIMIT in the environment overrides it.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	a, err := app.Open(e.Ctx, cfg, app.Options{Version: e.Version, LogWriter: e.Stderr, Exclusive: true})
	if err != nil {
		return fail(e, "serve", err)
	}
	defer func() { _ = a.Close() }()
	// What the service answers on purpose (capabilities tells the app) and
	// check's warnings: once, at start, in check's words.
	for _, f := range report.StartupWarnings() {
		attrs := []any{"check", string(f.Severity)}
		if f.Fix != "" {
			attrs = append(attrs, "fix", f.Fix)
		}
		a.Log.WarnContext(e.Ctx, f.Subject+": "+f.Text, attrs...)
	}
	err = a.Serve(e.Ctx, func(addr string) {
		a.Log.Info("listening", "addr", addr)
	})
	if err != nil && !errors.Is(err, e.Ctx.Err()) {
		return fail(e, "serve", err)
	}
	return ExitOK
}
