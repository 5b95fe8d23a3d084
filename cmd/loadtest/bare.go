package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/harness"
)

// bareFlag, as the first argument, turns this program into the bare
// server: the ceiling the service is compared with. It runs as its own
// process, like the service, so both share the machine with the load
// generator in the same way.
const bareFlag = "-bare-server"

// runBare serves the bytes of -body at every path until SIGTERM. It prints
// "listening <addr>" once bound.
func runBare(args []string) int {
	fs := flag.NewFlagSet("loadtest "+bareFlag, flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	bodyPath := fs.String("body", "", "file whose bytes every response carries")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	body, err := os.ReadFile(*bodyPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare server:", err)
		return 1
	}
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare server:", err)
		return 1
	}
	fmt.Printf("listening %s\n", ln.Addr())
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "bare server:", err)
		return 1
	}
	return 0
}

// startBare re-executes this program as the bare server and returns its
// base URL.
func startBare(ctx context.Context, tmp string, body []byte) (*harness.Process, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	bodyPath := filepath.Join(tmp, "capabilities.json")
	if err := os.WriteFile(bodyPath, body, 0o600); err != nil {
		return nil, "", err
	}
	addr, err := harness.FreeAddr()
	if err != nil {
		return nil, "", err
	}
	p, err := harness.StartProcess(self, []string{bareFlag, "-listen", addr, "-body", bodyPath},
		[]string{"PATH=" + os.Getenv("PATH")}, filepath.Join(tmp, "bare.log"))
	if err != nil {
		return nil, "", err
	}
	base := "http://" + addr
	if err := p.WaitHTTP(ctx, base+"/", 10*time.Second); err != nil {
		p.Stop()
		return nil, "", fmt.Errorf("bare server: %w", err)
	}
	if !strings.Contains(p.LogTail(), "listening") {
		p.Stop()
		return nil, "", fmt.Errorf("bare server did not report its address:\n%s", p.LogTail())
	}
	return p, base, nil
}
