// Package allowlist holds the host and redirect rules of SPEC §3.2–§4 as
// pure functions: the mobile host allowlist, the deep-link redirects the
// handoff accepts, and the same-origin rule for callbackUrl.
package allowlist

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// Parse reads ALGA_MOBILE_HOST_ALLOWLIST: comma-separated host names,
// trimmed, lower-cased, empties dropped, duplicates removed. Entries that
// look like URLs, or carry a port, path, query or user info, are refused:
// the app compares bare host names, so such an entry would never match.
// Every bad entry is reported, not just the first.
func Parse(csv string) ([]string, error) {
	var hosts []string
	var errs []error
	seen := map[string]bool{}
	for _, raw := range strings.Split(csv, ",") {
		h := strings.ToLower(strings.TrimSpace(raw))
		if h == "" {
			continue
		}
		if err := checkHost(h); err != nil {
			errs = append(errs, fmt.Errorf("entry %q: %w", truncate(strings.TrimSpace(raw)), err))
			continue
		}
		h = strings.TrimSuffix(h, ".")
		if !seen[h] {
			seen[h] = true
			hosts = append(hosts, h)
		}
	}
	return hosts, errors.Join(errs...)
}

func checkHost(h string) error {
	switch {
	case strings.Contains(h, "://"):
		return errors.New("is a URL; write only the host name, e.g. psa.example.com")
	case strings.ContainsAny(h, "/?#"):
		return errors.New("has a path, query or fragment; write only the host name")
	case strings.Contains(h, "@"):
		return errors.New("has user info; write only the host name")
	case strings.Contains(h, ":") && net.ParseIP(strings.Trim(h, "[]")) == nil:
		return errors.New("has a port; write the host name without it")
	case strings.HasPrefix(h, "["):
		return errors.New("has brackets or a port; write the bare IP address")
	}
	if net.ParseIP(h) != nil {
		return nil
	}
	return checkDNSName(strings.TrimSuffix(h, "."))
}

func checkDNSName(h string) error {
	if len(h) == 0 || len(h) > 253 {
		return errors.New("is not a valid host name")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("is not a valid host name")
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return errors.New("is not a valid host name (letters, digits, '-' and '.' only)")
			}
		}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// HostName returns the host part of a Host header value (port stripped,
// lower-cased, trailing dot removed, IPv6 brackets removed).
func HostName(hostport string) string {
	h := strings.ToLower(strings.TrimSpace(hostport))
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.Trim(h, "[]"), ".")
	return h
}

// Allowed applies SPEC §4: an empty list allows only the appliance's own
// host; otherwise the request host must be on the list. Comparison is
// case-insensitive and ignores the port.
func Allowed(list []string, ownHost, requestHost string) bool {
	h := HostName(requestHost)
	if h == "" {
		return false
	}
	if len(list) == 0 {
		return h == HostName(ownHost)
	}
	for _, a := range list {
		if a == h {
			return true
		}
	}
	return false
}

// Contains reports whether host is on the list (used for the startup
// warning when the appliance's own host is excluded).
func Contains(list []string, host string) bool {
	h := HostName(host)
	for _, a := range list {
		if a == h {
			return true
		}
	}
	return false
}
