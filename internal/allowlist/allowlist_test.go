package allowlist

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
		wantErr  string
	}{
		{"empty", "", nil, ""},
		{"only commas and spaces", " , ,", nil, ""},
		{"trims and lower-cases", " PSA.Example.COM ,other.example.com", []string{"psa.example.com", "other.example.com"}, ""},
		{"drops duplicates", "a.example,A.example", []string{"a.example"}, ""},
		{"trailing dot", "a.example.", []string{"a.example"}, ""},
		{"ip address", "10.0.0.5", []string{"10.0.0.5"}, ""},
		{"refuses url", "https://psa.example.com", nil, "is a URL"},
		{"refuses port", "psa.example.com:443", nil, "has a port"},
		{"refuses path", "psa.example.com/app", nil, "path"},
		{"refuses user info", "me@psa.example.com", nil, "user info"},
		{"refuses bad label", "-bad.example", nil, "not a valid host name"},
		{"refuses spaces inside", "psa example.com", nil, "not a valid host name"},
		{"keeps good entries beside bad", "good.example,https://bad.example", []string{"good.example"}, "is a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			assert.Equal(t, tt.want, got)
			if tt.wantErr == "" {
				assert.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
			}
		})
	}
	t.Run("reports every bad entry", func(t *testing.T) {
		_, err := Parse("https://a.example,b.example:80")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "a.example")
		assert.Contains(t, err.Error(), "b.example:80")
	})
}

func TestAllowed(t *testing.T) {
	tests := []struct {
		name        string
		list        []string
		own, reqHst string
		want        bool
	}{
		{"empty list allows own host", nil, "psa.example.com", "psa.example.com", true},
		{"empty list allows own host with port", nil, "psa.example.com", "PSA.example.com:443", true},
		{"empty list refuses another host", nil, "psa.example.com", "evil.example", false},
		{"listed host", []string{"psa.example.com", "alt.example.com"}, "psa.example.com", "alt.example.com", true},
		{"listed list excludes own host", []string{"alt.example.com"}, "psa.example.com", "psa.example.com", false},
		{"empty request host", nil, "psa.example.com", "", false},
		{"ipv6 with port", []string{"::1"}, "x", "[::1]:8080", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Allowed(tt.list, tt.own, tt.reqHst))
		})
	}
}

func TestMobileRedirect(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"alga://auth/callback", true},
		{"ALGA://auth/callback", true},
		{"exp://192.168.1.5:8081/--/auth/callback", true},
		{"https://app.example.com/auth/callback", true},
		{"alga://auth/callback?foo=bar", true},
		{"alga://auth/other", false},
		{"alga://evil/callback", false},
		{"http://app.example.com/auth/callback", false},
		{"javascript://auth/callback", false},
		{"https://app.example.com/auth/callback/x", false},
		{"https://user@app.example.com/auth/callback", false},
		{"alga://auth/callback#frag", false},
		{"alga:auth/callback", false},
		{"", false},
		{"https:///auth/callback", false},
		{"alga://auth/callback\r\nx", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, ok := MobileRedirect(tt.in)
			assert.Equal(t, tt.ok, ok)
		})
	}
}

func TestWithParamsKeepsExistingQuery(t *testing.T) {
	u, ok := MobileRedirect("alga://auth/callback?keep=1")
	require.True(t, ok)
	got := WithParams(u, url.Values{"ott": {"abc"}, "state": {"s t"}})
	parsed, err := url.Parse(got)
	require.NoError(t, err)
	assert.Equal(t, "alga", parsed.Scheme)
	assert.Equal(t, "1", parsed.Query().Get("keep"))
	assert.Equal(t, "abc", parsed.Query().Get("ott"))
	assert.Equal(t, "s t", parsed.Query().Get("state"))
}

func TestSameOrigin(t *testing.T) {
	const origin = "https://psa.example.com"
	tests := []struct{ in, want string }{
		{"/auth/mobile/handoff?redirect=alga://auth/callback&state=x", "/auth/mobile/handoff?redirect=alga://auth/callback&state=x"},
		{"https://psa.example.com/auth/mobile/handoff?state=x", "/auth/mobile/handoff?state=x"},
		{"HTTPS://PSA.example.com/a", "/a"},
		{"https://evil.example/a", ""},
		{"http://psa.example.com/a", ""},
		{"https://psa.example.com:8443/a", ""},
		{"//evil.example/a", ""},
		{"/\\evil.example", ""},
		{"\\\\evil.example", ""},
		{"/%2F%2Fevil.example", ""},
		{"/%5Cevil.example", ""},
		{"%2F%2Fevil.example", ""},
		{"https:evil.example", ""},
		{"javascript:alert(1)", ""},
		{"https://psa.example.com@evil.example/", ""},
		{"relative/path", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, SameOrigin(origin, tt.in))
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "a.example,b.example", "https://x", "x:1", "[::1]", "a..b", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hosts, _ := Parse(s)
		for _, h := range hosts {
			// Every accepted entry is already normalised and re-parses to itself.
			again, err := Parse(h)
			if err != nil || len(again) != 1 || again[0] != h {
				t.Fatalf("accepted %q does not re-parse to itself: %v %v", h, again, err)
			}
		}
	})
}

