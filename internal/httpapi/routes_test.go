package httpapi

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/nineminds/alga-mobile-auth/api"
)

type specPath struct {
	NotImplemented bool `yaml:"x-not-implemented"`
	Ops            map[string]yaml.Node
}

func (p *specPath) UnmarshalYAML(n *yaml.Node) error {
	p.Ops = map[string]yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		switch k {
		case "x-not-implemented":
			p.NotImplemented = n.Content[i+1].Value == "true"
		case "get", "post", "put", "patch", "delete", "head", "options":
			p.Ops[strings.ToUpper(k)] = *n.Content[i+1]
		}
	}
	return nil
}

func loadSpec(t *testing.T) map[string]specPath {
	t.Helper()
	var doc struct {
		OpenAPI string              `yaml:"openapi"`
		Paths   map[string]specPath `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(api.OpenAPI, &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)
	require.NotEmpty(t, doc.Paths)
	return doc.Paths
}

// routesOf lists "METHOD path" for every route of the router, with chi's
// {param} syntax, which OpenAPI shares.
func routesOf(t *testing.T, h http.Handler) map[string]bool {
	t.Helper()
	routes := map[string]bool{}
	r, ok := h.(chi.Routes)
	require.True(t, ok, "handler is a chi router")
	require.NoError(t, chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes[method+" "+route] = true
		return nil
	}))
	return routes
}

func TestRouterAndOpenAPIAgree(t *testing.T) {
	spec := loadSpec(t)
	routes := routesOf(t, newTestServer(t, testOptions()).Handler())

	// Every served route is in the spec (a proxy-compat extra method on a
	// spec'd path, like verify accepting POST, counts as the same path).
	servedPaths := map[string]bool{}
	for r := range routes {
		method, path, _ := strings.Cut(r, " ")
		servedPaths[path] = true
		p, ok := spec[path]
		if !assert.Truef(t, ok, "route %s is served but not in api/openapi.yaml", r) {
			continue
		}
		assert.Falsef(t, p.NotImplemented, "%s is served: remove x-not-implemented from api/openapi.yaml", path)
		if len(p.Ops) > 0 && method != http.MethodHead {
			_, specified := p.Ops[method]
			_, anyMethod := p.Ops["GET"]
			assert.Truef(t, specified || (anyMethod && path == "/api/v1/mobile/auth/verify"), "%s is served but the spec does not list that method", r)
		}
	}
	// Every spec path is served, unless marked not implemented yet.
	var missing []string
	for path, p := range spec {
		if p.NotImplemented {
			continue
		}
		for method := range p.Ops {
			if !routes[method+" "+path] {
				missing = append(missing, method+" "+path)
			}
		}
	}
	sort.Strings(missing)
	assert.Empty(t, missing, "in api/openapi.yaml but not served")
}
