package qr_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/qr"
)

func TestPayload(t *testing.T) {
	tests := []struct {
		name   string
		origin string
		want   string
	}{
		{"https origin without a port", "https://helpdesk.acme.com", "alga://server?url=https%3A%2F%2Fhelpdesk.acme.com"},
		{"https origin with a port", "https://helpdesk.acme.com:8443", "alga://server?url=https%3A%2F%2Fhelpdesk.acme.com%3A8443"},
		{"http loopback origin with a port", "http://localhost:3000", "alga://server?url=http%3A%2F%2Flocalhost%3A3000"},
		{"http loopback IP without a port", "http://127.0.0.1", "alga://server?url=http%3A%2F%2F127.0.0.1"},
		{"IPv6 literal", "https://[::1]:8443", "alga://server?url=https%3A%2F%2F%5B%3A%3A1%5D%3A8443"},
		{"drops a trailing slash", "https://helpdesk.acme.com/", "alga://server?url=https%3A%2F%2Fhelpdesk.acme.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, qr.Payload(tt.origin))
		})
	}
}

func TestParsePayloadRoundTrip(t *testing.T) {
	origins := []string{
		"https://helpdesk.acme.com",
		"https://helpdesk.acme.com:8443",
		"https://psa.example",
		"https://10.0.0.5",
		"https://[2001:db8::1]:443",
		"http://localhost:3000",
		"http://app.localhost:8080",
		"http://127.0.0.1:8080",
		"http://[::1]:8080",
	}
	for _, origin := range origins {
		t.Run(origin, func(t *testing.T) {
			got, err := qr.ParsePayload(qr.Payload(origin))
			require.NoError(t, err)
			assert.Equal(t, origin, got)
		})
	}
}

