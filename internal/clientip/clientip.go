// Package clientip decides which address a request came from, and which host
// and scheme it was addressed to, believing X-Forwarded-* headers only when
// the connecting peer is a trusted proxy (ALGA_MOBILE_TRUSTED_PROXIES).
// Rate limits are keyed by the client IP, so believing these headers from
// anyone would let any client pick its own key (AlgaPSA's mistake).
package clientip

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ErrBadTrustedProxy is returned (wrapped) by ParseTrusted for an entry that
// is neither an IP address nor a CIDR.
var ErrBadTrustedProxy = errors.New("invalid trusted proxy")

// Loopback is what ParseTrusted returns for an empty list: a proxy on the
// same host (or the same pod) is trusted, nothing else.
func Loopback() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// ParseTrusted parses a comma-separated list of CIDRs and bare IP addresses
// (spaces and empty entries are ignored). An empty list means Loopback.
// Host bits are masked off ("10.1.2.3/8" is 10.0.0.0/8), and IPv4-mapped
// IPv6 prefixes become IPv4 prefixes, since addresses are compared unmapped.
func ParseTrusted(csv string) ([]netip.Prefix, error) {
	if strings.TrimSpace(csv) == "" {
		return Loopback(), nil
	}
	var out []netip.Prefix
	for entry := range strings.SplitSeq(csv, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		p, err := parsePrefix(entry)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return Loopback(), nil
	}
	return out, nil
}

func parsePrefix(entry string) (netip.Prefix, error) {
	if strings.Contains(entry, "%") {
		return netip.Prefix{}, fmt.Errorf("%w %q: IPv6 zones are not allowed", ErrBadTrustedProxy, entry)
	}
	var p netip.Prefix
	if strings.Contains(entry, "/") {
		var err error
		if p, err = netip.ParsePrefix(entry); err != nil {
			return netip.Prefix{}, fmt.Errorf("%w %q: not a CIDR such as 192.0.2.10/32 (list the proxy's own address, not its whole network)", ErrBadTrustedProxy, entry)
		}
	} else {
		a, err := netip.ParseAddr(entry)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%w %q: not an IP address such as 172.18.0.1 or a CIDR such as 192.0.2.10/32 (list the proxy's own address, not its whole network)", ErrBadTrustedProxy, entry)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return normalizePrefix(p), nil
}

// normalizePrefix masks host bits and turns an IPv4-mapped prefix into the
// IPv4 prefix it covers (addresses are matched after Unmap).
func normalizePrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// Resolver answers "who sent this request" for one list of trusted proxies.
// It is immutable and safe for concurrent use.
type Resolver struct {
	trusted []netip.Prefix
}

// NewResolver returns a Resolver trusting the given prefixes (typically from
// ParseTrusted). With none, no peer is trusted and forwarding headers are
// always ignored.
func NewResolver(trusted []netip.Prefix) *Resolver {
	r := &Resolver{trusted: make([]netip.Prefix, 0, len(trusted))}
	for _, p := range trusted {
		if p.IsValid() {
			r.trusted = append(r.trusted, normalizePrefix(p))
		}
	}
	return r
}

// isTrusted reports whether a (already normalised) is in a trusted prefix.
func (r *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Trusted reports whether the request's peer (the TCP connection's other
// end) is a trusted proxy, whose forwarding headers may be believed.
func (r *Resolver) Trusted(req *http.Request) bool {
	p := peer(req)
	return p.IsValid() && r.isTrusted(p)
}

// ClientIP returns the address of the client that sent req. From an
// untrusted peer that is the peer itself, whatever X-Forwarded-For says. From
// a trusted peer, X-Forwarded-For (all its headers, in order, as one list) is
// walked from the right, skipping trusted proxies, and the first untrusted
// address is the client: entries to its left were written by the client and
// may be forged. If every entry is trusted, the leftmost is returned; an
// entry that does not parse stops the walk at the last good hop to its right.
//
// Addresses come back without zone and with IPv4-mapped IPv6 unmapped. The
// zero Addr means the peer is not an IP address (for example a Unix socket).
func (r *Resolver) ClientIP(req *http.Request) netip.Addr {
	p := peer(req)
	if !p.IsValid() || !r.isTrusted(p) {
		return p
	}
	return r.walkForwardedFor(req.Header.Values("X-Forwarded-For"), p)
}

// walkForwardedFor is the rightmost-untrusted walk over the X-Forwarded-For
// header values, starting from the trusted peer. It does not allocate.
func (r *Resolver) walkForwardedFor(values []string, last netip.Addr) netip.Addr {
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		if strings.TrimSpace(v) == "" {
			continue // an empty header adds no hops
		}
		for end := len(v); ; {
			comma := strings.LastIndexByte(v[:end], ',')
			hop, ok := parseHop(v[comma+1 : end])
			if !ok {
				return last
			}
			if !r.isTrusted(hop) {
				return hop
			}
			last = hop
			if comma < 0 {
				break
			}
			end = comma
		}
	}
	return last
}

// parseHop parses one X-Forwarded-For entry: an IP address, optionally with a
// port ("192.0.2.1:443", "[2001:db8::1]:443") or in brackets ("[2001:db8::1]"),
// as various proxies write them.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return normalizeAddr(a), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalizeAddr(ap.Addr()), true
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() {
			return normalizeAddr(a), true
		}
	}
	return netip.Addr{}, false
}

// peer returns the address of the connection's other end from RemoteAddr
// ("ip:port", or a bare IP as some test harnesses set it).
func peer(req *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(req.RemoteAddr); err == nil {
		return normalizeAddr(ap.Addr())
	}
	if a, err := netip.ParseAddr(req.RemoteAddr); err == nil {
		return normalizeAddr(a)
	}
	return netip.Addr{}
}

// normalizeAddr drops the zone (Prefix.Contains never matches a zoned
// address, and rate-limit keys should not vary by interface) and unmaps
// IPv4-mapped IPv6, so one client has one spelling.
func normalizeAddr(a netip.Addr) netip.Addr {
	return a.WithZone("").Unmap()
}
