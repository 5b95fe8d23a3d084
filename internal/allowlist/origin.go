package allowlist

import (
	"net/netip"
	"net/url"
	"strings"
)

// IsLoopback reports whether host names this machine: "localhost", a name
// under ".localhost" (RFC 6761), or a loopback IP address. Case, a trailing
// dot and IPv6 brackets are ignored; a port is not expected (use HostName
// first on a host:port). It is the one loopback rule of the service: the
// NEXTAUTH_URL http check, the connect payload, and the development
// provider's addresses all use it.
func IsLoopback(host string) bool {
	h := strings.TrimSuffix(strings.Trim(strings.ToLower(strings.TrimSpace(host)), "[]"), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}

// SameOriginURLs reports whether two absolute URLs share scheme and host
// (with port), case-insensitively. A URL without a host never matches.
func SameOriginURLs(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	if errA != nil || errB != nil || ua.Host == "" {
		return false
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host)
}
