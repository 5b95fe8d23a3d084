package e2e

// deploy/ checked without Docker or Kubernetes (issue 5): the compose file,
// its env example, the Kubernetes manifests and the Dockerfile are parsed,
// every variable name in them must be one the service reads (a misspelt
// name is silently ignored at run time), and the settings the issue asks
// for are really there.

import (
	"bufio"
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
// tags, b.secret("NAME") and b.secretOrUnreadable("NAME") calls, and
// lookup("NAME") calls (the secret resolver's own SECRET_FS_BASE_PATH).
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
				if (fn == "secret" || fn == "secretOrUnreadable" || fn == "lookup") && len(n.Args) == 1 {
					if lit, ok := n.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, err := strconv.Unquote(lit.Value)
						require.NoError(t, err)
						if fn != "lookup" {
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
	require.True(t, v.secrets["ALGA_MOBILE_DATABASE_URL"] && v.secrets["GOOGLE_OAUTH_CLIENT_SECRET"] && v.secrets["DB_PASSWORD_SERVER"], "scan found %v", v.secrets)
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
	defer func() { _ = f.Close() }()
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
			require.NoError(t, os.Unsetenv(name))
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
	compose, err := os.ReadFile(filepath.Join(dpRoot, "deploy/compose/compose.yaml"))
	require.NoError(t, err)
	for k := range dpNotServiceVars {
		assert.Contains(t, string(compose), k, "exemption %s is still used", k)
	}

	// The example as shipped (with compose's database URL) is a valid configuration.
	env := map[string]string{"ALGA_MOBILE_DATABASE_URL": "postgres://alga:x@postgres:5432/alga_mobile_auth?sslmode=disable"}
	for k, val := range set {
		if _, exempt := dpNotServiceVars[k]; !exempt {
			env[k] = val
		}
	}
	_, err = dpLoadConfig(t, v, env, nil)
	assert.NoError(t, err)
}
