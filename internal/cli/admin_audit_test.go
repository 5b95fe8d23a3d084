package cli

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUsersDisableTwiceSaysAlreadyDisabled(t *testing.T) {
	adminDB(t)
	require.Equal(t, ExitOK, adminRun(t, "users", "add", "--tenant", tenantA, "--email", "ann@example.com").code)
	for _, step := range []struct{ cmd, want string }{
		{"disable", "disabled ann@example.com in tenant " + tenantA + "\n"},
		{"disable", "ann@example.com in tenant " + tenantA + " is already disabled\n"},
		{"enable", "enabled ann@example.com in tenant " + tenantA + "\n"},
		{"enable", "ann@example.com in tenant " + tenantA + " is already enabled\n"},
	} {
		r := adminRun(t, "users", step.cmd, "--tenant", tenantA, "--email", "Ann@Example.com")
		assert.Equal(t, ExitOK, r.code, r.stderr)
		assert.Equal(t, step.want, r.stdout)
	}
	r := adminRun(t, "users", "disable", "--tenant", tenantA, "--email", "nobody@example.com")
	assert.Equal(t, ExitFail, r.code)
	assert.Equal(t, "alga-mobile-auth users disable: no user with e-mail nobody@example.com in tenant "+tenantA+"\n", r.stderr)
}

// Admin commands write audit events for the changes they make (and none
// for a change they did not make).
func TestAdminCommandsWriteAuditEvents(t *testing.T) {
	adminDB(t)
	r := adminRun(t, "users", "add", "--tenant", tenantA, "--email", "ann@example.com", "--user-id", userA)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, ExitOK, adminRun(t, "users", "disable", "--tenant", tenantA, "--email", "ann@example.com").code)
	require.Equal(t, ExitOK, adminRun(t, "users", "disable", "--tenant", tenantA, "--email", "ann@example.com").code, "already disabled: no event")
	require.Equal(t, ExitOK, adminRun(t, "users", "enable", "--tenant", tenantA, "--email", "ann@example.com").code)
	require.Equal(t, ExitOK, adminRun(t, "tenants", "set-plan", "--tenant", tenantA, "--plan", "solo").code)
	kid := rotateKey(t)

	events := auditEvents(t)
	require.Len(t, events, 5)
	want := []struct{ op, tenant, user, record string }{
		{"MOBILE_AUTH_ADMIN_KEYS_ROTATE", "", "", kid},
		{"MOBILE_AUTH_ADMIN_TENANT_PLAN", tenantA, "", tenantA},
		{"MOBILE_AUTH_ADMIN_USER_ENABLE", tenantA, userA, userA},
		{"MOBILE_AUTH_ADMIN_USER_DISABLE", tenantA, userA, userA},
		{"MOBILE_AUTH_ADMIN_USER_ADD", tenantA, userA, userA},
	}
	for i, w := range want {
		ev := events[i]
		assert.Equal(t, w.op, ev.Operation)
		assert.Equal(t, w.tenant, ev.TenantID, w.op)
		assert.Equal(t, w.user, ev.UserID, w.op)
		assert.Equal(t, w.record, ev.RecordID, w.op)
		assert.Regexp(t, `^cli:\S+`, ev.Details["actor"], "who ran it")
		assert.NotEmpty(t, ev.Details["command"])
	}
	assert.Equal(t, "solo", events[1].Details["plan"])
	assert.Equal(t, "ann@example.com", events[4].Details["email"])
}

// users disable/enable is one conditional write: among concurrent runs on
// one user exactly one changes it, says so and writes the audit event; the
// others say "already" (a read-then-write let several "change" it).
func TestUsersSetActiveConcurrentlyChangesOnce(t *testing.T) {
	const runs = 8
	for _, engine := range []string{"sqlite", "postgres"} {
		for _, tc := range []struct{ cmd, done, op string }{
			{"disable", "disabled", "MOBILE_AUTH_ADMIN_USER_DISABLE"},
			{"enable", "enabled", "MOBILE_AUTH_ADMIN_USER_ENABLE"},
		} {
			t.Run(engine+" "+tc.cmd, func(t *testing.T) {
				if engine == "postgres" {
					adminPostgres(t)
					require.Equal(t, ExitOK, adminRun(t, "migrate").code)
				} else {
					adminDB(t)
				}
				require.Equal(t, ExitOK, adminRun(t, "users", "add", "--tenant", tenantA, "--email", "ann@example.com", "--user-id", userA).code)
				if tc.cmd == "enable" {
					require.Equal(t, ExitOK, adminRun(t, "users", "disable", "--tenant", tenantA, "--email", "ann@example.com").code)
				}
				results := make(chan adminResult, runs)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for range runs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						results <- adminRun(t, "users", tc.cmd, "--tenant", tenantA, "--email", "ann@example.com")
					}()
				}
				close(start)
				wg.Wait()
				close(results)
				changed, already := 0, 0
				for r := range results {
					assert.Equal(t, ExitOK, r.code, r.stderr)
					switch r.stdout {
					case tc.done + " ann@example.com in tenant " + tenantA + "\n":
						changed++
					case "ann@example.com in tenant " + tenantA + " is already " + tc.done + "\n":
						already++
					default:
						t.Errorf("unexpected answer %q", r.stdout)
					}
				}
				assert.Equal(t, 1, changed, "exactly one run changed the user")
				assert.Equal(t, runs-1, already)
				events := 0
				for _, ev := range auditEvents(t) {
					if ev.Operation == tc.op && ev.UserID == userA {
						events++
					}
				}
				assert.Equal(t, 1, events, "one audit event for the one change")
			})
		}
	}
}
