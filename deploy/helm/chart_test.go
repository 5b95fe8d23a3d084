// Package helm tests the Helm chart in alga-mobile-auth/ with Helm itself:
// `helm lint` and `helm template` for each values example, the rendered
// objects parsed and checked. Helm is pinned in tools/helm/go.mod and built
// with `go tool` (ALGA_TEST_HELM may name a helm binary instead).
package helm

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/nineminds/alga-mobile-auth/internal/deployroutes"
	"github.com/nineminds/alga-mobile-auth/internal/testenv"
)

const chartDir = "alga-mobile-auth"

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helmBinary builds the pinned Helm once (go tool caches the executable)
// and returns its path; without a Go toolchain or the module it skips, or
// fails under ALGA_TEST_REQUIRE_SERVICES.
func helmBinary(t *testing.T) string {
	t.Helper()
	helmOnce.Do(func() {
		if p := os.Getenv("ALGA_TEST_HELM"); p != "" {
			helmPath = p
			return
		}
		cmd := exec.CommandContext(t.Context(), "go", "tool", "-n", "helm")
		cmd.Dir = filepath.Join("..", "..", "tools", "helm")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			helmErr = errors.New(strings.TrimSpace(err.Error() + ": " + stderr.String()))
			return
		}
		helmPath = strings.TrimSpace(string(out))
		if _, err := os.Stat(helmPath); err != nil {
			helmErr = err
		}
	})
	if helmErr != nil {
		testenv.Missing(t, "helm", "`go tool -n helm` in tools/helm failed: "+helmErr.Error())
	}
	return helmPath
}

// helm runs the binary and returns stdout, or the combined error.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), helmBinary(t), args...) //nolint:gosec // G204: helm pinned in tools/helm (or ALGA_TEST_HELM), on the chart's own examples
	// No repository or plugin state of the machine's user.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), errors.New(err.Error() + ": " + stderr.String() + stdout.String())
	}
	return stdout.String(), nil
}

// object is a rendered Kubernetes object, decoded loosely.
type object map[string]any

func (o object) kind() string { return str(o["kind"]) }

// dig walks maps by key and lists by index ("0").
func dig(v any, path ...string) any {
	for _, p := range path {
		// yaml.v3 gives nested maps the type of the outer one.
		if o, ok := v.(object); ok {
			v = map[string]any(o)
		}
		switch m := v.(type) {
		case map[string]any:
			v = m[p]
		case []any:
			i := 0
			for _, c := range p {
				i = i*10 + int(c-'0')
			}
			if i >= len(m) {
				return nil
			}
			v = m[i]
		default:
			return nil
		}
	}
	if o, ok := v.(object); ok {
		return map[string]any(o)
	}
	return v
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// render runs helm template and returns the objects by kind.
func render(t *testing.T, args ...string) map[string]object {
	t.Helper()
	out, err := helm(t, append([]string{"template", "alga-mobile-auth", chartDir, "--namespace", "msp"}, args...)...)
	require.NoError(t, err)
	objs := map[string]object{}
	dec := yaml.NewDecoder(strings.NewReader(out))
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if o == nil {
			continue
		}
		require.NotContains(t, objs, o.kind(), "one %s", o.kind())
		objs[o.kind()] = o
	}
	return objs
}

// container is the Deployment's only container.
func container(t *testing.T, objs map[string]object) map[string]any {
	t.Helper()
	require.Contains(t, objs, "Deployment")
	cs, _ := dig(objs["Deployment"], "spec", "template", "spec", "containers").([]any)
	require.Len(t, cs, 1)
	return asMap(cs[0])
}

// asMap is a decoded mapping as a plain map.
func asMap(v any) map[string]any {
	if o, ok := v.(object); ok {
		return o
	}
	m, _ := v.(map[string]any)
	return m
}

// env returns plain values and secret references ("secret/key") by name.
func env(t *testing.T, c map[string]any) (values, secrets map[string]string) {
	t.Helper()
	values, secrets = map[string]string{}, map[string]string{}
	list, _ := c["env"].([]any)
	for _, e := range list {
		name := str(dig(e, "name"))
		require.NotContains(t, values, name, "env %s once", name)
		require.NotContains(t, secrets, name, "env %s once", name)
		if ref := dig(e, "valueFrom", "secretKeyRef"); ref != nil {
			secrets[name] = str(dig(ref, "name")) + "/" + str(dig(ref, "key"))
			continue
		}
		values[name] = str(dig(e, "value"))
	}
	return values, secrets
}