func TestParsePayloadAccepts(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    string
	}{
		{"the app's own test payload", "alga://server?url=https%3A%2F%2Fhelpdesk.acme.com", "https://helpdesk.acme.com"},
		{"an unencoded url parameter, as the app does", "alga://server?url=https://helpdesk.acme.com", "https://helpdesk.acme.com"},
		{"surrounding white space", "  alga://server?url=https%3A%2F%2Fh.example\n", "https://h.example"},
		{"an upper-case scheme and host", "ALGA://SERVER?url=https%3A%2F%2FH.Example", "https://h.example"},
		{"a trailing slash on the server link", "alga://server/?url=https%3A%2F%2Fh.example", "https://h.example"},
		{"a trailing slash on the origin", "alga://server?url=https%3A%2F%2Fh.example%2F", "https://h.example"},
		{"other parameters, ignored like the app does", "alga://server?v=2&url=https%3A%2F%2Fh.example", "https://h.example"},
		{"an upper-case origin scheme", "alga://server?url=HTTPS%3A%2F%2Fh.example", "https://h.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := qr.ParsePayload(tt.payload)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParsePayloadRefuses(t *testing.T) {
	tests := []struct {
		name    string
		payload string
	}{
		{"an empty payload", ""},
		{"a blank payload", "   "},
		{"a raw https URL (not a connect payload)", "https://helpdesk.acme.com"},
		{"a bare host name", "helpdesk.acme.com"},
		{"another scheme", "algo://server?url=https%3A%2F%2Fh.example"},
		{"a javascript: payload", "javascript:alert(1)"},
		{"another alga:// deep link", "alga://ticket/123"},
		{"the sign-in deep link", "alga://signin?url=https%3A%2F%2Fh.example"},
		{"an opaque alga: URL", "alga:server?url=https%3A%2F%2Fh.example"},
		{"user info on the server link", "alga://evil@server?url=https%3A%2F%2Fh.example"},
		{"a path on the server link", "alga://server/x?url=https%3A%2F%2Fh.example"},
		{"a missing url parameter", "alga://server"},
		{"an empty url parameter", "alga://server?url="},
		{"a duplicated url parameter", "alga://server?url=https%3A%2F%2Fa.example&url=https%3A%2F%2Fb.example"},
		{"malformed percent-encoding", "alga://server?url=%zz"},
		{"a url with a path", "alga://server?url=https%3A%2F%2Fh.example%2Fapi"},
		{"a url with an encoded path", "alga://server?url=https%3A%2F%2Fh.example%2F%252e%252e"},
		{"a url with a query", "alga://server?url=https%3A%2F%2Fh.example%3Fa%3D1"},
		{"a url with an empty query", "alga://server?url=https%3A%2F%2Fh.example%3F"},
		{"a url with a fragment", "alga://server?url=https%3A%2F%2Fh.example%23x"},
		{"a javascript: url", "alga://server?url=javascript%3Aalert(1)"},
		{"a javascript:// url", "alga://server?url=javascript%3A%2F%2Fh.example"},
		{"a data: url", "alga://server?url=data%3Atext%2Fhtml%2Cx"},
		{"an ftp url", "alga://server?url=ftp%3A%2F%2Fh.example"},
		{"a scheme-relative url", "alga://server?url=%2F%2Fh.example"},
		{"a url without a scheme", "alga://server?url=h.example"},
		{"plain http to a remote host", "alga://server?url=http%3A%2F%2F192.168.64.2%3A3000"},
		{"plain http to a public name", "alga://server?url=http%3A%2F%2Fh.example"},
		{"user info in the url", "alga://server?url=https%3A%2F%2Fu%3Ap%40h.example"},
		{"port zero", "alga://server?url=https%3A%2F%2Fh.example%3A0"},
		{"a port out of range", "alga://server?url=https%3A%2F%2Fh.example%3A70000"},
		{"a port with a leading zero", "alga://server?url=https%3A%2F%2Fh.example%3A0443"},
		{"an empty port", "alga://server?url=https%3A%2F%2Fh.example%3A"},
		{"an underscore in the host", "alga://server?url=https%3A%2F%2Fh_x.example"},
		{"a label starting with a hyphen", "alga://server?url=https%3A%2F%2F-h.example"},
		{"an empty label", "alga://server?url=https%3A%2F%2Fh..example"},
		{"a bracketed host name", "alga://server?url=https%3A%2F%2F%5Bh.example%5D"},
		{"an IPv6 zone", "alga://server?url=https%3A%2F%2F%5Bfe80%3A%3A1%2525eth0%5D"},
		{"white space inside the url", "alga://server?url=%20https%3A%2F%2Fh.example"},
		{"a payload longer than a QR code holds", "alga://server?url=https%3A%2F%2F" + strings.Repeat("a", 2400) + ".example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := qr.ParsePayload(tt.payload)
			require.Error(t, err, "accepted as %q", got)
			assert.True(t, errors.Is(err, qr.ErrInvalidPayload), "error %v does not wrap ErrInvalidPayload", err)
			assert.Empty(t, got)
		})
	}
}

// FuzzParsePayload holds that ParsePayload never panics and that whatever it
// accepts is a canonical origin that survives Payload → ParsePayload.
func FuzzParsePayload(f *testing.F) {
	for _, seed := range []string{
		"alga://server?url=https%3A%2F%2Fhelpdesk.acme.com",
		"alga://server?url=http%3A%2F%2F127.0.0.1%3A8080",
		"alga://server?url=https://[::1]:8443/",
		"alga://server?url=javascript%3Aalert(1)",
		"ALGA://SERVER/?url=HTTPS%3A%2F%2FX.EXAMPLE&x=1",
		"alga://server?url=%zz",
		"alga:server",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		origin, err := qr.ParsePayload(s)
		if err != nil {
			if !errors.Is(err, qr.ErrInvalidPayload) {
				t.Fatalf("error %v does not wrap ErrInvalidPayload", err)
			}
			return
		}
		if !strings.HasPrefix(origin, "https://") && !strings.HasPrefix(origin, "http://") {
			t.Fatalf("accepted origin %q has another scheme", origin)
		}
		rest := origin[strings.Index(origin, "://")+3:]
		if rest == "" || strings.ContainsAny(rest, "/?#@ ") {
			t.Fatalf("accepted origin %q is not scheme://host[:port]", origin)
		}
		again, err := qr.ParsePayload(qr.Payload(origin))
		if err != nil || again != origin {
			t.Fatalf("origin %q does not round-trip: got %q, %v", origin, again, err)
		}
	})
}
