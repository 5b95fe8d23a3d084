package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestUsersAndTenantsRefuseInApplianceMode(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		from string
	}{
		{"DB_HOST", map[string]string{"DB_HOST": "db.msp.svc.cluster.local"}, "DB_HOST"},
		{"ALGA_PSA_DATABASE_URL", map[string]string{"ALGA_PSA_DATABASE_URL": "postgres://app_user:pw@db:5432/server"}, "ALGA_PSA_DATABASE_URL"},
	}
	commands := [][]string{
		{"users", "add", "--tenant", "00000000-0000-0000-0000-000000000001", "--email", "a@example.com"},
		{"users", "list"},
		{"users", "disable", "--tenant", "00000000-0000-0000-0000-000000000001", "--email", "a@example.com"},
		{"users", "enable", "--tenant", "00000000-0000-0000-0000-000000000001", "--email", "a@example.com"},
		{"users", "import", "users.csv"},
		{"tenants", "set-plan", "--tenant", "00000000-0000-0000-0000-000000000001", "--plan", "pro"},
		{"tenants", "show", "--tenant", "00000000-0000-0000-0000-000000000001"},
	}
	for _, tt := range tests {
		for _, args := range commands {
			t.Run(tt.name+" "+args[0]+" "+args[1], func(t *testing.T) {
				applianceEnv(t, tt.env)
				res := adminRun(t, args...)
				assert.Equal(t, ExitFail, res.code, "exit 1: the command is well formed, the mode makes it pointless")
				assert.Contains(t, res.stderr, "alga-mobile-auth "+args[0]+" "+args[1]+": refused in appliance mode ("+tt.from+" is set): users and their plans live in AlgaPSA")
				assert.Empty(t, res.stdout)
				assert.NotContains(t, res.stderr, "pw@")
			})
		}
	}
	t.Run("--help still works", func(t *testing.T) {
		applianceEnv(t, map[string]string{"DB_HOST": "db"})
		res := adminRun(t, "users", "add", "--help")
		assert.Equal(t, ExitOK, res.code)
		assert.Contains(t, res.stdout, "Usage: alga-mobile-auth users add")
	})
	t.Run("standalone mode is unchanged", func(t *testing.T) {
		applianceEnv(t, nil)
		// Only serve and migrate create the store the other commands open.
		assert.Equal(t, ExitOK, adminRun(t, "migrate").code)
		res := adminRun(t, "users", "list")
		assert.Equal(t, ExitOK, res.code, res.stderr)
	})
}
