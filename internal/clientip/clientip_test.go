package clientip

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTrusted(t *testing.T) {
	tests := []struct {
		name string
		csv  string
		want []string
	}{
		{"defaults to loopback when empty", "", []string{"127.0.0.0/8", "::1/128"}},
		{"defaults to loopback when blank", " , ,", []string{"127.0.0.0/8", "::1/128"}},
		{"parses CIDRs and bare addresses", " 10.0.0.0/8, 192.168.1.1 ,2001:db8::/32,::1",
			[]string{"10.0.0.0/8", "192.168.1.1/32", "2001:db8::/32", "::1/128"}},
		{"masks host bits", "10.1.2.3/8", []string{"10.0.0.0/8"}},
		{"turns an IPv4-mapped prefix into IPv4", "::ffff:10.0.0.0/104", []string{"10.0.0.0/8"}},
		{"ignores empty entries", "10.0.0.1,,", []string{"10.0.0.1/32"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTrusted(tt.csv)
			require.NoError(t, err)
			want := make([]netip.Prefix, len(tt.want))
			for i, w := range tt.want {
				want[i] = netip.MustParsePrefix(w)
			}
			assert.Equal(t, want, got)
		})
	}
}

func TestParseTrustedNamesTheBadEntry(t *testing.T) {
	for _, bad := range []string{"proxy.example.com", "10.0.0.0/33", "10.0.0.256", "fe80::1%eth0", "10.0.0.0/", "1.2.3.4:80"} {
		t.Run(bad, func(t *testing.T) {
			_, err := ParseTrusted("10.0.0.0/8, " + bad)
			require.ErrorIs(t, err, ErrBadTrustedProxy)
			assert.Contains(t, err.Error(), `"`+bad+`"`)
		})
	}
}

// The example in a bad entry's message is one address, never a whole
// private network: trusting 10.0.0.0/8 lets any host in it pick its own
// client IP (and rate-limit key) through X-Forwarded-For.
func TestParseTrustedExamplesAreSingleAddresses(t *testing.T) {
	tests := []struct{ name, entry string }{
		{"host name", "proxy.example.com"},
		{"prefix too long", "10.0.0.0/33"},
		{"octet out of range", "10.0.0.256"},
		{"empty prefix length", "10.0.0.0/"},
		{"address with port", "1.2.3.4:80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTrusted(tt.entry)
			require.ErrorIs(t, err, ErrBadTrustedProxy)
			msg := strings.TrimPrefix(err.Error(), ErrBadTrustedProxy.Error()+` "`+tt.entry+`"`)
			assert.Regexp(t, `such as (172\.18\.0\.1|192\.0\.2\.10/32)`, msg)
			for _, wide := range []string{"/8", "/12", "/16", "/24"} {
				assert.NotContains(t, msg, wide)
			}
		})
	}
}

// testResolver trusts a private range, one loopback address and an IPv6 /48.
func testResolver(t *testing.T) *Resolver {
	t.Helper()
	trusted, err := ParseTrusted("10.0.0.0/8, 127.0.0.1, 2001:db8:ffff::/48")
	require.NoError(t, err)
	return NewResolver(trusted)
}

func newRequest(remote string, xff ...string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "http://svc.internal/x", nil)
	req.RemoteAddr = remote
	for _, v := range xff {
		req.Header.Add("X-Forwarded-For", v)
	}
	return req
}

