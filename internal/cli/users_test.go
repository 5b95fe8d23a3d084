package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

const (
	tenantA = "6f1c2a4e-9a51-4f43-9d0e-2b8f0c3a1d10"
	tenantB = "0a9d3c2b-1e4f-4a5b-8c7d-6e5f4a3b2c1d"
	userA   = "3b0e8f2a-7c11-4d6e-8a9b-0c1d2e3f4a5b"
)

// listUsers reads the directory through `users list --json`.
func listUsers(t *testing.T) []userJSON {
	t.Helper()
	r := adminRun(t, "users", "list", "--json")
	require.Equal(t, ExitOK, r.code, r.stderr)
	var users []userJSON
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	for dec.More() {
		var u userJSON
		require.NoError(t, dec.Decode(&u))
		users = append(users, u)
	}
	return users
}

func TestUsersAddListDisableRoundTrip(t *testing.T) {
	url := adminDB(t)

	r := adminRun(t, "users", "add", "--tenant", tenantA, "--email", " Alice@Example.COM ",
		"--first-name", "Alice", "--last-name", "Anders", "--user-id", strings.ToUpper(userA))
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Equal(t, "added alice@example.com (user id "+userA+") to tenant "+tenantA+" as internal\n", r.stdout)

	r = adminRun(t, "users", "add", "--tenant", tenantA, "--email", "bob@example.com", "--type", "client")
	require.Equal(t, ExitOK, r.code, r.stderr)

	r = adminRun(t, "users", "list")
	require.Equal(t, ExitOK, r.code, r.stderr)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	require.Len(t, lines, 3)
	assert.Regexp(t, `^TENANT\s+USER ID\s+EMAIL\s+NAME\s+TYPE\s+ACTIVE$`, lines[0])
	assert.Regexp(t, `^`+tenantA+`\s+`+userA+`\s+alice@example.com\s+Alice Anders\s+internal\s+yes$`, lines[1])
	assert.Regexp(t, `^`+tenantA+`\s+\S+\s+bob@example.com\s+-\s+client\s+yes$`, lines[2])

	users := listUsers(t)
	require.Len(t, users, 2)
	id, err := uuid.Parse(users[1].ID)
	require.NoError(t, err, "a generated user id is a UUID")
	assert.Equal(t, uuid.Version(4), id.Version())

	r = adminRun(t, "users", "disable", "--tenant", tenantA, "--email", "ALICE@example.com")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Equal(t, "disabled alice@example.com in tenant "+tenantA+"\n", r.stdout)

	u, err := adminStore(t, url).GetUser(context.Background(), tenantA, userA)
	require.NoError(t, err)
	assert.False(t, u.Active)
	assert.Equal(t, "alice@example.com", u.Email)
	assert.Equal(t, mobileauth.UserInternal, u.Type)

	r = adminRun(t, "users", "enable", "--tenant", tenantA, "--email", "Alice@Example.com")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Equal(t, "enabled alice@example.com in tenant "+tenantA+"\n", r.stdout)
	u, err = adminStore(t, url).GetUser(context.Background(), tenantA, userA)
	require.NoError(t, err)
	assert.True(t, u.Active)
}

func TestUsersAddRefusesDuplicates(t *testing.T) {
	adminDB(t)
	require.Equal(t, ExitOK, adminRun(t, "users", "add", "--tenant", tenantA, "--email", "a@example.com", "--user-id", userA).code)

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"same e-mail in any case", []string{"--email", "A@Example.com"}, "a user with e-mail a@example.com already exists in tenant " + tenantA},
		{"same user id", []string{"--email", "other@example.com", "--user-id", userA}, "a user with id " + userA + " already exists in tenant " + tenantA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := adminRun(t, append([]string{"users", "add", "--tenant", tenantA}, tt.args...)...)
			assert.Equal(t, ExitFail, r.code)
			assert.Equal(t, "alga-mobile-auth users add: "+tt.want+"\n", r.stderr)
		})
	}
	assert.Len(t, listUsers(t), 1)
}

func TestUsersAddWarnsAboutAnEmailInTwoTenants(t *testing.T) {
	adminDB(t)
	require.Equal(t, ExitOK, adminRun(t, "users", "add", "--tenant", tenantA, "--email", "a@example.com").code)
	r := adminRun(t, "users", "add", "--tenant", tenantB, "--email", "a@example.com")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stderr, "warning: a@example.com is also in tenant "+tenantA)
}

