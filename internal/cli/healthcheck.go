package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/config"
)

// runHealthcheck probes the local /healthz; the container image has no
// shell or curl, so its HEALTHCHECK runs this.
func runHealthcheck(e Env) int {
	fs := flags("healthcheck")
	url := fs.String("url", "", "URL to probe (default: http://127.0.0.1:<port of ALGA_MOBILE_LISTEN_ADDR>/healthz)")
	if code, ok := parse(e, fs, "healthcheck [--url URL]", 0); !ok {
		return code
	}
	target := *url
	if target == "" {
		addr := config.DefaultListenAddr
		if cfg, _ := config.Load(); cfg != nil && cfg.ListenAddr != "" {
			addr = cfg.ListenAddr
		}
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return usageError(e, "healthcheck", "cannot read a port from %q", addr)
		}
		target = "http://127.0.0.1:" + port + "/healthz"
	}
	ctx, cancel := context.WithTimeout(e.Ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return usageError(e, "healthcheck", "bad --url")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unhealthy: %v\n", err)
		return ExitFail
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(e.Stderr, "unhealthy: %s answered %d\n", target, resp.StatusCode)
		return ExitFail
	}
	fmt.Fprintln(e.Stdout, "healthy")
	return ExitOK
}
