// Package cli implements the binary's subcommands (SPEC §7). Every
// subcommand reads the same environment as serve, has --help, and exits 2
// with a one-line reason on a wrong flag or value.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitFail  = 1
	ExitUsage = 2
)

// Env is what a subcommand gets: its arguments and where to write.
type Env struct {
	Ctx     context.Context
	Args    []string
	Stdout  io.Writer
	Stderr  io.Writer
	Version string
}

// command is one subcommand (or a group with children).
type command struct {
	name    string
	summary string
	run     func(e Env) int
	sub     []*command
}

func commands() []*command {
	return []*command{
		{name: "serve", summary: "run the service (migrates the store first)", run: runServe},
		{name: "check", summary: "check the configuration; exit 0 when mobile sign-in can work", run: runCheck},
		{name: "users", summary: "manage the user directory", sub: refusedInApplianceMode("users", usersCommands())},
		{name: "tenants", summary: "manage tenants", sub: refusedInApplianceMode("tenants", tenantsCommands())},
		{name: "audit", summary: "list recent audit events", run: runAudit},
		{name: "qr", summary: "print the connect-this-server QR code", run: runQR},
		{name: "keys", summary: "manage access-token signing keys", sub: keysCommands()},
		{name: "migrate", summary: "create or upgrade the database schema", run: runMigrate},
		{name: "secret", summary: "print a new random ALGA_MOBILE_SECRET_KEY", run: runSecret},
		{name: "healthcheck", summary: "probe /healthz of the local server (for container HEALTHCHECK)", run: runHealthcheck},
		{name: "version", summary: "print the version", run: runVersion},
	}
}

// Main dispatches args (without the program name) and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, version string) int {
	return dispatch(Env{Ctx: ctx, Args: args, Stdout: stdout, Stderr: stderr, Version: version},
		"alga-mobile-auth", commands())
}

func dispatch(e Env, prefix string, cmds []*command) int {
	if len(e.Args) == 0 || isHelp(e.Args[0]) {
		w := e.Stdout
		code := ExitOK
		if len(e.Args) == 0 {
			w, code = e.Stderr, ExitUsage
			fmt.Fprintf(w, "%s: missing command (run %s --help)\n\n", prefix, prefix)
		}
		printCommands(w, prefix, cmds)
		return code
	}
	name := e.Args[0]
	for _, c := range cmds {
		if c.name != name {
			continue
		}
		e.Args = e.Args[1:]
		if c.sub != nil {
			return dispatch(e, prefix+" "+name, c.sub)
		}
		return c.run(e)
	}
	fmt.Fprintf(e.Stderr, "%s: unknown command %q (run %s --help)\n", prefix, name, prefix)
	return ExitUsage
}

func isHelp(s string) bool { return s == "-h" || s == "--help" || s == "-help" || s == "help" }

func printCommands(w io.Writer, prefix string, cmds []*command) {
	fmt.Fprintf(w, "Usage: %s <command> [flags]\n\nCommands:\n", prefix)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nConfiguration comes from the environment (see README). Run '%s <command> --help' for a command's flags.\n", prefix)
}

// flags builds a FlagSet whose errors we report ourselves, in one line.
func flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse handles --help (usage on stdout, exit 0) and bad flags (one line
// on stderr, exit 2). It returns ok=false when the caller must return code.
func parse(e Env, fs *flag.FlagSet, usage string, maxArgs int) (code int, ok bool) {
	err := fs.Parse(e.Args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintln(e.Stdout, "Usage: alga-mobile-auth "+usage)
		fs.SetOutput(e.Stdout)
		fs.PrintDefaults()
		return ExitOK, false
	case err != nil:
		fmt.Fprintf(e.Stderr, "alga-mobile-auth %s: %v\n", fs.Name(), err)
		return ExitUsage, false
	case fs.NArg() > maxArgs:
		fmt.Fprintf(e.Stderr, "alga-mobile-auth %s: unexpected argument %q\n", fs.Name(), fs.Arg(maxArgs))
		return ExitUsage, false
	}
	return ExitOK, true
}

// usageError prints a one-line reason and returns ExitUsage.
func usageError(e Env, cmd, format string, args ...any) int {
	fmt.Fprintf(e.Stderr, "alga-mobile-auth %s: %s\n", cmd, fmt.Sprintf(format, args...))
	return ExitUsage
}

// fail prints an operational error and returns ExitFail.
func fail(e Env, cmd string, err error) int {
	msg := err.Error()
	fmt.Fprintf(e.Stderr, "alga-mobile-auth %s: %s\n", cmd, strings.TrimSpace(msg))
	return ExitFail
}

func runVersion(e Env) int {
	fs := flags("version")
	if code, ok := parse(e, fs, "version", 0); !ok {
		return code
	}
	fmt.Fprintln(e.Stdout, "alga-mobile-auth "+e.Version)
	return ExitOK
}