func FuzzSameOrigin(f *testing.F) {
	for _, s := range []string{"/a", "//evil", "/\\evil", "https://psa.example.com/x", "%2F%2Fe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := SameOrigin("https://psa.example.com", s)
		if got == "" {
			return
		}
		u, err := url.Parse("https://psa.example.com" + got)
		if err != nil || u.Host != "psa.example.com" {
			t.Fatalf("SameOrigin(%q) = %q escapes the origin", s, got)
		}
		if len(got) > 1 && (got[1] == '/' || got[1] == '\\') {
			t.Fatalf("SameOrigin(%q) = %q is network-path-like", s, got)
		}
	})
}

func TestRedirectHostTrusted(t *testing.T) {
	const origin = "https://psa.example.com"
	list := []string{"alt.example.com"}
	tests := []struct {
		in   string
		want bool
	}{
		{"alga://auth/callback", true},
		{"https://psa.example.com/auth/callback", true},
		{"https://PSA.example.com:443/x/auth/callback", true},
		{"https://alt.example.com/auth/callback", true},
		{"https://evil.example/auth/callback", false},
		{"https://auth/callback", false},
		{"exp://192.168.1.5:8081/--/auth/callback", true},
		{"exp://127.0.0.1:8081/--/auth/callback", true},
		{"exp://8.8.8.8:8081/--/auth/callback", false},
		{"exp://evil.example/--/auth/callback", false},
		{"exp://auth/callback", false},
		// Issue 11 item 2: exact origin, clean paths, no link-local exp.
		{"https://psa.example.com:9999/auth/callback", false},
		{"https://psa.example.com:443/auth/callback", true},
		{"https://alt.example.com:8443/auth/callback", false},
		{"https://psa.example.com//evil.com/auth/callback", false},
		{"https://psa.example.com/x/../auth/callback", false},
		{"https://psa.example.com/./auth/callback", false},
		{"https://psa.example.com/x/%2e%2E/auth/callback", false},
		{"https://psa.example.com/x/%2e/auth/callback", false},
		{"https://psa.example.com/x/%2F%2Fevil/auth/callback", false},
		{"alga://evil//x/auth/callback", false},
		{"exp://169.254.169.254/--/auth/callback", false},
		{"exp://[fe80::1]:8081/--/auth/callback", false},
		{"exp://[::ffff:169.254.169.254]/--/auth/callback", false},
		{"exp://psa.example.com/--/auth/callback", false},
		{"exp://10.0.0.7:8081/--/auth/callback", true},
		{"exp://172.16.3.4:8081/--/auth/callback", true},
		{"exp://[fd12:3456::1]:8081/--/auth/callback", true},
		{"exp://[::1]:8081/--/auth/callback", true},
		{"exp://localhost:8081/--/auth/callback", true},
		{"exp://0.0.0.0:8081/--/auth/callback", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, ok := MobileRedirect(tt.in)
			require.True(t, ok)
			assert.Equal(t, tt.want, RedirectHostTrusted(u, origin, list))
		})
	}
}

// An https redirect on the appliance's own host must use NEXTAUTH_URL's
// own port (or 443): a service on another port of the same host would
// otherwise receive a working OTT.
func TestRedirectHostTrustedUsesNextAuthURLsPort(t *testing.T) {
	for _, tt := range []struct {
		origin, in string
		want       bool
	}{
		{"https://psa.example.com:8443", "https://psa.example.com:8443/auth/callback", true},
		{"https://psa.example.com:8443", "https://psa.example.com/auth/callback", true},
		{"https://psa.example.com:8443", "https://psa.example.com:9999/auth/callback", false},
		{"http://localhost:8080", "https://localhost:8080/auth/callback", true},
		{"http://localhost:8080", "https://localhost:3000/auth/callback", false},
	} {
		u, ok := MobileRedirect(tt.in)
		require.True(t, ok)
		assert.Equal(t, tt.want, RedirectHostTrusted(u, tt.origin, nil), tt.origin+" "+tt.in)
	}
}

func TestIsLoopback(t *testing.T) {
	for in, want := range map[string]bool{
		"localhost": true, "LOCALHOST.": true, "app.localhost": true, "127.0.0.1": true, "127.1.2.3": true,
		"::1": true, "[::1]": true, "": false, "0.0.0.0": false, "::": false, "[::]": false, "192.0.2.10": false,
		"example.com": false, "localhost.example.com": false, "::ffff:127.0.0.1": true,
	} {
		assert.Equal(t, want, IsLoopback(in), in)
	}
}

func TestSameOriginURLs(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"https://login.example.com/common/v2.0", "https://LOGIN.example.com/organizations/v2.0", true},
		{"https://login.example.com/x", "http://login.example.com/x", false},
		{"https://login.example.com/x", "https://login.example.com:8443/x", false},
		{"https://login.example.com/x", "https://evil.example/x", false},
		{"/relative", "/relative", false},
		{"%zz", "https://a.example", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, SameOriginURLs(tt.a, tt.b), tt.a+" vs "+tt.b)
	}
}