func TestUsersCommandsRefuseBadValues(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"add without tenant", []string{"users", "add", "--email", "a@example.com"}, "tenant is required"},
		{"add with a tenant that is no UUID", []string{"users", "add", "--tenant", "acme", "--email", "a@example.com"}, `tenant: "acme" is not a UUID`},
		{"add with a braced UUID", []string{"users", "add", "--tenant", "{" + tenantA + "}", "--email", "a@example.com"}, "is not a UUID"},
		{"add with the nil UUID", []string{"users", "add", "--tenant", uuid.Nil.String(), "--email", "a@example.com"}, "nil UUID"},
		{"add without e-mail", []string{"users", "add", "--tenant", tenantA}, "email is required"},
		{"add with a bad e-mail", []string{"users", "add", "--tenant", tenantA, "--email", "alice.example.com"}, `email: "alice.example.com" is not a plain e-mail address`},
		{"add with a display name", []string{"users", "add", "--tenant", tenantA, "--email", "Alice <a@example.com>"}, "is not a plain e-mail address"},
		{"add with a multi-line e-mail", []string{"users", "add", "--tenant", tenantA, "--email", "a@example.com\nb@example.com"}, "is not a plain e-mail address"},
		{"add with a bad type", []string{"users", "add", "--tenant", tenantA, "--email", "a@example.com", "--type", "admin"}, `type "admin": want internal or client`},
		{"add with a bad user id", []string{"users", "add", "--tenant", tenantA, "--email", "a@example.com", "--user-id", "42"}, `user id: "42" is not a UUID`},
		{"add with a control character in a name", []string{"users", "add", "--tenant", tenantA, "--email", "a@example.com", "--first-name", "A\x1b[31m"}, "first name contains control characters"},
		{"add with an argument", []string{"users", "add", "--tenant", tenantA, "--email", "a@example.com", "extra"}, `unexpected argument "extra"`},
		{"list with an argument", []string{"users", "list", "all"}, `unexpected argument "all"`},
		{"disable without e-mail", []string{"users", "disable", "--tenant", tenantA}, "--email is required"},
		{"disable with a bad tenant", []string{"users", "disable", "--tenant", "x", "--email", "a@example.com"}, `--tenant: "x" is not a UUID`},
		{"disable with a bad e-mail", []string{"users", "disable", "--tenant", tenantA, "--email", "@"}, "--email:"},
		{"enable without tenant", []string{"users", "enable", "--email", "a@example.com"}, "--tenant"},
		{"enable with a bad e-mail", []string{"users", "enable", "--tenant", tenantA, "--email", "a@"}, "--email:"},
		{"enable with an argument", []string{"users", "enable", "--tenant", tenantA, "--email", "a@example.com", "x"}, `unexpected argument "x"`},
		{"import without a file", []string{"users", "import"}, "the CSV file is required"},
		{"import with two files", []string{"users", "import", "a.csv", "b.csv"}, `unexpected argument "b.csv"`},
		{"unknown users command", []string{"users", "delete"}, `unknown command "delete"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			adminDB(t)
			assertUsageError(t, adminRun(t, tt.args...), tt.want)
			assert.Empty(t, listUsers(t), "nothing was written")
		})
	}
}

func TestUsersDisableAndEnableReportAnUnknownUser(t *testing.T) {
	adminDB(t)
	for _, cmd := range []string{"disable", "enable"} {
		r := adminRun(t, "users", cmd, "--tenant", tenantA, "--email", "nobody@example.com")
		assert.Equal(t, ExitFail, r.code)
		assert.Equal(t, "alga-mobile-auth users "+cmd+": no user with e-mail nobody@example.com in tenant "+tenantA+"\n", r.stderr)
	}
}

func TestUsersListCleansTerminalEscapes(t *testing.T) {
	url := adminDB(t)
	// Written straight to the store, bypassing the CLI's validation, as a
	// future import path or a hand-edited database might.
	require.NoError(t, adminStore(t, url).AddUser(context.Background(), mobileauth.User{
		TenantID: tenantA, ID: userA, Email: "a@example.com", FirstName: "Eve\x1b]0;pwned\x07", Type: mobileauth.UserInternal, Active: true,
	}))
	r := adminRun(t, "users", "list")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.NotContains(t, r.stdout, "\x1b")
	assert.Contains(t, r.stdout, "Eve?]0;pwned?")
}

func TestParseEmail(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"jane@example.com", "jane@example.com", true},
		{"  Jane.Doe+psa@Example.COM ", "jane.doe+psa@example.com", true},
		{"jane@localhost", "jane@localhost", true},
		{"", "", false},
		{"jane", "", false},
		{"<jane@example.com>", "", false},
		{"Jane <jane@example.com>", "", false},
		{"jane@example.com, joe@example.com", "", false},
		{"jane@@example.com", "", false},
		{strings.Repeat("a", 250) + "@example.com", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseEmail(tt.in)
			if !tt.ok {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