// ingressRoutes returns the Ingress's paths, all to the chart's Service.
func ingressRoutes(t *testing.T, objs map[string]object) []deployroutes.Route {
	t.Helper()
	require.Contains(t, objs, "Ingress")
	rules, _ := dig(objs["Ingress"], "spec", "rules").([]any)
	require.Len(t, rules, 1)
	paths, _ := dig(rules[0], "http", "paths").([]any)
	svc := str(dig(objs["Service"], "metadata", "name"))
	var out []deployroutes.Route
	for _, p := range paths {
		assert.Equal(t, svc, str(dig(p, "backend", "service", "name")))
		typ := str(dig(p, "pathType"))
		require.Contains(t, []string{"Exact", "Prefix"}, typ)
		out = append(out, deployroutes.Route{Path: str(dig(p, "path")), Prefix: typ == "Prefix"})
	}
	return out
}

func routeStrings(rs []deployroutes.Route) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.String())
	}
	sort.Strings(out)
	return out
}

// checkCommon holds for every example: probes, hardening, the PDB and the
// Service select the pods, metrics on their own port.
func checkCommon(t *testing.T, objs map[string]object) {
	t.Helper()
	for _, k := range []string{"Deployment", "Service", "PodDisruptionBudget"} {
		require.Contains(t, objs, k)
	}
	c := container(t, objs)
	assert.Equal(t, []any{"serve"}, c["args"])
	assert.Equal(t, "/healthz", dig(c, "livenessProbe", "httpGet", "path"))
	assert.Equal(t, "/readyz", dig(c, "readinessProbe", "httpGet", "path"))
	assert.Equal(t, "http", dig(c, "readinessProbe", "httpGet", "port"))

	pod := dig(objs["Deployment"], "spec", "template", "spec")
	assert.Equal(t, true, dig(pod, "securityContext", "runAsNonRoot"))
	assert.Equal(t, true, dig(c, "securityContext", "runAsNonRoot"))
	assert.Equal(t, true, dig(c, "securityContext", "readOnlyRootFilesystem"))
	assert.Equal(t, false, dig(c, "securityContext", "allowPrivilegeEscalation"))
	assert.Equal(t, []any{"ALL"}, dig(c, "securityContext", "capabilities", "drop"))
	assert.Equal(t, false, dig(pod, "automountServiceAccountToken"))

	labels, _ := dig(objs["Deployment"], "spec", "template", "metadata", "labels").(map[string]any)
	for _, sel := range []any{
		dig(objs["Deployment"], "spec", "selector", "matchLabels"),
		dig(objs["PodDisruptionBudget"], "spec", "selector", "matchLabels"),
		dig(objs["Service"], "spec", "selector"),
	} {
		m, _ := sel.(map[string]any)
		require.NotEmpty(t, m)
		for k, v := range m {
			assert.Equal(t, v, labels[k], "selector %s", k)
		}
	}
	assert.Equal(t, 1, dig(objs["PodDisruptionBudget"], "spec", "maxUnavailable"))

	values, _ := env(t, c)
	assert.Equal(t, ":9090", values["ALGA_MOBILE_METRICS_ADDR"], "/metrics off the routed port")
	assert.Equal(t, "/etc/alga-mobile-auth/secrets", values["SECRET_FS_BASE_PATH"])
	ports := map[string]any{}
	for _, p := range dig(objs["Service"], "spec", "ports").([]any) {
		ports[str(dig(p, "name"))] = dig(p, "targetPort")
	}
	assert.Equal(t, map[string]any{"http": "http", "metrics": "metrics"}, ports)
}

func TestChartLintsWithEveryValuesExample(t *testing.T) {
	examples, err := filepath.Glob(filepath.Join(chartDir, "values-*.yaml"))
	require.NoError(t, err)
	require.Len(t, examples, 3, "standalone, appliance, traefik")
	for _, f := range examples {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, err := helm(t, "lint", "--strict", chartDir, "-f", f)
			require.NoError(t, err)
			assert.Contains(t, out, "0 chart(s) failed")
		})
	}
}

