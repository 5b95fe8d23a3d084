package e2e

// The appliance-mode deployment files (SPEC §8), parsed: the Kubernetes
// manifest for the appliance's msp namespace and the compose variant for
// AlgaPSA's own docker-compose install. Both must read AlgaPSA's existing
// secrets under their real names and reach its database where the web app
// does, with variables the service reads.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// dpApplianceObject is the part of a Kubernetes object these checks read.
type dpApplianceObject struct {
	Kind     string
	Metadata struct {
		Name      string
		Namespace string
	}
	Data map[string]string
	Spec struct {
		Replicas              *int
		Type                  string
		ExternalTrafficPolicy string `yaml:"externalTrafficPolicy"`
		Strategy              struct{ Type string }
		Selector              yaml.Node
		AccessModes           []string `yaml:"accessModes"`
		Ports                 []struct {
			Port       int
			TargetPort any `yaml:"targetPort"`
			NodePort   int `yaml:"nodePort"`
		}
		Template struct {
			Metadata struct{ Labels map[string]string }
			Spec     struct {
				SecurityContext dpSecurity `yaml:"securityContext"`
				Containers      []dpApplianceContainer
				Volumes         []struct {
					Name   string
					Secret struct {
						SecretName string `yaml:"secretName"`
					}
					ConfigMap struct {
						Name     string
						Optional *bool
					} `yaml:"configMap"`
					PVC struct {
						ClaimName string `yaml:"claimName"`
					} `yaml:"persistentVolumeClaim"`
				}
			}
		}
	}
}

