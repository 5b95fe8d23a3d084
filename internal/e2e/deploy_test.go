package e2e

// deploy/ checked without Docker or Kubernetes (issue 5): the compose file,
// its env example, the Kubernetes manifests and the Dockerfile are parsed,
// every variable name in them must be one the service reads (a misspelt
// name is silently ignored at run time), and the settings the issue asks
// for are really there.

import (
	"bufio"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/nineminds/alga-mobile-auth/internal/config"
)

const dpRoot = "../.."

// dpNotServiceVars are names in deploy/ that alga-mobile-auth does not read,
// each with the reason it is there anyway.
var dpNotServiceVars = map[string]string{
	// The bundled PostgreSQL container's password; compose substitutes it
	// into ALGA_MOBILE_DATABASE_URL so it is written only once in .env.
	"POSTGRES_PASSWORD": "compose only",
	// Image tag and build argument in compose.yaml (${ALGA_MOBILE_VERSION:-dev}).
	"ALGA_MOBILE_VERSION": "compose only",
}

// dpVars is what the service reads, found in internal/config's source.
type dpVars struct {
	env     map[string]bool // envconfig tags and direct lookups
	secrets map[string]bool // resolved through the secret provider (file, _FILE, env)
}

// reads reports whether the service reads name, including <SECRET>_FILE.
func (v dpVars) reads(name string) bool {
	if v.env[name] || v.secrets[name] {
		return true
	}
	base, ok := strings.CutSuffix(name, "_FILE")
	return ok && v.secrets[base]
}

// all lists every variable (without the _FILE forms), sorted.
func (v dpVars) all() []string {
	var out []string
	for _, m := range []map[string]bool{v.env, v.secrets} {
		for k := range m {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// dpServiceVars parses internal/config/*.go: `envconfig:"NAME"` struct
// tags, b.secret("NAME") calls and lookup("NAME") calls (the secret
// resolver's own SECRET_FS_BASE_PATH).
func dpServiceVars(t *testing.T) dpVars {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dpRoot, "internal/config/*.go"))
	require.NoError(t, err)
	v := dpVars{env: map[string]bool{}, secrets: map[string]bool{}}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Field:
				if n.Tag != nil {
					tag, err := strconv.Unquote(n.Tag.Value)
					require.NoError(t, err)
					if e := reflect.StructTag(tag).Get("envconfig"); e != "" {
						v.env[e] = true
					}
				}
			case *ast.CallExpr:
				var fn string
				switch f := n.Fun.(type) {
				case *ast.Ident:
					fn = f.Name
				case *ast.SelectorExpr:
					fn = f.Sel.Name
				}
				if (fn == "secret" || fn == "lookup") && len(n.Args) == 1 {
					if lit, ok := n.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, err := strconv.Unquote(lit.Value)
						require.NoError(t, err)
						if fn == "secret" {
							v.secrets[s] = true
						} else {
							v.env[s] = true
						}
					}
				}
			}
			return true
		})
	}
	// Guard against a scan that silently finds nothing.
	require.True(t, v.env["NEXTAUTH_URL"] && v.env["ALGA_MOBILE_TRUSTED_PROXIES"] && v.env["SECRET_FS_BASE_PATH"], "scan found %v", v.env)
	require.True(t, v.secrets["ALGA_MOBILE_DATABASE_URL"] && v.secrets["GOOGLE_OAUTH_CLIENT_SECRET"], "scan found %v", v.secrets)
	return v
}

// dpCheckName fails unless the service reads name or it is exempt.
func dpCheckName(t *testing.T, v dpVars, where, name string) {
	t.Helper()
	if _, exempt := dpNotServiceVars[name]; exempt {
		return
	}
	assert.True(t, v.reads(name), "%s: %s is not a variable alga-mobile-auth reads", where, name)
}

var dpEnvLine = regexp.MustCompile(`^(#\s?)?([A-Z][A-Z0-9_]*)=(.*)$`)

