package e2e

// The Kubernetes manifests of deploy/kubernetes, parsed (see deploy_test.go).

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// dpIngressPlaceholder is the ConfigMap's ALGA_MOBILE_TRUSTED_PROXIES until
// the operator puts the ingress controller's pod range there.
const dpIngressPlaceholder = "REPLACE-WITH-INGRESS-POD-CIDR"

// dpK8sObject is the part of a Kubernetes object the checks read.
type dpK8sObject struct {
	Kind     string
	Metadata struct{ Name string }
	// ConfigMap data, Secret data (base64) and stringData.
	Data       map[string]string
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Replicas     int
		MinAvailable int `yaml:"minAvailable"`
		Selector     yaml.Node
		Template     struct {
			Metadata struct{ Labels map[string]string }
			Spec     struct {
				SecurityContext dpSecurity `yaml:"securityContext"`
				Containers      []dpContainer
				Volumes         []struct {
					Name   string
					Secret struct {
						SecretName string `yaml:"secretName"`
					}
				}
			}
		}
	}
}

type dpSecurity struct {
	RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
	RunAsUser                *int  `yaml:"runAsUser"`
	ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
	AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
}

type dpProbe struct {
	HTTPGet struct {
		Path string
		Port any
	} `yaml:"httpGet"`
}

type dpContainer struct {
	Args  []string
	Ports []struct {
		Name          string
		ContainerPort int `yaml:"containerPort"`
	}
	Env     []struct{ Name string }
	EnvFrom []struct {
		ConfigMapRef struct{ Name string } `yaml:"configMapRef"`
		SecretRef    struct{ Name string } `yaml:"secretRef"`
	} `yaml:"envFrom"`
	VolumeMounts []struct {
		Name      string
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
	LivenessProbe   dpProbe    `yaml:"livenessProbe"`
	ReadinessProbe  dpProbe    `yaml:"readinessProbe"`
	SecurityContext dpSecurity `yaml:"securityContext"`
	Resources       struct {
		Requests map[string]string
	}
}

// dpK8s decodes every document of deploy/kubernetes/*.yaml by kind.
func dpK8s(t *testing.T) map[string]dpK8sObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dpRoot, "deploy/kubernetes/*.yaml"))
	require.NoError(t, err)
	out := map[string]dpK8sObject{}
	for _, name := range files {
		f, err := os.Open(name) //nolint:gosec // G304: the repository's own manifests, listed by the test
		require.NoError(t, err)
		dec := yaml.NewDecoder(f)
		for {
			var o dpK8sObject
			if err := dec.Decode(&o); err != nil {
				require.ErrorContains(t, err, "EOF", name)
				break
			}
			require.NotContains(t, out, o.Kind, "one %s", o.Kind)
			out[o.Kind] = o
		}
		require.NoError(t, f.Close())
	}
	for _, k := range []string{"Deployment", "ConfigMap", "Secret", "Service", "PodDisruptionBudget"} {
		require.Contains(t, out, k)
	}
	return out
}

// dpLabels returns a selector's labels: matchLabels, or the plain map a
// Service uses.
func dpLabels(t *testing.T, n yaml.Node) map[string]string {
	t.Helper()
	var s struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
	require.NoError(t, n.Decode(&s))
	if s.MatchLabels != nil {
		return s.MatchLabels
	}
	var m map[string]string
	require.NoError(t, n.Decode(&m))
	return m
}

