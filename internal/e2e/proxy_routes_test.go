package e2e

// Which paths the shipped proxy configurations send to the sidecar (SPEC
// §8.6). internal/deployroutes is the single source for every proxy test:
// nginx (run for real in nginx_test.go and proxy_appliance_test.go),
// Caddy and Traefik (no binaries here: their matchers are parsed and
// compared with the same lists) and the Helm chart's Ingress
// (deploy/helm/chart_test.go).

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/nineminds/alga-mobile-auth/internal/deployroutes"
)

// The lists live in internal/deployroutes, shared with the Helm chart's test.
type pxRoute = deployroutes.Route

var (
	pxApplianceRoutes      = deployroutes.Appliance()
	pxStandaloneRoutes     = deployroutes.Standalone()
	pxWebAppPaths          = deployroutes.WebApp()
	pxApplianceWebAppPaths = deployroutes.ApplianceWebApp()
	pxSamplePaths          = deployroutes.Samples
)

// pxCheckRouteSet compares a parsed route set with the expected one, and
// evaluates it against the sample paths of both sides.
func pxCheckRouteSet(t *testing.T, name string, got, want []pxRoute, webApp []string) {
	t.Helper()
	strs := func(rs []pxRoute) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.String())
		}
		sort.Strings(out)
		return out
	}
	assert.Equal(t, strs(want), strs(got), "%s: the paths routed to the sidecar", name)
	routed := func(p string) bool { return deployroutes.Routed(got, p) }
	for _, p := range pxSamplePaths(want) {
		assert.True(t, routed(p), "%s: %s goes to the sidecar", name, p)
	}
	for _, p := range webApp {
		assert.False(t, routed(p), "%s: %s stays with the web app", name, p)
	}
}

// pxNginxLocation matches a location block without nested braces.
var pxNginxLocation = regexp.MustCompile(`(?m)^\s*location\s+(=\s+)?(\S+)\s*\{([^{}]*)\}`)

// pxNginxRoutes parses the locations of an nginx configuration that pass
// to the sidecar's upstream as is (the forward-auth subrequest, which names
// a path of its own, is not a route).
func pxNginxRoutes(t *testing.T, conf string) []pxRoute {
	t.Helper()
	var out []pxRoute
	for _, m := range pxNginxLocation.FindAllStringSubmatch(conf, -1) {
		if !strings.Contains(m[3], "proxy_pass http://alga_mobile_auth;") {
			continue
		}
		exact := m[1] != ""
		require.True(t, exact || strings.HasSuffix(m[2], "/"), "a prefix location ends in /: %s", m[2])
		out = append(out, pxRoute{Path: m[2], Prefix: !exact})
	}
	require.NotEmpty(t, out)
	return out
}

// pxCaddyRoutes parses the @alga_mobile path matcher of a Caddyfile and
// checks that its handle block goes to the sidecar.
func pxCaddyRoutes(t *testing.T, conf, sidecar string) []pxRoute {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*@alga_mobile path (.+)$`).FindAllStringSubmatch(conf, -1)
	require.Len(t, m, 1, "one @alga_mobile path matcher")
	handle := regexp.MustCompile(`(?s)handle @alga_mobile \{\s*reverse_proxy (\S+)\s*\}`).FindStringSubmatch(conf)
	require.NotNil(t, handle, "handle @alga_mobile { reverse_proxy … }")
	assert.Equal(t, sidecar, handle[1])
	var out []pxRoute
	for _, f := range strings.Fields(m[0][1]) {
		if p, ok := strings.CutSuffix(f, "*"); ok {
			require.True(t, strings.HasSuffix(p, "/"), "a prefix matcher ends in /*: %s", f)
			out = append(out, pxRoute{Path: p, Prefix: true})
			continue
		}
		require.NotContains(t, f, "*", "no other wildcard")
		out = append(out, pxRoute{Path: f})
	}
	return out
}

// pxTraefik is the part of a Traefik dynamic configuration the checks read.
type pxTraefik struct {
	HTTP struct {
		Routers map[string]struct {
			Rule        string
			Priority    int
			Service     string
			Middlewares []string
		}
		Services map[string]struct {
			LoadBalancer struct {
				Servers []struct{ URL string }
			} `yaml:"loadBalancer"`
		}
	}
}

var (
	pxTraefikMatcher = regexp.MustCompile("(Path|PathPrefix)\\(`([^`]*)`\\)")
	pxTraefikHost    = regexp.MustCompile("^Host\\(`[^`]+`\\) && \\((.*)\\)$")
)

// pxTraefikRoutes parses the rule of the router that serves the sidecar:
// Host(…) && (Path(…) || PathPrefix(…) || …), nothing else.
func pxTraefikRoutes(t *testing.T, raw []byte) (pxTraefik, []pxRoute) {
	t.Helper()
	var cfg pxTraefik
	require.NoError(t, yaml.Unmarshal(raw, &cfg))
	r, ok := cfg.HTTP.Routers["alga-mobile-auth"]
	require.True(t, ok, "router alga-mobile-auth")
	assert.Equal(t, "alga-mobile-auth", r.Service)
	rule := strings.Join(strings.Fields(r.Rule), " ")
	m := pxTraefikHost.FindStringSubmatch(rule)
	require.NotNil(t, m, "rule %q is Host(…) && (…)", rule)
	var out []pxRoute
	for _, alt := range strings.Split(m[1], " || ") {
		alt = strings.TrimSpace(alt)
		mm := pxTraefikMatcher.FindStringSubmatch(alt)
		require.True(t, mm != nil && mm[0] == alt, "each alternative is one Path or PathPrefix: %q", alt)
		prefix := mm[1] == "PathPrefix"
		require.True(t, !prefix || strings.HasSuffix(mm[2], "/"), "a prefix ends in /: %s", mm[2])
		out = append(out, pxRoute{Path: mm[2], Prefix: prefix})
	}
	// No other router may take a sidecar path by a higher priority.
	for name, other := range cfg.HTTP.Routers {
		if name == "alga-mobile-auth" || other.Priority < r.Priority {
			continue
		}
		for _, p := range pxTraefikMatcher.FindAllStringSubmatch(other.Rule, -1) {
			for _, s := range pxSamplePaths(out) {
				taken := s == p[2] || (p[1] == "PathPrefix" && strings.HasPrefix(s, p[2]))
				assert.False(t, taken, "router %s (priority %d) takes %s", name, other.Priority, s)
			}
		}
	}
	return cfg, out
}

func pxRead(t *testing.T, rel string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dpRoot, rel)) //nolint:gosec // G304: a file of the repository's deploy directory
	require.NoError(t, err)
	return string(raw)
}

