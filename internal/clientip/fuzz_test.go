package clientip

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func FuzzClientIP(f *testing.F) {
	for _, s := range [][2]string{
		{"10.0.0.1:4000", "198.51.100.1, 203.0.113.7, 10.0.0.5"},
		{"10.0.0.1:4000", "[2001:db8::1]:80,::ffff:1.2.3.4, garbage"},
		{"198.51.100.9:1", "203.0.113.7"},
		{"[::1]:80", ",,, ,"},
		{"@", "1.2.3.4"},
		{"10.0.0.1", "fe80::1%eth0, 10.0.0.2:0"},
	} {
		f.Add(s[0], s[1])
	}
	trusted, err := ParseTrusted("10.0.0.0/8, ::1, 2001:db8:ffff::/48")
	if err != nil {
		f.Fatal(err)
	}
	r := NewResolver(trusted)
	f.Fuzz(func(t *testing.T, remote, xff string) {
		req := httptest.NewRequest(http.MethodGet, "http://svc.internal/", nil)
		req.RemoteAddr = remote
		// Several headers are one list; split the input to exercise that.
		for v := range strings.SplitSeq(xff, "\n") {
			req.Header.Add("X-Forwarded-For", v)
		}
		got := r.ClientIP(req)
		p := peer(req)
		switch {
		case !p.IsValid():
			if got.IsValid() {
				t.Fatalf("no peer, yet client %v", got)
			}
		case !r.isTrusted(p):
			if got != p {
				t.Fatalf("untrusted peer %v, yet client %v", p, got)
			}
		case !got.IsValid():
			t.Fatalf("trusted peer %v gave no client", p)
		}
		if got.Zone() != "" || got.Is4In6() {
			t.Fatalf("client %v not normalised", got)
		}
	})
}

func FuzzParseHop(f *testing.F) {
	for _, s := range []string{"203.0.113.7", " [2001:db8::1]:443 ", "[::1]", "1.2.3.4:99999", "fe80::1%eth0", "[", "]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := parseHop(s)
		if ok != a.IsValid() {
			t.Fatalf("parseHop(%q) = %v, %v", s, a, ok)
		}
		if ok && (a.Zone() != "" || a.Is4In6()) {
			t.Fatalf("parseHop(%q) = %v not normalised", s, a)
		}
	})
}

func FuzzForwardedHost(f *testing.F) {
	for _, s := range []string{"psa.example.com:8443", "[2001:db8::1]:443", "a b", "x/y", "user@h", "h:0", "[::1"} {
		f.Add(s, "HTTPS")
	}
	r := NewResolver([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	f.Fuzz(func(t *testing.T, xfh, xfp string) {
		req := httptest.NewRequest(http.MethodGet, "http://svc.internal/", nil)
		req.RemoteAddr = "10.0.0.1:1"
		req.Header.Set("X-Forwarded-Host", xfh)
		req.Header.Set("X-Forwarded-Proto", xfp)
		host := r.ForwardedHost(req)
		if host != req.Host {
			if strings.ContainsAny(host, "/@?#, \t\r\n%\\") || !strings.HasPrefix(strings.TrimSpace(xfh), host) {
				t.Fatalf("ForwardedHost accepted %q from %q", host, xfh)
			}
		}
		if p := r.ForwardedProto(req); p != "http" && p != "https" {
			t.Fatalf("ForwardedProto = %q", p)
		}
	})
}