// dpEnvExample returns env.example's variables: set ones with their values,
// and the names of commented-out examples.
func dpEnvExample(t *testing.T) (set map[string]string, commented []string) {
	t.Helper()
	f, err := os.Open(filepath.Join(dpRoot, "deploy/compose/env.example"))
	require.NoError(t, err)
	defer f.Close()
	set = map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := dpEnvLine.FindStringSubmatch(sc.Text())
		switch {
		case m == nil:
		case m[1] == "":
			set[m[2]] = m[3]
		default:
			commented = append(commented, m[2])
		}
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, set)
	return set, commented
}

// dpLoadConfig runs config.Load on exactly env (plus secret files in a
// fresh SECRET_FS_BASE_PATH) and returns the result.
func dpLoadConfig(t *testing.T, v dpVars, env, secretFiles map[string]string) (*config.Config, error) {
	t.Helper()
	for _, k := range v.all() {
		for _, name := range []string{k, k + "_FILE"} {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	for k, val := range env {
		t.Setenv(k, val)
	}
	dir := t.TempDir()
	for k, val := range secretFiles {
		require.NoError(t, os.WriteFile(filepath.Join(dir, k), []byte(val), 0o600))
	}
	t.Setenv("SECRET_FS_BASE_PATH", dir)
	return config.Load()
}

var dpSubst = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+])?`)

func TestDeployComposeUsesOnlyVariablesTheServiceReads(t *testing.T) {
	v := dpServiceVars(t)
	raw, err := os.ReadFile(filepath.Join(dpRoot, "deploy/compose/compose.yaml"))
	require.NoError(t, err)
	var compose struct {
		Services map[string]struct {
			EnvFile     any `yaml:"env_file"`
			Environment any `yaml:"environment"`
		}
	}
	require.NoError(t, yaml.Unmarshal(raw, &compose))
	svc, ok := compose.Services["alga-mobile-auth"]
	require.True(t, ok, "service alga-mobile-auth")
	assert.Equal(t, ".env", svc.EnvFile, "env.example says: copy to .env")
	switch env := svc.Environment.(type) {
	case map[string]any:
		require.NotEmpty(t, env)
		for k := range env {
			dpCheckName(t, v, "compose environment", k)
		}
	case []any:
		for _, kv := range env {
			k, _, _ := strings.Cut(kv.(string), "=")
			dpCheckName(t, v, "compose environment", k)
		}
	case nil:
	default:
		t.Fatalf("environment: unexpected %T", env)
	}

	// ${VAR} substitutions come from .env, so a required one must be set
	// (not just shown commented out) in the example.
	set, _ := dpEnvExample(t)
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode {
			for _, m := range dpSubst.FindAllStringSubmatch(n.Value, -1) {
				dpCheckName(t, v, "compose ${}", m[1])
				if strings.HasSuffix(m[2], "?") {
					assert.Contains(t, set, m[1], "required by compose.yaml, so env.example sets it")
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
}

func TestDeployEnvExampleDocumentsExactlyTheServiceVariables(t *testing.T) {
	v := dpServiceVars(t)
	set, commented := dpEnvExample(t)
	seen := map[string]bool{}
	for k := range set {
		dpCheckName(t, v, "env.example", k)
		seen[k] = true
	}
	for _, k := range commented {
		dpCheckName(t, v, "env.example (commented)", k)
		seen[k] = true
	}
	for _, k := range v.all() {
		assert.True(t, seen[k], "env.example does not mention %s, which the service reads", k)
	}
	for k := range dpNotServiceVars {
		all, err := os.ReadFile(filepath.Join(dpRoot, "deploy/compose/compose.yaml"))
		require.NoError(t, err)
		assert.Contains(t, string(all), k, "exemption %s is still used", k)
	}

	// The example as shipped (with compose's database URL) is a valid configuration.
	env := map[string]string{"ALGA_MOBILE_DATABASE_URL": "postgres://alga:x@postgres:5432/alga_mobile_auth?sslmode=disable"}
	for k, val := range set {
		if _, exempt := dpNotServiceVars[k]; !exempt {
			env[k] = val
		}
	}
	_, err := dpLoadConfig(t, v, env, nil)
	assert.NoError(t, err)
}

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
		f, err := os.Open(name)
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
		f.Close()
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
	cfg, err := dpLoadConfig(t, v, env, secret.StringData)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(cfg.DatabaseURL.Value(), "postgres://"), "replicas need PostgreSQL")
	assert.True(t, cfg.Google.Configured() && cfg.Microsoft.Configured())
}

// dpInstruction is one Dockerfile instruction with continuation lines joined.
type dpInstruction struct{ Cmd, Args string }

// dpDockerfile returns the Dockerfile's stages, each a list of instructions
// starting with its FROM.
func dpDockerfile(t *testing.T) [][]dpInstruction {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dpRoot, "Dockerfile"))
	require.NoError(t, err)
	var stages [][]dpInstruction
	var cur strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		cur.Reset()
		in := dpInstruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)}
		if in.Cmd == "FROM" {
			stages = append(stages, nil)
		}
		require.NotEmpty(t, stages, "instruction %s before FROM", in.Cmd)
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	require.GreaterOrEqual(t, len(stages), 2, "a build stage and a final stage")
	return stages
}

// dpExec decodes an exec-form (JSON array) argument list; the final image
// has no shell, so the shell form could not run.
func dpExec(t *testing.T, s string) []string {
	t.Helper()
	var argv []string
	require.NoError(t, json.Unmarshal([]byte(s), &argv), "exec form expected: %s", s)
	require.NotEmpty(t, argv)
	return argv
}

func TestDeployDockerfileBuildsASmallNonRootImage(t *testing.T) {
	v := dpServiceVars(t)
	stages := dpDockerfile(t)
	final := stages[len(stages)-1]
	base := strings.Fields(final[0].Args)[0]
	assert.True(t, base == "scratch" || strings.HasPrefix(base, "gcr.io/distroless/"), "final stage on distroless or scratch, got %s", base)

	static := false
	for _, st := range stages[:len(stages)-1] {
		for _, in := range st {
			if in.Cmd == "RUN" && strings.Contains(in.Args, "go build") && strings.Contains(in.Args, "CGO_ENABLED=0") {
				static = true
			}
		}
	}
	assert.True(t, static, "the binary is built with CGO_ENABLED=0")

	var user, entry string
	var health []string
	for _, in := range final {
		switch in.Cmd {
		case "USER":
			user = in.Args
		case "ENTRYPOINT":
			entry = dpExec(t, in.Args)[0]
		case "HEALTHCHECK":
			_, cmd, ok := strings.Cut(in.Args, "CMD ")
			require.True(t, ok, "HEALTHCHECK CMD: %s", in.Args)
			health = dpExec(t, strings.TrimSpace(cmd))
		case "ENV":
			for _, f := range strings.Fields(in.Args) {
				if k, _, ok := strings.Cut(f, "="); ok {
					dpCheckName(t, v, "Dockerfile ENV", k)
				}
			}
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	n, err := strconv.Atoi(uid)
	require.NoError(t, err, "USER is numeric, so runAsNonRoot can verify it: %q", user)
	assert.NotZero(t, n, "USER is not root")
	require.Len(t, health, 2)
	assert.Equal(t, entry, health[0], "the health check runs the image's binary")
	assert.Equal(t, "healthcheck", health[1])

	// The Kubernetes pod runs as the image's user.
	pod := dpK8s(t)["Deployment"].Spec.Template.Spec.SecurityContext
	if pod.RunAsUser != nil {
		assert.Equal(t, n, *pod.RunAsUser)
	}
}