func TestProxyConfigsRouteOnlyTheSidecarsPaths(t *testing.T) {
	for _, tc := range []struct {
		dir    string
		want   []pxRoute
		webApp []string
	}{
		{"deploy/proxy", pxStandaloneRoutes, pxWebAppPaths},
		{"deploy/proxy/appliance", pxApplianceRoutes, pxApplianceWebAppPaths},
	} {
		t.Run(tc.dir+"/nginx.conf", func(t *testing.T) {
			pxCheckRouteSet(t, "nginx", pxNginxRoutes(t, pxRead(t, tc.dir+"/nginx.conf")), tc.want, tc.webApp)
		})
		t.Run(tc.dir+"/Caddyfile", func(t *testing.T) {
			conf := pxRead(t, tc.dir+"/Caddyfile")
			sidecar := "alga-mobile-auth:8080"
			if strings.HasSuffix(tc.dir, "appliance") {
				sidecar = "192.0.2.10:30808"
				assert.Contains(t, conf, "reverse_proxy 192.0.2.10:3000", "the rest goes to the web app's port 3000")
			}
			pxCheckRouteSet(t, "Caddy", pxCaddyRoutes(t, conf, sidecar), tc.want, tc.webApp)
		})
		t.Run(tc.dir+"/traefik.yaml", func(t *testing.T) {
			cfg, routes := pxTraefikRoutes(t, []byte(pxRead(t, tc.dir+"/traefik.yaml")))
			pxCheckRouteSet(t, "Traefik", routes, tc.want, tc.webApp)
			web := cfg.HTTP.Routers["alga-web"]
			assert.Equal(t, 1, web.Priority, "the web app takes the rest")
			require.Len(t, cfg.HTTP.Services["alga-web"].LoadBalancer.Servers, 1)
			assert.True(t, strings.HasSuffix(cfg.HTTP.Services["alga-web"].LoadBalancer.Servers[0].URL, ":3000"))
		})
	}
}

// The standalone list names every page, callback and key route the
// service registers for production use, and the appliance list only
// routes the service serves: a route added to internal/httpapi/routes.go
// must be added here (and to the proxies) on purpose.
func TestProxyRouteListsFollowTheServiceRouteTable(t *testing.T) {
	src := pxRead(t, "internal/httpapi/routes.go")
	literal := regexp.MustCompile(`r\.(?:Get|Post|Method|MethodFunc)\((?:m, |http\.Method\w+, )?"([^"]+)"`)
	served := map[string]bool{}
	for _, m := range literal.FindAllStringSubmatch(src, -1) {
		served[m[1]] = true
	}
	require.True(t, served["/api/v1/mobile/auth/exchange"] && served["/auth/mobile/handoff"], "scan found %v", served)
	notRouted := map[string]string{
		"/healthz": "probed directly", "/readyz": "probed directly", "/metrics": "scraped directly",
		"/demo/handoff": "development demo only", "/auth/signin/{provider}": "listed per provider",
	}
	for p := range served {
		if _, ok := notRouted[p]; ok {
			continue
		}
		assert.True(t, deployroutes.Routed(pxStandaloneRoutes, p), "%s is served but no proxy routes it", p)
	}
	// The provider callbacks come from a loop over the sign-in's provider ids.
	assert.Contains(t, src, "authflow.CallbackPathPrefix+id")
	for _, p := range pxSamplePaths(pxStandaloneRoutes) {
		_, direct := served[p]
		under := strings.HasPrefix(p, "/api/v1/mobile/auth/") || strings.HasPrefix(p, "/auth/signin/") || strings.HasPrefix(p, "/api/auth/callback/")
		assert.True(t, direct || under, "%s is routed but not served", p)
	}
}

// The guide's routing table (docs/appliance.md, step 4) names exactly the
// appliance paths, so an operator who follows it routes what the files do.
func TestApplianceGuideNamesTheAppliancePaths(t *testing.T) {
	doc := pxRead(t, "docs/appliance.md")
	start := strings.Index(doc, "## Step 4")
	require.GreaterOrEqual(t, start, 0, "a step 4: the proxy")
	section := doc[start:]
	end := strings.Index(section, "Everything else stays with the web app")
	require.Greater(t, end, 0)
	var got []string
	for _, line := range strings.Split(section[:end], "\n") {
		if !strings.HasPrefix(line, "| `/") {
			continue
		}
		cells := strings.Split(line, "|")
		for _, m := range regexp.MustCompile("`(/[^`]*)`").FindAllStringSubmatch(cells[1], -1) {
			got = append(got, m[1])
		}
		if strings.Contains(cells[2], "prefix") {
			got[len(got)-1] += "*"
		}
	}
	var want []string
	for _, r := range pxApplianceRoutes {
		want = append(want, r.String())
	}
	sort.Strings(got)
	sort.Strings(want)
	assert.Equal(t, want, got)
}
