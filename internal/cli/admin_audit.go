package cli

import (
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
)

// adminEvent is the audit event an admin command writes after it changed
// something; details name the command and who ran it.
type adminEvent struct {
	op, tenant, user, record string
	details                  map[string]string
}

// writeAdminAudit appends ev to the audit trail. The change is made by
// then, so a failure says so (and exits 1: an unaudited change must not
// look like a clean success).
func writeAdminAudit(e Env, st *sqlstore.Store, cmd string, ev adminEvent) int {
	d := map[string]string{"command": cmd, "actor": actor()}
	for k, v := range ev.details {
		d[k] = v
	}
	err := st.AppendAudit(e.Ctx, mobileauth.AuditEvent{Time: time.Now(), TenantID: ev.tenant, UserID: ev.user,
		Operation: ev.op, RecordID: ev.record, Details: d})
	if err != nil {
		return fail(e, cmd, fmt.Errorf("the change was made, but its audit event could not be written: %w", err))
	}
	return ExitOK
}

// actor names who ran an admin command: the operating-system user.
func actor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	if n := os.Getenv("USER"); n != "" {
		return "cli:" + n
	}
	return fmt.Sprintf("cli:uid %d", os.Getuid())
}
