package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// appendAudit writes events through the store, as the server does.
func appendAudit(t *testing.T, url string, events ...mobileauth.AuditEvent) {
	t.Helper()
	st := adminStore(t, url)
	for _, ev := range events {
		require.NoError(t, st.AppendAudit(context.Background(), ev))
	}
}

func auditEvents(t *testing.T, args ...string) []auditJSON {
	t.Helper()
	r := adminRun(t, append([]string{"audit", "--json"}, args...)...)
	require.Equal(t, ExitOK, r.code, r.stderr)
	var out []auditJSON
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	for dec.More() {
		var ev auditJSON
		require.NoError(t, dec.Decode(&ev))
		out = append(out, ev)
	}
	return out
}

func TestAuditListsEventsNewestFirst(t *testing.T) {
	url := adminDB(t)
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	appendAudit(t, url,
		mobileauth.AuditEvent{Time: at, TenantID: tenantA, UserID: userA, Operation: mobileauth.AuditOTTIssued, RecordID: "ott-1", ClientIP: "192.0.2.7", CorrelationID: "c-1"},
		mobileauth.AuditEvent{Time: at.Add(time.Second), TenantID: tenantA, UserID: userA, Operation: mobileauth.AuditExchange, RecordID: "fam-1", ClientIP: "192.0.2.7", CorrelationID: "c-2",
			Details: map[string]string{"platform": "ios", "appVersion": "1.4.0"}},
		mobileauth.AuditEvent{Time: at.Add(2 * time.Second), TenantID: tenantB, Operation: mobileauth.AuditSignInRefused, ClientIP: "198.51.100.1",
			Details: map[string]string{"reason": "unknown_email"}},
	)

	r := adminRun(t, "audit")
	require.Equal(t, ExitOK, r.code, r.stderr)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	require.Len(t, lines, 4)
	assert.Regexp(t, `^TIME\s+OPERATION\s+TENANT\s+USER\s+RECORD\s+CLIENT IP\s+CORRELATION ID\s+DETAILS$`, lines[0])
	assert.Regexp(t, `^2025-03-01T12:00:02.000Z\s+MOBILE_AUTH_SIGNIN_REFUSED\s+`+tenantB+`\s+-\s+-\s+198.51.100.1\s+-\s+reason=unknown_email$`, lines[1])
	assert.Regexp(t, `^2025-03-01T12:00:01.000Z\s+MOBILE_AUTH_EXCHANGE\s+`+tenantA+`\s+`+userA+`\s+fam-1\s+192.0.2.7\s+c-2\s+appVersion=1.4.0 platform=ios$`, lines[2])
	assert.Contains(t, lines[3], "MOBILE_AUTH_OTT_ISSUED")

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"all", nil, []string{mobileauth.AuditSignInRefused, mobileauth.AuditExchange, mobileauth.AuditOTTIssued}},
		{"by tenant", []string{"--tenant", tenantA}, []string{mobileauth.AuditExchange, mobileauth.AuditOTTIssued}},
		{"by tenant, upper-case", []string{"--tenant", strings.ToUpper(tenantB)}, []string{mobileauth.AuditSignInRefused}},
		{"by user", []string{"--user", userA}, []string{mobileauth.AuditExchange, mobileauth.AuditOTTIssued}},
		{"by tenant and user", []string{"--tenant", tenantB, "--user", userA}, nil},
		{"limited", []string{"--limit", "1"}, []string{mobileauth.AuditSignInRefused}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ops []string
			for _, ev := range auditEvents(t, tt.args...) {
				ops = append(ops, ev.Operation)
			}
			assert.Equal(t, tt.want, ops)
		})
	}

	evs := auditEvents(t, "--limit", "2")
	require.Len(t, evs, 2)
	assert.Equal(t, auditJSON{ID: evs[1].ID, Time: "2025-03-01T12:00:01.000Z", TenantID: tenantA, UserID: userA,
		Operation: mobileauth.AuditExchange, RecordID: "fam-1", ClientIP: "192.0.2.7", CorrelationID: "c-2",
		Details: map[string]string{"platform": "ios", "appVersion": "1.4.0"}}, evs[1])
}

func TestAuditCleansValuesFromTheNetwork(t *testing.T) {
	url := adminDB(t)
	appendAudit(t, url, mobileauth.AuditEvent{TenantID: tenantA, Operation: mobileauth.AuditExchange,
		CorrelationID: "x\x1b[2Jy", Details: map[string]string{"deviceId": "a\tb\nc"}})
	r := adminRun(t, "audit")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.NotContains(t, r.stdout, "\x1b")
	assert.Contains(t, r.stdout, "x?[2Jy")
	assert.Contains(t, r.stdout, "deviceId=a?b?c")
}

func TestAuditRefusesBadValues(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad tenant", []string{"--tenant", "acme"}, `--tenant: "acme" is not a UUID`},
		{"bad user", []string{"--user", "u1"}, `--user: "u1" is not a UUID`},
		{"zero limit", []string{"--limit", "0"}, "--limit must be between 1 and 10000"},
		{"huge limit", []string{"--limit", "10001"}, "--limit must be between 1 and 10000"},
		{"limit not a number", []string{"--limit", "ten"}, `invalid value "ten" for flag -limit`},
		{"an argument", []string{"today"}, `unexpected argument "today"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			adminDB(t)
			assertUsageError(t, adminRun(t, append([]string{"audit"}, tt.args...)...), tt.want)
		})
	}
}
