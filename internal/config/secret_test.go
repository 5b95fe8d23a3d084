package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ownedBy is a FileInfo that says another user owns the file.
type ownedBy struct {
	fs.FileInfo
	uid uint32
}

func (o ownedBy) Sys() any { return &syscall.Stat_t{Uid: o.uid} }

// loadAs loads the configuration as the image's user (uid 65532) would,
// denying the reads of the given paths with EACCES (tests run as root,
// who may read anything); owner, when non-zero, owns every file.
func loadAs(t *testing.T, env map[string]string, denied []string, owner uint32, statDenied bool) (*Config, Problems) {
	t.Helper()
	cleanEnv(t)
	for k, v := range env {
		t.Setenv(k, v)
	}
	r := newSecretResolver(os.LookupEnv)
	r.uid = 65532
	r.readFile = func(p string) ([]byte, error) {
		for _, d := range denied {
			if p == d {
				return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.EACCES}
			}
		}
		return os.ReadFile(p) //nolint:gosec // G304: test files
	}
	r.stat = func(p string) (fs.FileInfo, error) {
		if statDenied {
			return nil, &fs.PathError{Op: "stat", Path: p, Err: syscall.EACCES}
		}
		fi, err := os.Stat(p)
		if err != nil || owner == 0 {
			return fi, err
		}
		return ownedBy{fi, owner}, nil
	}
	cfg, err := loadWith(r)
	require.NotNil(t, cfg)
	var ps Problems
	if err != nil {
		require.ErrorAs(t, err, &ps)
	}
	return cfg, ps
}

// A secret file that exists but that the service's user may not read
// (AlgaPSA's compose guide makes its secrets mode 600; the image runs as
// uid 65532) is a problem whose fix says exactly that, names the uid and
// what gives it access, and is never mistaken for an unset secret.
func TestUnreadableSecretFileSaysWhoCannotReadIt(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"nextauth_secret", "db_password_server", "GOOGLE_OAUTH_CLIENT_SECRET"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("value-9f8e7d\n"), 0o600))
	}
	psaDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(psaDir, "ALGA_PSA_DATABASE_URL"), []byte("postgres://app_user:value-9f8e7d@db/server\n"), 0o600))
	fileVar := filepath.Join(t.TempDir(), "license.jwt")
	require.NoError(t, os.WriteFile(fileVar, []byte("value-9f8e7d\n"), 0o600))
	appliance := map[string]string{"SECRET_FS_BASE_PATH": dir, "DB_HOST": "db.msp.svc.cluster.local"}

	tests := []struct {
		name       string
		env        map[string]string
		denied     string
		owner      uint32
		statDenied bool
		variable   string
		message    []string
		fix        []string
		notFix     []string
		check      func(t *testing.T, cfg *Config)
	}{
		{name: "NEXTAUTH_SECRET in the secrets directory, owned by root", env: appliance, denied: filepath.Join(dir, "nextauth_secret"),
			variable: "NEXTAUTH_SECRET",
			message:  []string{"cannot read nextauth_secret from the secrets directory " + dir, "permission denied"},
			fix: []string{filepath.Join(dir, "nextauth_secret") + " exists but this service's user (uid 65532) cannot read it",
				"(it belongs to uid 0, mode 0600)", "give the service's user read access, `setfacl -m u:65532:r <host file>` on the host (AlgaPSA's compose install keeps it at secrets/nextauth_secret)",
				"Kubernetes"},
			notFix: []string{"run the container as the file's owner", "as the line above says"},
			check:  func(t *testing.T, cfg *Config) { assert.False(t, cfg.Appliance.NextAuthSecret.Set()) }},
		{name: "DB_PASSWORD_SERVER owned by another user", env: appliance, denied: filepath.Join(dir, "db_password_server"), owner: 1000,
			variable: "DB_PASSWORD_SERVER",
			message:  []string{"cannot read db_password_server from the secrets directory", "permission denied"},
			fix: []string{"uid 65532", "(it belongs to uid 1000, mode 0600)", "setfacl -m u:65532:r",
				`or run the container as the file's owner (compose: user: "1000"; Kubernetes: runAsUser: 1000)`},
			check: func(t *testing.T, cfg *Config) {
				assert.Empty(t, cfg.Appliance.MissingPassword, "an unreadable password is not a missing one")
			}},
		{name: "a directory on the way is closed", env: appliance, denied: filepath.Join(dir, "nextauth_secret"), statDenied: true,
			variable: "NEXTAUTH_SECRET",
			fix:      []string{"a directory on the way to " + filepath.Join(dir, "nextauth_secret") + " does not let this service's user (uid 65532) in", "setfacl -m u:65532:x"}},
		{name: "ALGA_PSA_DATABASE_URL unreadable keeps appliance mode", env: map[string]string{"SECRET_FS_BASE_PATH": psaDir},
			denied: filepath.Join(psaDir, "ALGA_PSA_DATABASE_URL"), variable: "ALGA_PSA_DATABASE_URL",
			fix: []string{"uid 65532", "setfacl -m u:65532:r <host file>` on the host (AlgaPSA's compose install keeps it at secrets/ALGA_PSA_DATABASE_URL)"},
			check: func(t *testing.T, cfg *Config) {
				assert.True(t, cfg.ApplianceMode(), "the operator configured appliance mode")
				assert.Equal(t, "ALGA_PSA_DATABASE_URL", cfg.Appliance.DatabaseFrom)
			}},
		{name: "a _FILE variable naming an unreadable file", env: map[string]string{"ALGA_LICENSE_FILE": fileVar}, denied: fileVar,
			variable: "ALGA_LICENSE",
			message:  []string{"ALGA_LICENSE_FILE points at " + fileVar + ", which cannot be read: permission denied"},
			fix:      []string{fileVar + " exists but this service's user (uid 65532) cannot read it", "setfacl -m u:65532:r <host file>` on the host"},
			notFix:   []string{"compose install"}},
		{name: "a _FILE variable naming no file", env: map[string]string{"ALGA_LICENSE_FILE": filepath.Join(dir, "nope.jwt")},
			variable: "ALGA_LICENSE",
			fix:      []string{"point ALGA_LICENSE_FILE at the file that holds ALGA_LICENSE"}, notFix: []string{"uid"}},
		{name: "a provider secret", env: map[string]string{"SECRET_FS_BASE_PATH": dir, "GOOGLE_OAUTH_CLIENT_ID": "id"},
			denied: filepath.Join(dir, "GOOGLE_OAUTH_CLIENT_SECRET"), variable: "GOOGLE_OAUTH_CLIENT_SECRET",
			fix: []string{"uid 65532", "secrets/GOOGLE_OAUTH_CLIENT_SECRET"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var denied []string
			if tt.denied != "" {
				denied = []string{tt.denied}
			}
			cfg, ps := loadAs(t, tt.env, denied, tt.owner, tt.statDenied)
			require.Equal(t, []string{tt.variable}, vars(ps))
			p := ps[0]
			for _, m := range tt.message {
				assert.Contains(t, p.Message, m)
			}
			for _, f := range tt.fix {
				assert.Contains(t, p.Fix, f)
			}
			for _, f := range tt.notFix {
				assert.NotContains(t, p.Fix, f)
			}
			assert.NotContains(t, p.Message+p.Fix, "value-9f8e7d", "never the secret")
			if tt.check != nil {
				tt.check(t, cfg)
			}
		})
	}
}
