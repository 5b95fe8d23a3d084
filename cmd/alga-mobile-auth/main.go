// Command alga-mobile-auth signs the AlgaPSA mobile app in to a self-hosted
// appliance. main only sets up signals and hands over to the cli package.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/nineminds/alga-mobile-auth/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, version)
	stop()
	os.Exit(code)
}