func TestChartStandaloneExample(t *testing.T) {
	objs := render(t, "-f", filepath.Join(chartDir, "values-standalone.yaml"))
	checkCommon(t, objs)
	c := container(t, objs)
	values, secrets := env(t, c)
	assert.Equal(t, "https://psa.example.com", values["NEXTAUTH_URL"])
	assert.Equal(t, "10.42.7.0/24", values["ALGA_MOBILE_TRUSTED_PROXIES"])
	assert.Equal(t, "ee", values["EDITION"])
	assert.Empty(t, secrets, "standalone reads no Secret of AlgaPSA's")
	for _, k := range []string{"DB_HOST", "NEXTAUTH_SECRET", "ALGA_MOBILE_DATABASE_URL"} {
		assert.NotContains(t, values, k, "PostgreSQL URL comes from the own Secret's files")
	}
	assert.Equal(t, "alga-mobile-auth", dig(objs["Deployment"], "spec", "template", "spec", "volumes", "0", "secret", "secretName"))
	assert.Equal(t, 2, dig(objs["Deployment"], "spec", "replicas"))
	assert.Equal(t, "RollingUpdate", dig(objs["Deployment"], "spec", "strategy", "type"))
	assert.NotContains(t, objs, "PersistentVolumeClaim")
	assert.NotContains(t, objs, "ServiceMonitor", "off by default")

	// ingress-nginx, the standalone paths only.
	assert.Equal(t, "nginx", dig(objs["Ingress"], "spec", "ingressClassName"))
	routes := ingressRoutes(t, objs)
	assert.Equal(t, routeStrings(deployroutes.Standalone()), routeStrings(routes))
	for _, p := range deployroutes.WebApp() {
		assert.False(t, deployroutes.Routed(routes, p), "%s stays with the web app", p)
	}
}

// applianceSets are the two values the appliance examples leave empty on
// purpose: the operator must give them.
var applianceSets = []string{"--set", "publicUrl=https://psa.example.com", "--set", "trustedProxies=192.0.2.10/32"}

// renderAppliance renders values-appliance.yaml as its header says to, with
// args on top.
func renderAppliance(t *testing.T, args ...string) map[string]object {
	t.Helper()
	return render(t, append(append([]string{"-f", filepath.Join(chartDir, "values-appliance.yaml")}, applianceSets...), args...)...)
}

// TestChartApplianceExampleNeedsTheOperatorsValues: the appliance example
// carries no example address that could be deployed by mistake: without
// publicUrl and trustedProxies it does not render, and says what is missing.
func TestChartApplianceExampleNeedsTheOperatorsValues(t *testing.T) {
	_, err := helm(t, "template", "alga-mobile-auth", chartDir, "--namespace", "msp",
		"-f", filepath.Join(chartDir, "values-appliance.yaml"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "publicUrl (NEXTAUTH_URL) is required")
	_, err = helm(t, "template", "alga-mobile-auth", chartDir, "--namespace", "msp",
		"-f", filepath.Join(chartDir, "values-appliance.yaml"), "--set", "publicUrl=https://psa.example.com")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "trustedProxies is required")
}

