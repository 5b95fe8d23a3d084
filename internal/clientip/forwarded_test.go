package clientip

import (
	"crypto/tls"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestForwardedHost(t *testing.T) {
	tests := []struct {
		name   string
		remote string
		xfh    []string
		want   string
	}{
		{"believes a trusted proxy", "10.0.0.1:1", []string{"psa.example.com"}, "psa.example.com"},
		{"keeps a port", "10.0.0.1:1", []string{"psa.example.com:8443"}, "psa.example.com:8443"},
		{"keeps the case as sent", "10.0.0.1:1", []string{"PSA.Example.com"}, "PSA.Example.com"},
		{"takes the first of a list", "10.0.0.1:1", []string{" psa.example.com , inner.svc"}, "psa.example.com"},
		{"takes the first header", "10.0.0.1:1", []string{"psa.example.com", "inner.svc"}, "psa.example.com"},
		{"accepts an IPv4 literal", "10.0.0.1:1", []string{"192.0.2.1:8080"}, "192.0.2.1:8080"},
		{"accepts an IPv6 literal", "10.0.0.1:1", []string{"[2001:db8::1]:8443"}, "[2001:db8::1]:8443"},
		{"accepts a bracketed IPv6 without a port", "10.0.0.1:1", []string{"[2001:db8::1]"}, "[2001:db8::1]"},
		{"ignores an untrusted peer", "198.51.100.9:1", []string{"evil.example"}, "svc.internal"},
		{"falls back without the header", "10.0.0.1:1", nil, "svc.internal"},
		{"refuses a path", "10.0.0.1:1", []string{"evil.example/x"}, "svc.internal"},
		{"refuses userinfo", "10.0.0.1:1", []string{"user@evil.example"}, "svc.internal"},
		{"refuses spaces inside", "10.0.0.1:1", []string{"a b.example"}, "svc.internal"},
		{"refuses an empty value", "10.0.0.1:1", []string{""}, "svc.internal"},
		{"refuses a port out of range", "10.0.0.1:1", []string{"psa.example.com:65536"}, "svc.internal"},
		{"refuses port zero", "10.0.0.1:1", []string{"psa.example.com:0"}, "svc.internal"},
		{"refuses an empty port", "10.0.0.1:1", []string{"psa.example.com:"}, "svc.internal"},
		{"refuses two ports", "10.0.0.1:1", []string{"psa.example.com:1:2"}, "svc.internal"},
		{"refuses a bare IPv6", "10.0.0.1:1", []string{"2001:db8::1"}, "svc.internal"},
		{"refuses an IPv6 zone", "10.0.0.1:1", []string{"[fe80::1%25eth0]"}, "svc.internal"},
		{"refuses an empty label", "10.0.0.1:1", []string{"psa..example.com"}, "svc.internal"},
		{"refuses a label edged by a hyphen", "10.0.0.1:1", []string{"-psa.example.com"}, "svc.internal"},
		{"refuses a trailing dot", "10.0.0.1:1", []string{"psa.example.com."}, "svc.internal"},
		{"refuses control characters", "10.0.0.1:1", []string{"psa\x00.example.com"}, "svc.internal"},
	}
	r := testResolver(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(tt.remote)
			for _, v := range tt.xfh {
				req.Header.Add("X-Forwarded-Host", v)
			}
			assert.Equal(t, tt.want, r.ForwardedHost(req))
		})
	}
}

func TestForwardedProto(t *testing.T) {
	tests := []struct {
		name   string
		remote string
		xfp    string
		tls    bool
		want   string
	}{
		{"believes https from a trusted proxy", "10.0.0.1:1", "https", false, "https"},
		{"believes http from a trusted proxy", "10.0.0.1:1", "http", true, "http"},
		{"lower-cases the scheme", "10.0.0.1:1", "HTTPS", false, "https"},
		{"takes the first of a list", "10.0.0.1:1", " https , http", false, "https"},
		{"ignores another scheme", "10.0.0.1:1", "ftp", false, "http"},
		{"ignores an untrusted peer", "198.51.100.9:1", "https", false, "http"},
		{"uses the connection's TLS", "198.51.100.9:1", "http", true, "https"},
		{"defaults to the connection without the header", "10.0.0.1:1", "", false, "http"},
	}
	r := testResolver(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(tt.remote)
			if tt.xfp != "" {
				req.Header.Set("X-Forwarded-Proto", tt.xfp)
			}
			if tt.tls {
				req.TLS = &tls.ConnectionState{}
			}
			assert.Equal(t, tt.want, r.ForwardedProto(req))
		})
	}
}
