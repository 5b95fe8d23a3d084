package e2e

// The Dockerfile, parsed as text (see deploy_test.go): no Docker here.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
