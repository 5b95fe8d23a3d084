package clientip

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// ForwardedHost returns the host the client addressed: the first value of
// X-Forwarded-Host when the peer is trusted and the value is a sane
// host[:port], otherwise req.Host. The value is returned as sent (not
// lower-cased).
func (r *Resolver) ForwardedHost(req *http.Request) string {
	if r.Trusted(req) {
		if h := firstValue(req.Header.Get("X-Forwarded-Host")); validHost(h) {
			return h
		}
	}
	return req.Host
}

// ForwardedProto returns the scheme the client used, "http" or "https": the
// first value of X-Forwarded-Proto when the peer is trusted and the value is
// one of those two (any case), otherwise what the connection itself was.
func (r *Resolver) ForwardedProto(req *http.Request) string {
	if r.Trusted(req) {
		switch p := firstValue(req.Header.Get("X-Forwarded-Proto")); {
		case strings.EqualFold(p, "https"):
			return "https"
		case strings.EqualFold(p, "http"):
			return "http"
		}
	}
	if req.TLS != nil {
		return "https"
	}
	return "http"
}

// firstValue is the first comma-separated element of a header value: the one
// the first (client-facing) proxy wrote when a chain of proxies appends.
func firstValue(v string) string {
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v)
}

// validHost reports whether h is a DNS name or IP literal, with an optional
// port: "example.com", "example.com:8443", "192.0.2.1", "[2001:db8::1]:443".
// Anything else (paths, userinfo, spaces, bare IPv6 with colons) is refused,
// because the host ends up in redirects and allowlist checks.
func validHost(h string) bool {
	if h == "" || len(h) > 260 {
		return false
	}
	host, port := h, ""
	if h[0] == '[' {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		a, err := netip.ParseAddr(h[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return false
		}
		rest := h[end+1:]
		if rest == "" {
			return true
		}
		if rest[0] != ':' {
			return false
		}
		return validPort(rest[1:])
	}
	if i := strings.IndexByte(h, ':'); i >= 0 {
		host, port = h[:i], h[i+1:]
		if !validPort(port) {
			return false
		}
	}
	return validHostname(host)
}

// validHostname accepts dot-separated labels of letters, digits, '-' and '_'
// (1–63 characters each, 253 in all); IPv4 literals fit this too.
func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !isHostChar(c) {
				return false
			}
		}
	}
	return true
}

func isHostChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// validPort accepts a decimal port 1–65535 without sign or leading zeros.
func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	for _, c := range []byte(p) {
		if c < '0' || c > '9' {
			return false
		}
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}
