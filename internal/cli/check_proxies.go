package cli

import (
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/nineminds/alga-mobile-auth/internal/clientip"
	"github.com/nineminds/alga-mobile-auth/internal/config"
)

// inContainer reports whether this process runs in a container (Docker,
// Podman, Kubernetes), where a reverse proxy never connects from loopback.
// A variable so that tests can choose.
var inContainer = func() bool {
	for _, f := range []string{"/.dockerenv", "/run/.containerenv"} {
		if _, err := os.Stat(f); err == nil {
			return true
		}
	}
	return os.Getenv("KUBERNETES_SERVICE_HOST") != ""
}

// checkTrustedProxies explains whose X-Forwarded-For is believed. The trap
// is the default (loopback) in a container: a proxy on the host reaches a
// published port from the bridge network's gateway (172.17.0.1, or the
// compose network's gateway), not from 127.0.0.1, so its headers are
// ignored and every phone shares the proxy's address, hence one rate-limit
// bucket: the 11th exchange in a minute blocks everyone for 5 minutes.
func checkTrustedProxies(r *Report, cfg *config.Config, container bool) {
	const v = "ALGA_MOBILE_TRUSTED_PROXIES"
	loopbackOnly := slices.Equal(cfg.TrustedProxies, clientip.Loopback())
	switch {
	case loopbackOnly && container:
		r.add(Warning, v, "loopback only, but this runs in a container: a reverse proxy on the host reaches it from the "+
			"bridge network's gateway (e.g. 172.17.0.1), never from 127.0.0.1, so its X-Forwarded-For is ignored and every "+
			"phone shares the proxy's address, hence one rate-limit bucket (the 11th sign-in in a minute blocks everyone for 5 minutes)",
			"set "+v+" to the address the proxy connects from: the gateway of the container's network "+
				"(docker network inspect <network> --format '{{(index .IPAM.Config 0).Gateway}}'), or the proxy container's own address "+
				"(one address, never a whole network: any host in it could choose its own client IP); "+
				"the service logs the peer it saw (\"not a trusted proxy\") once a minute")
	case loopbackOnly:
		r.add(OK, v, "loopback only: X-Forwarded-For is believed from a reverse proxy on this host; a proxy elsewhere "+
			"(or on the host while this runs in a container) must be listed", "")
	default:
		names := make([]string, len(cfg.TrustedProxies))
		var wide []string
		for i, p := range cfg.TrustedProxies {
			names[i] = prefixText(p)
			if tooWide(p) {
				wide = append(wide, names[i])
			}
		}
		if len(wide) > 0 {
			r.add(Warning, v, strings.Join(names, ",")+": "+strings.Join(wide, ", ")+" is a whole network: any host in it "+
				"can choose the client address the service believes (X-Forwarded-For), dodging the per-client rate limits "+
				"and writing any address into the audit trail",
				"list the proxy's own address (e.g. 172.18.0.1 or 192.0.2.10/32), or at most the pod range of the nodes "+
					"its pods run on (a /24 per node on k3s)")
			return
		}
		r.add(OK, v, strings.Join(names, ","), "")
	}
}

// tooWide reports a trusted range wider than one node's pod range (an IPv4
// /24) or one subnet (an IPv6 /64): beyond that it takes in hosts that are
// not the proxy.
func tooWide(p netip.Prefix) bool {
	if p.Addr().Is4() || p.Addr().Is4In6() {
		bits := p.Bits()
		if p.Addr().Is4In6() {
			bits -= 96
		}
		return bits < 24
	}
	return p.Bits() < 64
}

// prefixText writes a single-address prefix as the address.
func prefixText(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}