func TestChartApplianceExample(t *testing.T) {
	objs := renderAppliance(t)
	checkCommon(t, objs)
	c := container(t, objs)
	values, secrets := env(t, c)
	// AlgaPSA's database where the web app reaches it, its Secrets by name.
	for k, want := range map[string]string{"DB_HOST": "db.msp.svc.cluster.local", "DB_PORT": "5432",
		"DB_NAME_SERVER": "server", "DB_USER_SERVER": "app_user", "NEXTAUTH_URL": "https://psa.example.com",
		"ALGA_MOBILE_DATABASE_URL": "sqlite:/data/mobile-auth.db"} {
		assert.Equal(t, want, values[k], k)
	}
	assert.Equal(t, map[string]string{
		"DB_PASSWORD_SERVER": "db-credentials/DB_PASSWORD_SERVER",
		"NEXTAUTH_SECRET":    "alga-core-sebastian-secrets/NEXTAUTH_SECRET",
		// The appliance's own license, where AlgaPSA's installer seeds it.
		"ALGA_LICENSE": "appliance-license-seed/LICENSE_TOKEN",
	}, secrets)
	for _, e := range c["env"].([]any) {
		opt := dig(e, "valueFrom", "secretKeyRef", "optional")
		if str(dig(e, "name")) == "ALGA_LICENSE" {
			assert.Equal(t, true, opt, "a trial or free appliance has no license and must still start")
		} else {
			assert.Nil(t, opt, "%s is required", str(dig(e, "name")))
		}
	}
	assert.Equal(t, "/etc/alga-mobile-auth/license-keys", values["ALGA_LICENSE_PUBLIC_KEYS"])
	// SQLite on a volume: one replica, never two at once.
	assert.Equal(t, 1, dig(objs["Deployment"], "spec", "replicas"))
	assert.Equal(t, "Recreate", dig(objs["Deployment"], "spec", "strategy", "type"))
	require.Contains(t, objs, "PersistentVolumeClaim")
	assert.Equal(t, "local-path", dig(objs["PersistentVolumeClaim"], "spec", "storageClassName"))
	claim := str(dig(objs["PersistentVolumeClaim"], "metadata", "name"))
	mounted := map[string]string{}
	for _, m := range c["volumeMounts"].([]any) {
		mounted[str(dig(m, "name"))] = str(dig(m, "mountPath"))
	}
	keysMounted := false
	for _, v := range dig(objs["Deployment"], "spec", "template", "spec", "volumes").([]any) {
		if str(dig(v, "persistentVolumeClaim", "claimName")) == claim {
			assert.Equal(t, "/data", mounted[str(dig(v, "name"))])
		}
		if str(dig(v, "configMap", "name")) == "alga-mobile-auth-license-keys" {
			keysMounted = true
			assert.Equal(t, true, dig(v, "configMap", "optional"), "the pod starts without the keys")
			assert.Equal(t, values["ALGA_LICENSE_PUBLIC_KEYS"], mounted[str(dig(v, "name"))])
		}
	}
	assert.True(t, keysMounted, "the license keys ConfigMap is mounted")
	// No ingress controller on the appliance: the operator's proxy uses the NodePort.
	assert.NotContains(t, objs, "Ingress")
	assert.Equal(t, "NodePort", dig(objs["Service"], "spec", "type"))
	assert.Equal(t, "Local", dig(objs["Service"], "spec", "externalTrafficPolicy"))
	assert.Equal(t, 30808, dig(objs["Service"], "spec", "ports", "0", "nodePort"))

	t.Run("an Ingress in appliance mode routes only SPEC §8.6's paths", func(t *testing.T) {
		objs := renderAppliance(t,
			"--set", "ingress.enabled=true", "--set", "ingress.host=psa.example.com", "--set", "ingress.className=traefik")
		routes := ingressRoutes(t, objs)
		assert.Equal(t, routeStrings(deployroutes.Appliance()), routeStrings(routes))
		for _, p := range deployroutes.ApplianceWebApp() {
			assert.False(t, deployroutes.Routed(routes, p), "%s stays with the web app", p)
		}
	})
	t.Run("a whole database URL instead of DB_*", func(t *testing.T) {
		objs := renderAppliance(t,
			"--set", "appliance.database.urlSecret.name=alga-psa-db", "--set", "appliance.database.urlSecret.key=url")
		values, secrets := env(t, container(t, objs))
		assert.NotContains(t, values, "DB_HOST")
		assert.Equal(t, map[string]string{
			"ALGA_PSA_DATABASE_URL": "alga-psa-db/url",
			"NEXTAUTH_SECRET":       "alga-core-sebastian-secrets/NEXTAUTH_SECRET",
			"ALGA_LICENSE":          "appliance-license-seed/LICENSE_TOKEN",
		}, secrets)
	})
	t.Run("the license seed and keys can be turned off", func(t *testing.T) {
		objs := renderAppliance(t,
			"--set", "appliance.licenseSecret.name=", "--set", "appliance.licenseKeysConfigMap=")
		c := container(t, objs)
		values, secrets := env(t, c)
		assert.NotContains(t, secrets, "ALGA_LICENSE")
		assert.NotContains(t, values, "ALGA_LICENSE_PUBLIC_KEYS")
		for _, v := range dig(objs["Deployment"], "spec", "template", "spec", "volumes").([]any) {
			assert.Nil(t, dig(v, "configMap"), "no keys volume")
		}
	})
}