func TestClientIP(t *testing.T) {
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string // "" = the zero Addr
	}{
		{"uses an untrusted peer", "198.51.100.9:4000", nil, "198.51.100.9"},
		{"ignores XFF spoofed by an untrusted peer", "198.51.100.9:4000", []string{"203.0.113.7"}, "198.51.100.9"},
		{"uses a trusted peer without XFF", "10.0.0.1:4000", nil, "10.0.0.1"},
		{"believes XFF from a trusted peer", "10.0.0.1:4000", []string{"203.0.113.7"}, "203.0.113.7"},
		{"takes the rightmost untrusted hop", "10.0.0.1:4000", []string{"198.51.100.1, 203.0.113.7, 10.0.0.5"}, "203.0.113.7"},
		{"ignores what a client forged to the left", "10.0.0.1:4000", []string{"1.1.1.1, 127.0.0.1, 203.0.113.7"}, "203.0.113.7"},
		{"returns the leftmost when every hop is trusted", "10.0.0.1:4000", []string{"10.0.0.3, 10.0.0.4"}, "10.0.0.3"},
		{"joins several XFF headers in order", "10.0.0.1:4000", []string{"198.51.100.1", "203.0.113.7, 10.0.0.2"}, "203.0.113.7"},
		{"walks across XFF headers", "10.0.0.1:4000", []string{"203.0.113.9", "10.0.0.2"}, "203.0.113.9"},
		{"skips an empty XFF header", "10.0.0.1:4000", []string{"203.0.113.9", " "}, "203.0.113.9"},
		{"ignores garbage left of the client", "10.0.0.1:4000", []string{"garbage, 203.0.113.7"}, "203.0.113.7"},
		{"stops at garbage and keeps the peer", "10.0.0.1:4000", []string{"203.0.113.7, garbage"}, "10.0.0.1"},
		{"stops at garbage and keeps the last good hop", "10.0.0.1:4000", []string{"203.0.113.7, <script>, 10.0.0.2"}, "10.0.0.2"},
		{"treats an empty entry as garbage", "10.0.0.1:4000", []string{"203.0.113.7,,10.0.0.4"}, "10.0.0.4"},
		{"trims spaces and tabs", "10.0.0.1:4000", []string{" 203.0.113.7 ,\t10.0.0.2 "}, "203.0.113.7"},
		{"accepts ports in XFF", "10.0.0.1:4000", []string{"203.0.113.7:5555, 10.0.0.2:80"}, "203.0.113.7"},
		{"accepts IPv6 in XFF", "10.0.0.1:4000", []string{"2001:db8::42"}, "2001:db8::42"},
		{"accepts bracketed IPv6 with a port", "10.0.0.1:4000", []string{"[2001:db8::42]:1234"}, "2001:db8::42"},
		{"accepts bracketed IPv6 without a port", "10.0.0.1:4000", []string{"[2001:db8::42]"}, "2001:db8::42"},
		{"unmaps IPv4-mapped IPv6 in XFF", "10.0.0.1:4000", []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
		{"trusts an IPv6 peer in range", "[2001:db8:ffff::1]:443", []string{"2001:db8::42"}, "2001:db8::42"},
		{"skips trusted IPv6 hops", "[2001:db8:ffff::1]:443", []string{"203.0.113.7, 2001:db8:ffff::2"}, "203.0.113.7"},
		{"ignores XFF from an untrusted IPv6 peer", "[2001:db8::1]:443", []string{"203.0.113.7"}, "2001:db8::1"},
		{"unmaps an IPv4-mapped peer", "[::ffff:10.0.0.1]:80", []string{"203.0.113.7"}, "203.0.113.7"},
		{"drops the zone of a peer", "[fe80::1%eth0]:80", nil, "fe80::1"},
		{"accepts a peer without a port", "10.0.0.1", []string{"203.0.113.7"}, "203.0.113.7"},
		{"has no address for a non-IP peer", "@", []string{"203.0.113.7"}, ""},
		{"has no address for an empty peer", "", []string{"203.0.113.7"}, ""},
	}
	r := testResolver(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.ClientIP(newRequest(tt.remote, tt.xff...))
			if tt.want == "" {
				assert.False(t, got.IsValid(), "got %v", got)
				return
			}
			assert.Equal(t, netip.MustParseAddr(tt.want), got)
		})
	}
}

func TestClientIPTrustsLoopbackByDefault(t *testing.T) {
	trusted, err := ParseTrusted("")
	require.NoError(t, err)
	r := NewResolver(trusted)
	assert.Equal(t, netip.MustParseAddr("203.0.113.7"), r.ClientIP(newRequest("[::1]:80", "203.0.113.7")))
	assert.Equal(t, netip.MustParseAddr("203.0.113.7"), r.ClientIP(newRequest("127.0.0.53:80", "203.0.113.7")))
	assert.Equal(t, netip.MustParseAddr("10.0.0.1"), r.ClientIP(newRequest("10.0.0.1:80", "203.0.113.7")))
}

func TestResolverWithoutPrefixesTrustsNobody(t *testing.T) {
	r := NewResolver(nil)
	req := newRequest("127.0.0.1:80", "203.0.113.7")
	assert.False(t, r.Trusted(req))
	assert.Equal(t, netip.MustParseAddr("127.0.0.1"), r.ClientIP(req))
}

func TestTrusted(t *testing.T) {
	r := testResolver(t)
	assert.True(t, r.Trusted(newRequest("10.9.8.7:1")))
	assert.True(t, r.Trusted(newRequest("[2001:db8:ffff:1::1]:1")))
	assert.False(t, r.Trusted(newRequest("198.51.100.9:1")))
	assert.False(t, r.Trusted(newRequest("nonsense")))
}

func BenchmarkClientIP(b *testing.B) {
	trusted, err := ParseTrusted("10.0.0.0/8, 172.16.0.0/12")
	require.NoError(b, err)
	r := NewResolver(trusted)
	req := newRequest("10.0.0.1:4000", "198.51.100.1, 203.0.113.7, 10.0.0.5")
	b.ReportAllocs()
	for b.Loop() {
		_ = r.ClientIP(req)
	}
}