func TestDeployKubernetesManifests(t *testing.T) {
	v := dpServiceVars(t)
	objs := dpK8s(t)
	cm, secret, dep := objs["ConfigMap"], objs["Secret"], objs["Deployment"]

	for k := range cm.Data {
		dpCheckName(t, v, "ConfigMap data", k)
	}
	// Secret keys become files in SECRET_FS_BASE_PATH, and only secrets are
	// read from there.
	for _, m := range []map[string]string{secret.Data, secret.StringData} {
		for k := range m {
			assert.True(t, v.secrets[k], "Secret key %s is not a secret the service reads from a file", k)
		}
	}

	pod := dep.Spec.Template
	assert.Equal(t, 2, dep.Spec.Replicas)
	require.Len(t, pod.Spec.Containers, 1)
	c := pod.Spec.Containers[0]
	assert.Equal(t, []string{"serve"}, c.Args)
	assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	for _, p := range []any{c.LivenessProbe.HTTPGet.Port, c.ReadinessProbe.HTTPGet.Port} {
		assert.True(t, len(c.Ports) == 1 && (p == c.Ports[0].Name || p == c.Ports[0].ContainerPort), "probe port %v is the container's", p)
	}
	nonRoot := func(s dpSecurity) bool { return s.RunAsNonRoot != nil && *s.RunAsNonRoot }
	assert.True(t, nonRoot(c.SecurityContext) || nonRoot(pod.Spec.SecurityContext), "runAsNonRoot")
	require.NotNil(t, c.SecurityContext.ReadOnlyRootFilesystem)
	assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem, "readOnlyRootFilesystem")
	require.NotNil(t, c.SecurityContext.AllowPrivilegeEscalation)
	assert.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
	assert.NotEmpty(t, c.Resources.Requests["cpu"])
	assert.NotEmpty(t, c.Resources.Requests["memory"])
	for _, e := range c.Env {
		dpCheckName(t, v, "Deployment env", e.Name)
	}
	// The environment is the ConfigMap; the secrets are the Secret's files,
	// mounted where the ConfigMap's SECRET_FS_BASE_PATH points.
	require.Len(t, c.EnvFrom, 1)
	assert.Equal(t, cm.Metadata.Name, c.EnvFrom[0].ConfigMapRef.Name)
	secretVolume := ""
	for _, vol := range pod.Spec.Volumes {
		if vol.Secret.SecretName == secret.Metadata.Name {
			secretVolume = vol.Name
		}
	}
	require.NotEmpty(t, secretVolume, "a volume of the Secret")
	mounted := ""
	for _, m := range c.VolumeMounts {
		if m.Name == secretVolume {
			mounted = m.MountPath
		}
	}
	assert.Equal(t, cm.Data["SECRET_FS_BASE_PATH"], mounted)

	// Labels: the selectors of the Deployment, Service and PDB all pick the pods.
	for _, kind := range []string{"Deployment", "Service", "PodDisruptionBudget"} {
		sel := dpLabels(t, objs[kind].Spec.Selector)
		require.NotEmpty(t, sel, kind)
		for k, want := range sel {
			assert.Equal(t, want, pod.Metadata.Labels[k], "%s selector %s", kind, k)
		}
	}
	assert.Less(t, objs["PodDisruptionBudget"].Spec.MinAvailable, dep.Spec.Replicas, "a drain can evict one pod")

	// ConfigMap plus the Secret's files make a valid configuration on
	// PostgreSQL (2 replicas share one database, SPEC §6).
	env := map[string]string{}
	for k, val := range cm.Data {
		if k != "SECRET_FS_BASE_PATH" {
			env[k] = val
		}
	}
	// The trusted proxies are a placeholder for the ingress' own range (not
	// a broad pod network), which refuses to load until it is replaced.
	assert.Equal(t, dpIngressPlaceholder, cm.Data["ALGA_MOBILE_TRUSTED_PROXIES"])
	_, err := dpLoadConfig(t, v, env, secret.StringData)
	require.ErrorContains(t, err, "ALGA_MOBILE_TRUSTED_PROXIES", "the placeholder stops start-up")
	env["ALGA_MOBILE_TRUSTED_PROXIES"] = "10.42.3.0/24"
	// No secret key literal to copy: the example leaves a command instead.
	assert.NotContains(t, secret.StringData, "ALGA_MOBILE_SECRET_KEY")
	assert.Contains(t, pxRead(t, "deploy/kubernetes/secret.example.yaml"), "ALGA_MOBILE_SECRET_KEY=\"$(openssl rand -base64 48)\"")
	cfg, err := dpLoadConfig(t, v, env, secret.StringData)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(cfg.DatabaseURL.Value(), "postgres://"), "replicas need PostgreSQL")
	assert.True(t, cfg.Google.Configured() && cfg.Microsoft.Configured())
}
