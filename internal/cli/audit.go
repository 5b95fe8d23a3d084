package cli

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
)

// timeLayout is how admin commands print times: UTC, to the millisecond
// the store keeps.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// maxAuditLimit mirrors the store's cap, so a larger --limit is refused
// rather than silently cut.
const maxAuditLimit = 10000

// runAudit is `audit`: the recent audit trail, newest first.
func runAudit(e Env) int {
	const cmd = "audit"
	fs := flags(cmd)
	tenant := fs.String("tenant", "", "only events of this tenant (UUID)")
	user := fs.String("user", "", "only events of this user id (UUID)")
	limit := fs.Int("limit", 50, fmt.Sprintf("at most this many events (1-%d)", maxAuditLimit))
	asJSON := fs.Bool("json", false, "print one JSON object per event and line")
	usage := cmd + " [--tenant <uuid>] [--user <uuid>] [--limit N] [--json]\n\n" +
		"Lists recent audit events (OTT issued, exchange, refresh, refresh reuse, revoke, sign-in,\n" +
		"sign-in refused), newest first."
	if code, ok := parse(e, fs, usage, 0); !ok {
		return code
	}
	var f mobileauth.AuditFilter
	var err error
	if *tenant != "" {
		if f.TenantID, err = parseUUID(*tenant); err != nil {
			return usageError(e, cmd, "--tenant: %v", err)
		}
	}
	if *user != "" {
		if f.UserID, err = parseUUID(*user); err != nil {
			return usageError(e, cmd, "--user: %v", err)
		}
	}
	if *limit < 1 || *limit > maxAuditLimit {
		return usageError(e, cmd, "--limit must be between 1 and %d", maxAuditLimit)
	}
	f.Limit = *limit
	return withStore(e, cmd, func(st *sqlstore.Store) int {
		events, err := st.ListAudit(e.Ctx, f)
		if err != nil {
			return fail(e, cmd, err)
		}
		if *asJSON {
			enc := json.NewEncoder(e.Stdout)
			for _, ev := range events {
				if err := enc.Encode(newAuditJSON(ev)); err != nil {
					return fail(e, cmd, err)
				}
			}
			return ExitOK
		}
		tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tOPERATION\tTENANT\tUSER\tRECORD\tCLIENT IP\tCORRELATION ID\tDETAILS")
		for _, ev := range events {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Time.UTC().Format(timeLayout), cell(ev.Operation),
				cell(ev.TenantID), cell(ev.UserID), cell(ev.RecordID), cell(ev.ClientIP), cell(ev.CorrelationID),
				detailsText(ev.Details))
		}
		if err := tw.Flush(); err != nil {
			return fail(e, cmd, err)
		}
		return ExitOK
	})
}

// auditJSON is the --json form of an event; field names follow the API's
// camelCase. JSON escapes control characters, so nothing needs cleaning.
type auditJSON struct {
	ID            int64             `json:"id"`
	Time          string            `json:"time"`
	TenantID      string            `json:"tenantId"`
	UserID        string            `json:"userId"`
	Operation     string            `json:"operation"`
	RecordID      string            `json:"recordId"`
	ClientIP      string            `json:"clientIp"`
	CorrelationID string            `json:"correlationId"`
	Details       map[string]string `json:"details,omitempty"`
}

func newAuditJSON(ev mobileauth.AuditEvent) auditJSON {
	return auditJSON{ev.ID, ev.Time.UTC().Format(timeLayout), ev.TenantID, ev.UserID, ev.Operation, ev.RecordID,
		ev.ClientIP, ev.CorrelationID, ev.Details}
}

// detailsText renders details as key=value pairs in key order.
func detailsText(d map[string]string) string {
	if len(d) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(d))
	for _, k := range slices.Sorted(maps.Keys(d)) {
		parts = append(parts, cell(k)+"="+cell(d[k]))
	}
	return strings.Join(parts, " ")
}

// cell makes a stored value safe for a terminal table: every non-printable
// rune (tabs, newlines, ESC of a terminal escape sequence) becomes '?'.
// Audit records carry values that came from the network.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r == ' ' || unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, s)
}
