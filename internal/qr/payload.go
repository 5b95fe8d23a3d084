package qr

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/nineminds/alga-mobile-auth/internal/allowlist"
)

// Scheme and Host are the fixed parts of the connect payload: the app
// registers the alga:// scheme and treats the host "server" as "set the
// server to the url parameter".
const (
	Scheme = "alga"
	Host   = "server"
)

// maxPayloadLen bounds what ParsePayload reads. A QR code at Medium recovery
// holds at most 2,331 bytes, so nothing longer can come from a scan.
const maxPayloadLen = 2331

// ErrInvalidPayload is wrapped by every ParsePayload error, so callers can
// tell "not a connect payload" from other failures with errors.Is.
var ErrInvalidPayload = errors.New("not a connect-this-server payload")

// Payload returns exactly alga://server?url=<percent-encoded origin> for the
// NEXTAUTH_URL origin (scheme://host[:port], no trailing slash). The origin
// is escaped with url.QueryEscape, so ':' becomes %3A and '/' becomes %2F —
// the same bytes the AlgaPSA web app's encodeURIComponent produces for an
// origin. A trailing slash is dropped so "https://h/" and "https://h" give
// the same code.
func Payload(origin string) string {
	return Scheme + "://" + Host + "?url=" + url.QueryEscape(strings.TrimRight(origin, "/"))
}

// ParsePayload mirrors the mobile app's QR scanner and returns the server
// origin the app would connect to, or an error wrapping ErrInvalidPayload.
//
// Like the app it trims surrounding white space, matches the scheme
// case-insensitively, requires the host "server", takes the first-and-only
// url parameter (percent-encoded or not) and ignores other parameters. It is
// stricter than the app where the app's leniency could only hide a mistake:
// the url must be a bare origin (no user info, path, query or fragment), a
// duplicated url parameter is refused, and plain http is accepted only for
// loopback hosts (localhost, 127.0.0.0/8, ::1). Release builds of the app
// refuse http altogether; development builds accept it for any host, which
// is why loopback is the only http a self-check may call valid.
//
// The returned origin has a lower-case scheme and host and keeps an explicit
// port, so ParsePayload(Payload(o)) == o for every canonical origin o.
func ParsePayload(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", invalid("empty payload")
	}
	if len(s) > maxPayloadLen {
		return "", invalid("payload longer than a QR code can hold")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", invalid("payload is not a URL")
	}
	if !strings.EqualFold(u.Scheme, Scheme) {
		return "", invalid("scheme is not alga://")
	}
	if u.Opaque != "" || u.User != nil || !strings.EqualFold(u.Host, Host) {
		return "", invalid("alga:// link is not the server link")
	}
	if u.Path != "" && u.Path != "/" {
		return "", invalid("server link has a path")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", invalid("query is malformed")
	}
	targets := q["url"]
	switch {
	case len(targets) == 0 || targets[0] == "":
		return "", invalid("url parameter is missing")
	case len(targets) > 1:
		return "", invalid("url parameter is given more than once")
	}
	return parseOrigin(targets[0])
}

// parseOrigin accepts scheme://host[:port] with an optional trailing slash
// and nothing else, and returns it in canonical form.
func parseOrigin(raw string) (string, error) {
	if raw != strings.TrimSpace(raw) {
		return "", invalid("url has surrounding white space")
	}
	t, err := url.Parse(raw)
	if err != nil {
		return "", invalid("url is not a URL")
	}
	scheme := strings.ToLower(t.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", invalid("url scheme must be https")
	}
	if t.Opaque != "" || t.Host == "" {
		return "", invalid("url has no host")
	}
	if t.User != nil {
		return "", invalid("url carries user info")
	}
	if (t.Path != "" && t.Path != "/") || t.RawPath != "" {
		return "", invalid("url has a path; it must be an origin")
	}
	if t.RawQuery != "" || t.ForceQuery || t.Fragment != "" || strings.ContainsAny(raw, "?#") {
		return "", invalid("url has a query or fragment; it must be an origin")
	}
	host := strings.ToLower(t.Hostname())
	if err := checkHost(host); err != nil {
		return "", err
	}
	// Brackets belong to IPv6 literals and IPv6 literals need them; anything
	// else ("[example.com]", a bare "::1") is a URL the app would misread.
	ip, ipErr := netip.ParseAddr(host)
	if strings.HasPrefix(t.Host, "[") != (ipErr == nil && ip.Is6()) {
		return "", invalid("url host brackets do not match an IPv6 literal")
	}
	if scheme == "http" && !allowlist.IsLoopback(host) {
		return "", invalid("url must use https (http is accepted only for loopback hosts)")
	}
	if strings.HasSuffix(t.Host, ":") {
		return "", invalid("url has an empty port")
	}
	if port := t.Port(); port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return "", invalid("url port is out of range")
		}
	}
	return scheme + "://" + strings.ToLower(t.Host), nil
}

// checkHost accepts an IP literal without a zone or a DNS name of
// letter-digit-hyphen labels (RFC 1123), which is all a phone can reach.
func checkHost(host string) error {
	if host == "" {
		return invalid("url has no host")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return invalid("url host has an IPv6 zone")
		}
		return nil
	}
	if len(host) > 253 {
		return invalid("url host is too long")
	}
	for _, label := range strings.Split(host, ".") {
		if !isLabel(label) {
			return invalid("url host is not a host name")
		}
	}
	return nil
}

// isLabel reports whether s is one lower-case DNS label: 1–63 letters,
// digits and inner hyphens.
func isLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

func invalid(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalidPayload, reason)
}
