package allowlist

import (
	"net/netip"
	"net/url"
	"strings"
)

// MobileRedirect parses the handoff's redirect parameter and reports
// whether SPEC §3.3 allows it: scheme alga, exp or https, and either host
// "auth" with path "/callback", or a path ending in "/auth/callback".
// User info and fragments are refused: neither belongs in a deep link and
// both are classic smuggling vectors.
func MobileRedirect(raw string) (*url.URL, bool) {
	if raw == "" || len(raw) > 2048 || strings.ContainsAny(raw, "\\\x00\r\n\t ") {
		return nil, false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil || u.Fragment != "" {
		return nil, false
	}
	switch strings.ToLower(u.Scheme) {
	case "alga", "exp", "https":
	default:
		return nil, false
	}
	if strings.EqualFold(u.Host, "auth") && u.Path == "/callback" {
		return u, true
	}
	if u.Host != "" && strings.HasSuffix(u.Path, "/auth/callback") {
		return u, true
	}
	return nil, false
}

// RedirectHostTrusted is our rule on top of SPEC §3.3 (a deliberate,
// documented departure): an alga:// redirect only ever reaches the app, but
// an https or exp redirect names a host, and SPEC's rule alone would let a
// link send a signed-in browser's OTT to any site whose path ends in
// /auth/callback. So, compared by exact origin:
//   - https: NEXTAUTH_URL's host on NEXTAUTH_URL's own port or on 443, or
//     a host of the allowlist on 443; any other port (another service on
//     the same machine) is refused;
//   - exp (Expo development clients): only a loopback or private address
//     (RFC 1918, IPv6 ULA), never link-local (169.254.169.254 is the cloud
//     metadata service) nor a name;
//   - for every scheme, a path with an empty segment ("//") or a dot
//     segment ("." or "..", also percent-encoded) is refused: a proxy or a
//     client that normalises it may reach another path than the one judged.
func RedirectHostTrusted(u *url.URL, origin string, hostAllowlist []string) bool {
	if !cleanPath(u) {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "alga":
		return true
	case "https":
		return httpsTrusted(u, origin, hostAllowlist)
	case "exp":
		return expTrusted(u.Hostname())
	}
	return false
}

// httpsTrusted applies the https part of RedirectHostTrusted.
func httpsTrusted(u *url.URL, origin string, hostAllowlist []string) bool {
	port := u.Port()
	if port == "" {
		port = "443"
	}
	h := HostName(u.Host)
	if o, err := url.Parse(origin); err == nil && o.Host != "" && h == HostName(o.Host) {
		own := o.Port()
		if own == "" && strings.EqualFold(o.Scheme, "http") {
			own = "80"
		}
		if port == "443" || port == own {
			return true
		}
	}
	return port == "443" && Contains(hostAllowlist, h)
}

// expTrusted: an IP literal that is loopback or private, or "localhost".
func expTrusted(host string) bool {
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		return ip.IsLoopback() || ip.IsPrivate()
	}
	return IsLoopback(host)
}

// cleanPath refuses empty and dot segments in the path, raw or decoded.
func cleanPath(u *url.URL) bool {
	for _, p := range []string{u.EscapedPath(), u.Path} {
		if strings.Contains(p, "//") {
			return false
		}
		for _, seg := range strings.Split(p, "/") {
			if d, err := url.PathUnescape(seg); err != nil || d == "." || d == ".." {
				return false
			}
		}
	}
	return true
}

// WithParams returns redirect with params added, keeping its existing
// query parameters (SPEC §3.3 step 7).
func WithParams(redirect *url.URL, params url.Values) string {
	u := *redirect
	q := u.Query()
	for k, vs := range params {
		q.Del(k)
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// SameOrigin returns callbackURL as a safe path-absolute reference when it
// points at origin (or is already a path on it), and "" otherwise. Only the
// path, query and fragment survive, so the browser can never be sent to
// another host: "//evil", "/\evil", "https://evil" and encoded variants are
// all dropped.
func SameOrigin(origin, callbackURL string) string {
	if callbackURL == "" || len(callbackURL) > 4096 || strings.ContainsAny(callbackURL, "\\\x00\r\n\t") {
		return ""
	}
	o, err := url.Parse(origin)
	if err != nil {
		return ""
	}
	u, err := url.Parse(callbackURL)
	if err != nil || u.Opaque != "" || u.User != nil {
		return ""
	}
	if u.Scheme != "" || u.Host != "" {
		if !strings.EqualFold(u.Scheme, o.Scheme) || !strings.EqualFold(u.Host, o.Host) {
			return ""
		}
	}
	p := u.EscapedPath()
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return ""
	}
	// A decoded path starting with "//" or "/\" would be a network-path
	// reference to some browsers once unescaped.
	if dp, err := url.PathUnescape(p); err != nil || strings.HasPrefix(dp, "//") || strings.HasPrefix(dp, "/\\") {
		return ""
	}
	out := p
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out
}
