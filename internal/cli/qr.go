package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nineminds/alga-mobile-auth/internal/config"
	"github.com/nineminds/alga-mobile-auth/internal/license"
	"github.com/nineminds/alga-mobile-auth/internal/qr"
)

// runQR is `qr`: the connect-this-server QR code in the terminal, with its
// payload in plain text below it (for typing, or for a scanner that fails).
func runQR(e Env) int {
	const cmd = "qr"
	fs := flags(cmd)
	light := fs.Bool("light", false, "draw for a terminal with a light background (default: dark background)")
	usage := cmd + " [--light]\n\n" +
		"Prints the QR code the AlgaPSA mobile app scans to connect to this server, and its payload\n" +
		"alga://server?url=<NEXTAUTH_URL origin>. Needs NEXTAUTH_URL."
	if code, ok := parse(e, fs, usage, 0); !ok {
		return code
	}
	cfg, err := config.Load()
	var problems config.Problems
	if errors.As(err, &problems) {
		for _, p := range problems {
			if p.Var == "NEXTAUTH_URL" {
				return fail(e, cmd, errors.New(p.String()))
			}
		}
	} else if err != nil {
		return fail(e, cmd, fmt.Errorf("read configuration: %w", err))
	}
	if cfg.PublicURL == nil {
		return fail(e, cmd, errors.New("NEXTAUTH_URL is not set; set it to the appliance's public URL, e.g. https://psa.example.com"))
	}
	// The terminal code is the same offer as /mobile/connect, which exists
	// only on self-host licensing (SPEC §3.8): refuse where that page is 404.
	if license.ParseEdition(cfg.Edition, cfg.NextPublicEdition) != license.Enterprise {
		return fail(e, cmd, errors.New("no connect QR on Community Edition: mobile sign-in is off and /mobile/connect answers 404; set EDITION=ee"))
	}
	if !cfg.SelfHostLicensing() {
		return fail(e, cmd, fmt.Errorf("no connect QR on hosted licensing (no ALGA_LICENSE, ALGA_LICENSE_FILE or ALGA_TRIAL_STARTED_AT is set): "+
			"/mobile/connect answers 404 too; give users the address %s to type, or configure the license", cfg.Origin()))
	}
	payload := qr.Payload(cfg.Origin())
	// The app's scanner refuses some origins (plain http to a remote host,
	// for one); say so rather than print a code that will not work.
	if _, err := qr.ParsePayload(payload); err != nil {
		fmt.Fprintf(e.Stderr, "warning: the mobile app will not accept this server: %v\n", err)
	}
	art := qr.Terminal(payload)
	if *light {
		art = qr.TerminalLight(payload)
	}
	if art == "" {
		return fail(e, cmd, errors.New("NEXTAUTH_URL is too long for a QR code"))
	}
	fmt.Fprint(e.Stdout, art)
	if !strings.HasSuffix(art, "\n") {
		fmt.Fprintln(e.Stdout)
	}
	fmt.Fprintf(e.Stdout, "\nScan with the AlgaPSA mobile app, or enter the server %s\n%s\n", cfg.Origin(), payload)
	return ExitOK
}