func TestChartTraefikExampleAndServiceMonitorToggle(t *testing.T) {
	objs := render(t, "-f", filepath.Join(chartDir, "values-traefik.yaml"))
	checkCommon(t, objs)
	assert.Equal(t, "traefik", dig(objs["Ingress"], "spec", "ingressClassName"))
	assert.Equal(t, "websecure", dig(objs["Ingress"], "metadata", "annotations", "traefik.ingress.kubernetes.io/router.entrypoints"))
	assert.Equal(t, routeStrings(deployroutes.Standalone()), routeStrings(ingressRoutes(t, objs)))

	require.Contains(t, objs, "ServiceMonitor")
	sm := objs["ServiceMonitor"]
	assert.Equal(t, "kube-prometheus-stack", dig(sm, "metadata", "labels", "release"))
	assert.Equal(t, "metrics", dig(sm, "spec", "endpoints", "0", "port"))
	assert.Equal(t, "/metrics", dig(sm, "spec", "endpoints", "0", "path"))
	for k, v := range dig(sm, "spec", "selector", "matchLabels").(map[string]any) {
		assert.Equal(t, v, dig(objs["Service"], "metadata", "labels", k), "selects the Service")
	}

	off := render(t, "-f", filepath.Join(chartDir, "values-traefik.yaml"), "--set", "metrics.serviceMonitor.enabled=false")
	assert.NotContains(t, off, "ServiceMonitor")
	on := renderAppliance(t, "--set", "metrics.serviceMonitor.enabled=true")
	assert.Contains(t, on, "ServiceMonitor")
	noPDB := renderAppliance(t, "--set", "podDisruptionBudget.enabled=false")
	assert.NotContains(t, noPDB, "PodDisruptionBudget")
}

func TestChartRefusesWhatCanNeverWork(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no public URL", []string{"--set", "trustedProxies=10.42.7.0/24"}, "publicUrl"},
		{"no trusted proxies", []string{"--set", "publicUrl=https://psa.example.com"}, "trustedProxies"},
		{"an unknown mode", []string{"-f", filepath.Join(chartDir, "values-standalone.yaml"), "--set", "mode=both"}, "at '/mode': value must be one of 'standalone', 'appliance'"},
		// values.schema.json: a misspelt key is an error, not silently ignored.
		{"a misspelt key", []string{"-f", filepath.Join(chartDir, "values-appliance.yaml"), "--set", "trustedProxy=10.0.0.1"}, "additional properties 'trustedProxy' not allowed"},
		{"a misspelt nested key", []string{"-f", filepath.Join(chartDir, "values-appliance.yaml"), "--set", "appliance.nextauthSecret.keys=X"}, "additional properties 'keys' not allowed"},
		{"a public URL with a path", []string{"-f", filepath.Join(chartDir, "values-appliance.yaml"), "--set", "publicUrl=https://psa.example.com/alga"}, "/publicUrl"},
		{"SQLite with two replicas", []string{"-f", filepath.Join(chartDir, "values-appliance.yaml"), "--set", "replicaCount=2"}, "replicaCount must be 1"},
		{"an Ingress without a host", []string{"-f", filepath.Join(chartDir, "values-appliance.yaml"), "--set", "ingress.enabled=true"}, "ingress.host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := helm(t, append([]string{"template", "alga-mobile-auth", chartDir}, tc.args...)...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// flux/alga-mobile-auth.yaml installs this chart from a GitRepository with
// appliance values that render the same objects as values-appliance.yaml.
func TestFluxHelmReleaseRendersTheApplianceRelease(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("flux", "alga-mobile-auth.yaml"))
	require.NoError(t, err)
	docs := map[string]object{}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var o object
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else {
			require.NoError(t, err)
		}
		docs[o.kind()] = o
	}
	repo, rel := docs["GitRepository"], docs["HelmRelease"]
	require.NotNil(t, repo)
	require.NotNil(t, rel)
	assert.Equal(t, "msp", dig(rel, "spec", "targetNamespace"))
	ref := dig(rel, "spec", "chart", "spec", "sourceRef")
	assert.Equal(t, "GitRepository", dig(ref, "kind"))
	assert.Equal(t, dig(repo, "metadata", "name"), dig(ref, "name"))
	assert.Equal(t, dig(repo, "metadata", "namespace"), dig(ref, "namespace"))
	chartPath := str(dig(rel, "spec", "chart", "spec", "chart"))
	_, err = os.Stat(filepath.Join("..", "..", chartPath, "Chart.yaml"))
	require.NoError(t, err, "the chart path %s is the chart, from the repository's root", chartPath)

	values, err := yaml.Marshal(dig(rel, "spec", "values"))
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "values.yaml")
	require.NoError(t, os.WriteFile(file, values, 0o600))
	fromFlux := render(t, append([]string{"-f", file}, applianceSets...)...)
	fromExample := renderAppliance(t)
	checkCommon(t, fromFlux)
	assert.Equal(t, fromExample["Deployment"]["spec"], fromFlux["Deployment"]["spec"], "the same pods as values-appliance.yaml")
	assert.Equal(t, fromExample["Service"]["spec"], fromFlux["Service"]["spec"])
	assert.Equal(t, fromExample["PersistentVolumeClaim"]["spec"], fromFlux["PersistentVolumeClaim"]["spec"])
}
