package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// fixCase is one configuration and what check must (and must not) print
// about it: the operator review's cases, each a wrong or confusing line.
type fixCase struct {
	name    string
	env     map[string]string
	code    int
	want    []string
	notWant []string
}

// runFixCases runs check --offline for every case.
func runFixCases(t *testing.T, tests []fixCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkEnv(t, tc.env)
			r := adminRun(t, "check", "--offline")
			assert.Equal(t, tc.code, r.code, r.stdout)
			for _, w := range tc.want {
				assert.Contains(t, r.stdout, w)
			}
			for _, w := range tc.notWant {
				assert.NotContains(t, r.stdout, w)
			}
		})
	}
}

// withBase is a working Enterprise configuration plus kv.
func withBase(kv ...string) map[string]string {
	m := map[string]string{"NEXTAUTH_URL": "https://psa.example.com", "EDITION": "ee",
		"GOOGLE_OAUTH_CLIENT_ID": "id", "GOOGLE_OAUTH_CLIENT_SECRET": "gs-9f8e7d", "ALGA_MOBILE_SECRET_KEY": testSecretKey}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// A bad ALGA_MOBILE_TRUSTED_PROXIES gets single-address examples: the
// docs say never to trust a whole private network.
func TestCheckTrustedProxiesFixGivesSingleAddresses(t *testing.T) {
	runFixCases(t, []fixCase{
		{"a host name instead of an address", withBase("ALGA_MOBILE_TRUSTED_PROXIES", "proxy"), ExitFail,
			[]string{"[error]   ALGA_MOBILE_TRUSTED_PROXIES", "fix: list the proxy's own IP addresses (or single-address CIDRs) separated by commas, e.g. 172.18.0.1 or 192.0.2.10/32"},
			[]string{"10.0.0.0/8", ".0/8", ".0/12", ".0/16"}},
		{"the container default's fix names one address, not a subnet", withBase("KUBERNETES_SERVICE_HOST", "10.96.0.1"), ExitOK,
			[]string{"[warning] ALGA_MOBILE_TRUSTED_PROXIES", "the proxy container's own address (one address, never a whole network"},
			[]string{"subnet"}},
		{"a prefix too long", withBase("ALGA_MOBILE_TRUSTED_PROXIES", "172.18.0.1/40"), ExitFail,
			[]string{"such as 192.0.2.10/32"}, []string{"10.0.0.0/8"}},
	})
}