// dpApplianceContainer is dpContainer with env values and secretKeyRefs.
type dpApplianceContainer struct {
	Args    []string
	Env     []dpEnvVar
	EnvFrom []struct {
		ConfigMapRef struct{ Name string } `yaml:"configMapRef"`
	} `yaml:"envFrom"`
	VolumeMounts []struct {
		Name      string
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
	LivenessProbe   dpProbe    `yaml:"livenessProbe"`
	ReadinessProbe  dpProbe    `yaml:"readinessProbe"`
	SecurityContext dpSecurity `yaml:"securityContext"`
}

// dpEnvVar is a container env entry, with a secretKeyRef if any.
type dpEnvVar struct {
	Name      string
	Value     string
	ValueFrom struct {
		SecretKeyRef struct {
			Name     string
			Key      string
			Optional *bool
		} `yaml:"secretKeyRef"`
	} `yaml:"valueFrom"`
}

// dpSecretRef names the Secret and key an env var comes from ("" if none).
func (e dpEnvVar) secretRef() string {
	r := e.ValueFrom.SecretKeyRef
	if r.Name == "" {
		return ""
	}
	return r.Name + "/" + r.Key
}

func dpDecodeAll[T any](t *testing.T, raw []byte) []T {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	var out []T
	for {
		var o T
		if err := dec.Decode(&o); err != nil {
			require.ErrorContains(t, err, "EOF")
			return out
		}
		out = append(out, o)
	}
}

func TestDeployApplianceKubernetesManifest(t *testing.T) {
	v := dpServiceVars(t)
	raw, err := os.ReadFile(filepath.Join(dpRoot, "deploy/kubernetes/appliance/alga-mobile-auth.yaml"))
	require.NoError(t, err)
	objs := map[string]dpApplianceObject{}
	for _, o := range dpDecodeAll[dpApplianceObject](t, raw) {
		require.NotContains(t, objs, o.Kind, "one %s", o.Kind)
		objs[o.Kind] = o
		assert.Equal(t, "msp", o.Metadata.Namespace, "%s lives in the appliance's msp namespace", o.Kind)
	}
	for _, k := range []string{"ConfigMap", "Deployment", "Service", "PersistentVolumeClaim"} {
		require.Contains(t, objs, k)
	}
	assert.NotContains(t, objs, "Secret", "AlgaPSA's Secrets are read where they are; the own one is made by a command")
	cm, dep, svc := objs["ConfigMap"], objs["Deployment"], objs["Service"]

	// AlgaPSA's database, where the web app reaches it (SPEC §8).
	for k, want := range map[string]string{"DB_HOST": "db.msp.svc.cluster.local", "DB_PORT": "5432",
		"DB_NAME_SERVER": "server", "DB_USER_SERVER": "app_user", "EDITION": "ee"} {
		assert.Equal(t, want, cm.Data[k], k)
	}
	for k := range cm.Data {
		dpCheckName(t, v, "ConfigMap data", k)
	}

	pod := dep.Spec.Template
	require.Len(t, pod.Spec.Containers, 1)
	c := pod.Spec.Containers[0]
	// AlgaPSA's existing Secrets, by name and key.
	refs := map[string]string{}
	optional := map[string]bool{}
	for _, e := range c.Env {
		dpCheckName(t, v, "Deployment env", e.Name)
		refs[e.Name] = e.secretRef()
		optional[e.Name] = e.ValueFrom.SecretKeyRef.Optional != nil && *e.ValueFrom.SecretKeyRef.Optional
	}
	assert.Equal(t, map[string]string{
		"DB_PASSWORD_SERVER": "db-credentials/DB_PASSWORD_SERVER",
		"NEXTAUTH_SECRET":    "alga-core-sebastian-secrets/NEXTAUTH_SECRET",
		// The appliance's own license, where AlgaPSA's installer seeds it
		// (Secret appliance-license-seed, key LICENSE_TOKEN).
		"ALGA_LICENSE": "appliance-license-seed/LICENSE_TOKEN",
	}, refs)
	assert.Equal(t, map[string]bool{"DB_PASSWORD_SERVER": false, "NEXTAUTH_SECRET": false, "ALGA_LICENSE": true},
		optional, "only the license is optional: a trial or free appliance has none and must still start")
	require.Len(t, c.EnvFrom, 1)
	assert.Equal(t, cm.Metadata.Name, c.EnvFrom[0].ConfigMapRef.Name)

	// Own state: SQLite on the volume, hence one replica, never two at once.
	require.NotNil(t, dep.Spec.Replicas)
	assert.Equal(t, 1, *dep.Spec.Replicas)
	assert.Equal(t, "Recreate", dep.Spec.Strategy.Type)
	assert.Equal(t, "sqlite:/data/mobile-auth.db", cm.Data["ALGA_MOBILE_DATABASE_URL"])
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	pvcVolume, secretVolume, keysVolume := "", "", ""
	for _, vol := range pod.Spec.Volumes {
		if vol.ConfigMap.Name == "alga-mobile-auth-license-keys" {
			keysVolume = vol.Name
			require.NotNil(t, vol.ConfigMap.Optional)
			assert.True(t, *vol.ConfigMap.Optional, "the keys ConfigMap is optional: the pod starts without it")
		}
		if vol.PVC.ClaimName == objs["PersistentVolumeClaim"].Metadata.Name {
			pvcVolume = vol.Name
		}
		if vol.Secret.SecretName == "alga-mobile-auth" {
			secretVolume = vol.Name
		}
	}
	assert.Equal(t, "/data", mounts[pvcVolume], "the claim is mounted at /data")
	assert.Equal(t, cm.Data["SECRET_FS_BASE_PATH"], mounts[secretVolume], "the own Secret's files are where the service looks")
	require.NotEmpty(t, keysVolume, "a volume for the license's verification keys")
	assert.Equal(t, cm.Data["ALGA_LICENSE_PUBLIC_KEYS"], mounts[keysVolume], "the license keys are where the service looks")
	assert.Equal(t, []string{"ReadWriteOnce"}, objs["PersistentVolumeClaim"].Spec.AccessModes)

	// Probes and hardening, as in the standalone manifest.
	assert.Equal(t, []string{"serve"}, c.Args)
	assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	require.NotNil(t, pod.Spec.SecurityContext.RunAsNonRoot)
	assert.True(t, *pod.Spec.SecurityContext.RunAsNonRoot)
	require.NotNil(t, c.SecurityContext.ReadOnlyRootFilesystem)
	assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
	require.NotNil(t, c.SecurityContext.AllowPrivilegeEscalation)
	assert.False(t, *c.SecurityContext.AllowPrivilegeEscalation)

	// The operator's proxy reaches it on a fixed NodePort, keeping its own
	// address as the peer.
	assert.Equal(t, "NodePort", svc.Spec.Type)
	assert.Equal(t, "Local", svc.Spec.ExternalTrafficPolicy)
	require.Len(t, svc.Spec.Ports, 1)
	assert.Equal(t, 30808, svc.Spec.Ports[0].NodePort)
	for k, want := range dpLabels(t, svc.Spec.Selector) {
		assert.Equal(t, want, pod.Metadata.Labels[k])
	}
	for k, want := range dpLabels(t, dep.Spec.Selector) {
		assert.Equal(t, want, pod.Metadata.Labels[k])
	}
	for _, name := range []string{"deploy/proxy/appliance/Caddyfile", "deploy/proxy/appliance/traefik.yaml", "deploy/proxy/appliance/nginx.conf"} {
		assert.Contains(t, pxRead(t, name), "30808", "%s names the NodePort", name)
	}

	// A valid configuration for the real loader once the placeholder is
	// replaced, and refused before.
	env := map[string]string{"DB_PASSWORD_SERVER": "app-user-password", "NEXTAUTH_SECRET": "web-app-secret"}
	for k, val := range cm.Data {
		if k != "SECRET_FS_BASE_PATH" {
			env[k] = val
		}
	}
	_, err = dpLoadConfig(t, v, env, nil)
	require.ErrorContains(t, err, "ALGA_MOBILE_TRUSTED_PROXIES", "the placeholder stops start-up")
	env["ALGA_MOBILE_TRUSTED_PROXIES"] = "192.0.2.10"
	cfg, err := dpLoadConfig(t, v, env, map[string]string{"ALGA_MOBILE_SECRET_KEY": "k3Vq8wY1sQ0bH7nR2xL5pT9mC4fJ6dG8aE1zU3iO7yW2"})
	require.NoError(t, err)
	assert.Equal(t, "sqlite:/data/mobile-auth.db", cfg.DatabaseURL.Value())
	assert.False(t, cfg.License.Set(), "no seed Secret: no license, the pod still starts")

	// The seed's LICENSE_TOKEN reaches the service as its license; an empty
	// one (a free install) counts as none; the own Secret's file overrides it.
	const seed = "eyJhbGciOiJFUzI1NiIsImtpZCI6InYxIn0.e30.c2ln"
	env["ALGA_LICENSE"] = seed
	cfg, err = dpLoadConfig(t, v, env, map[string]string{"ALGA_MOBILE_SECRET_KEY": "k3Vq8wY1sQ0bH7nR2xL5pT9mC4fJ6dG8aE1zU3iO7yW2"})
	require.NoError(t, err)
	assert.Equal(t, seed, cfg.License.Value())
	env["ALGA_LICENSE"] = ""
	cfg, err = dpLoadConfig(t, v, env, map[string]string{"ALGA_MOBILE_SECRET_KEY": "k3Vq8wY1sQ0bH7nR2xL5pT9mC4fJ6dG8aE1zU3iO7yW2"})
	require.NoError(t, err)
	assert.False(t, cfg.License.Set(), "an empty LICENSE_TOKEN is no license")
	env["ALGA_LICENSE"] = seed
	cfg, err = dpLoadConfig(t, v, env, map[string]string{"ALGA_MOBILE_SECRET_KEY": "k3Vq8wY1sQ0bH7nR2xL5pT9mC4fJ6dG8aE1zU3iO7yW2", "ALGA_LICENSE": "own.license.jws"})
	require.NoError(t, err)
	assert.Equal(t, "own.license.jws", cfg.License.Value(), "the sidecar's own Secret overrides the seed")
}

// dpComposeService is the part of a compose service these checks read.
type dpComposeService struct {
	Image       string
	Command     []string
	Environment map[string]string
	Secrets     []yaml.Node
	Volumes     []string
	Ports       []string
	Networks    []string
	ReadOnly    bool     `yaml:"read_only"`
	CapDrop     []string `yaml:"cap_drop"`
}

func TestDeployApplianceComposeVariant(t *testing.T) {
	v := dpServiceVars(t)
	raw, err := os.ReadFile(filepath.Join(dpRoot, "deploy/compose/appliance/docker-compose.mobile-auth.yaml"))
	require.NoError(t, err)
	var f struct {
		Services map[string]dpComposeService
		Secrets  map[string]struct{ File string }
		Networks map[string]any
	}
	require.NoError(t, yaml.Unmarshal(raw, &f))
	require.Len(t, f.Services, 1, "only the sidecar: the rest is AlgaPSA's own file")
	s, ok := f.Services["alga-mobile-auth"]
	require.True(t, ok)

	// AlgaPSA's compose install: database host postgres, its network, its
	// secrets (defined by its own files, so not redefined here).
	for k, want := range map[string]string{"DB_HOST": "postgres", "DB_PORT": "5432", "DB_NAME_SERVER": "server",
		"DB_USER_SERVER": "app_user", "EDITION": "ee", "ALGA_MOBILE_DATABASE_URL": "sqlite:/data/mobile-auth.db"} {
		assert.Equal(t, want, s.Environment[k], k)
	}
	for k, val := range s.Environment {
		dpCheckName(t, v, "compose environment", k)
		for _, m := range dpSubst.FindAllStringSubmatch(val, -1) {
			dpCheckName(t, v, "compose ${}", m[1])
		}
	}
	assert.Equal(t, []string{"app-network"}, s.Networks)
	assert.Nil(t, f.Networks, "the network is AlgaPSA's, not redefined")
	// Short syntax mounts /run/secrets/<name>; long syntax names a target.
	mounted := map[string]string{}
	for _, n := range s.Secrets {
		if n.Kind == yaml.ScalarNode {
			mounted[n.Value] = n.Value
			continue
		}
		var long struct{ Source, Target string }
		require.NoError(t, n.Decode(&long))
		mounted[long.Source] = long.Target
	}
	assert.Equal(t, map[string]string{
		"db_password_server":     "db_password_server",
		"nextauth_secret":        "nextauth_secret",
		"alga_mobile_secret_key": "ALGA_MOBILE_SECRET_KEY",
	}, mounted)
	assert.Equal(t, map[string]struct{ File string }{"alga_mobile_secret_key": {File: "./secrets/alga_mobile_secret_key"}}, f.Secrets,
		"only the own secret is defined here, next to AlgaPSA's ./secrets files")
	assert.Contains(t, s.Volumes, "mobile-auth-data:/data")
	assert.Equal(t, []string{"127.0.0.1:8080:8080"}, s.Ports, "only the host's TLS proxy reaches it")
	assert.True(t, s.ReadOnly)
	assert.Equal(t, []string{"ALL"}, s.CapDrop)

	// With AlgaPSA's secret files under their lower-case names and the own
	// key, the environment is a valid configuration.
	env := map[string]string{}
	for k, val := range s.Environment {
		if !strings.Contains(val, "${") {
			env[k] = val
		}
	}
	env["NEXTAUTH_URL"] = "https://psa.example.com"
	env["ALGA_MOBILE_TRUSTED_PROXIES"] = "172.18.0.1"
	_, err = dpLoadConfig(t, v, env, map[string]string{
		"db_password_server": "app-user-password", "nextauth_secret": "web-app-secret",
		"ALGA_MOBILE_SECRET_KEY": "k3Vq8wY1sQ0bH7nR2xL5pT9mC4fJ6dG8aE1zU3iO7yW2",
	})
	require.NoError(t, err)
}
