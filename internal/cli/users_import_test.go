package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

func TestUsersImportAddsEveryRowOfAGoodFile(t *testing.T) {
	url := adminDB(t)
	r := adminRun(t, "users", "import", "testdata/users-good.csv")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Equal(t, "imported 3 user(s) from testdata/users-good.csv\n", r.stdout)
	assert.Empty(t, r.stderr)

	users := listUsers(t)
	require.Len(t, users, 3)
	byEmail := map[string]userJSON{}
	for _, u := range users {
		byEmail[u.Email] = u
	}
	assert.Equal(t, userJSON{tenantA, userA, "alice@example.com", "Alice", "Anders", "internal", true, byEmail["alice@example.com"].CreatedAt},
		byEmail["alice@example.com"])
	bob := byEmail["bob@example.com"]
	assert.Equal(t, "Bob, Jr.", bob.FirstName)
	assert.Equal(t, "client", bob.Type)
	_, err := uuid.Parse(bob.ID)
	assert.NoError(t, err, "an empty user_id is generated")
	carol := byEmail["carol@example.com"]
	assert.Equal(t, tenantB, carol.TenantID)
	assert.Equal(t, "internal", carol.Type, "type defaults to internal")

	// The tenants exist now, with no plan.
	tn, err := adminStore(t, url).GetTenant(context.Background(), tenantB)
	require.NoError(t, err)
	assert.Nil(t, tn.Plan)
}

func TestUsersImportRefusesAFileWithBadRows(t *testing.T) {
	adminDB(t)
	r := adminRun(t, "users", "import", "testdata/users-bad-rows.csv")
	assert.Equal(t, ExitFail, r.code)
	assert.Empty(t, r.stdout)
	assert.Equal(t, `line 3: tenant: "not-a-uuid" is not a UUID (want the form 123e4567-e89b-12d3-a456-426614174000)
line 5: type "manager": want internal or client
alga-mobile-auth users import: testdata/users-bad-rows.csv: 2 problem(s); nothing was imported
`, r.stderr)
	assert.Empty(t, listUsers(t), "all or nothing")
}

func TestUsersImportRefusesAnEmailTwiceInATenant(t *testing.T) {
	adminDB(t)
	r := adminRun(t, "users", "import", "testdata/users-duplicate-email.csv")
	assert.Equal(t, ExitFail, r.code)
	assert.Contains(t, r.stderr, "line 4: e-mail alice@example.com in tenant "+tenantA+" repeats line 2\n")
	assert.Contains(t, r.stderr, "nothing was imported")
	assert.Empty(t, listUsers(t))
}

func TestUsersImportChecksTheDirectory(t *testing.T) {
	adminDB(t)
	require.Equal(t, ExitOK, adminRun(t, "users", "add", "--tenant", tenantA, "--email", "bob@example.com").code)
	require.Equal(t, ExitOK, adminRun(t, "users", "add", "--tenant", tenantB, "--email", "dora@example.com", "--user-id", userA).code)

	r := adminRun(t, "users", "import", "testdata/users-good.csv")
	assert.Equal(t, ExitFail, r.code)
	assert.Equal(t, "line 3: a user with e-mail bob@example.com already exists in tenant "+tenantA+"\n"+
		"alga-mobile-auth users import: testdata/users-good.csv: 1 problem(s); nothing was imported\n", r.stderr)
	assert.Len(t, listUsers(t), 2, "nothing was imported")

	// An id taken in another tenant is fine; an e-mail in another tenant is a warning.
	r = adminRun(t, "users", "import", "--dry-run", "testdata/users-duplicate-email.csv")
	assert.Equal(t, ExitFail, r.code)
	assert.Contains(t, r.stderr, "line 2: warning: alice@example.com is also in tenant "+tenantB)
}

func TestUsersImportDryRunImportsNothing(t *testing.T) {
	adminDB(t)
	r := adminRun(t, "users", "import", "--dry-run", "testdata/users-good.csv")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Equal(t, "testdata/users-good.csv: 3 user(s) can be imported (dry run: nothing was imported)\n", r.stdout)
	assert.Empty(t, listUsers(t))
}

func TestUsersImportReportsAMissingFile(t *testing.T) {
	adminDB(t)
	r := adminRun(t, "users", "import", "testdata/no-such.csv")
	assert.Equal(t, ExitFail, r.code)
	assert.Contains(t, r.stderr, "no such file")
}

func TestReadUserCSV(t *testing.T) {
	const good = tenantA + ",a@example.com\n"
	tests := []struct {
		name     string
		in       string
		rows     int
		problems []string
	}{
		{"header and rows", "tenant,email\n" + good, 1, nil},
		{"header only", "tenant,email\n", 0, nil},
		{"empty file", "", 0, []string{"line 1: the file is empty"}},
		{"no header row", good + good, 0, []string{`line 1: unknown column "` + tenantA + `": the first line must name the columns`}},
		{"unknown column", "tenant,email,role\n", 0, []string{`line 1: unknown column "role"`}},
		{"repeated column", "tenant,email,Email\n", 0, []string{"line 1: column email appears twice"}},
		{"missing email column", "tenant,type\n", 0, []string{"line 1: no email column"}},
		{"header after blank lines", "\n\ntenant,email\n" + good, 1, nil},
		{"CRLF line ends", "tenant,email\r\n" + strings.ReplaceAll(good, "\n", "\r\n"), 1, nil},
		{"wrong field count, then more rows", "tenant,email\n" + tenantA + ",a@example.com,x\n" + tenantA + ",b@example.com\n", 1,
			[]string{"line 2: has 3 field(s), the header has 2"}},
		{"line numbers count the lines of multi-line fields", "tenant,email,first_name\n" +
			tenantA + ",a@example.com,\"Ann\nMarie\"\n" + tenantA + ",b@example.com,Bo\n" + "x,c@example.com,C\n", 1,
			[]string{"line 2: first name contains control characters", `line 5: tenant: "x" is not a UUID`}},
		{"broken quoting stops the reading", "tenant,email\n" + tenantA + ",\"a@example.com\n" + good, 0,
			[]string{"line 2: not valid CSV (extraneous or missing \" in quoted-field, found on line 3)"}},
		{"every bad row is reported", "tenant,email,type\n" + tenantA + ",,internal\n" + tenantA + ",b@example.com,boss\n" +
			tenantA + ",c@example.com,\n", 1, []string{"line 2: email is required", `line 3: type "boss"`}},
		{"the same explicit id twice", "tenant,email,user_id\n" + tenantA + ",a@example.com," + userA + "\n" +
			tenantA + ",b@example.com," + userA + "\n", 1, []string{"line 3: user id " + userA + " in tenant " + tenantA + " repeats line 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, problems := readUserCSV(strings.NewReader(tt.in))
			assert.Len(t, rows, tt.rows)
			require.Len(t, problems, len(tt.problems), "%v", problems)
			for i, want := range tt.problems {
				assert.True(t, strings.HasPrefix(problems[i].String(), want), "got %q, want prefix %q", problems[i], want)
			}
		})
	}
}

func FuzzReadUserCSV(f *testing.F) {
	f.Add("tenant,email,type,first_name,last_name,user_id\n" + tenantA + ",a@example.com,client,A,B," + userA + "\n")
	f.Add("\ufeffEmail,Tenant\nA@B.C," + tenantB + "\n,\n")
	f.Add("tenant,email\n\"" + tenantA + "\",\"a\"\"b@example.com\"\n")
	f.Add("tenant,email\n" + tenantA + ",\"a@example.com\n")
	f.Fuzz(func(t *testing.T, in string) {
		rows, problems := readUserCSV(strings.NewReader(in))
		seen := map[string]bool{}
		for _, r := range rows {
			u := r.user
			assert.Positive(t, r.line)
			// Every returned user is valid and normalised.
			email, err := parseEmail(u.Email)
			require.NoError(t, err)
			assert.Equal(t, email, u.Email)
			_, err = parseUUID(u.TenantID)
			require.NoError(t, err)
			_, err = parseUUID(u.ID)
			require.NoError(t, err)
			assert.True(t, u.Active)
			assert.Contains(t, []mobileauth.UserType{mobileauth.UserInternal, mobileauth.UserClient}, u.Type)
			assert.False(t, seen[u.TenantID+" "+u.Email], "no e-mail twice in a tenant")
			seen[u.TenantID+" "+u.Email] = true
		}
		for _, p := range problems {
			assert.NotContains(t, p.String(), "\n", "one line per problem")
		}
	})
}

// Issue 11 item 8: bidirectional controls and zero-width characters would
// let one user pass for another on every page that shows an e-mail or a
// name ("Trojan Source"); the import refuses them, naming the character.
func TestUsersImportRefusesInvisibleCharacters(t *testing.T) {
	adminDB(t)
	const tenant = "6f1c2a4e-9a51-4f43-9d0e-2b8f0c3a1d10"
	csv := "tenant,email,type,first_name,last_name\n" +
		tenant + ",ann@example.com,internal,Ann,Able\n" +
		tenant + ",moc.elpmaxe@\u202eeve,internal,Eve,Evans\n" +
		tenant + ",bo\u200bb@example.com,internal,Bob,Brown\n" +
		tenant + ",carol@example.com,internal,Ca\u2066rol,Clark\n" +
		tenant + ",dave@example.com,internal,Dave,Da\u200dvis\n" +
		tenant + ",erin@example.com,internal,Er\ufeffin,Evans\n" +
		tenant + ",fay@example.com,internal,Fay,Fo\u200fx\n"
	path := filepath.Join(t.TempDir(), "users.csv")
	require.NoError(t, os.WriteFile(path, []byte(csv), 0o600))
	r := adminRun(t, "users", "import", path)
	assert.Equal(t, ExitFail, r.code, r.stderr)
	for _, want := range []string{
		`line 3: email: "moc.elpmaxe@\u202eeve" contains the invisible character U+202E`,
		`line 4: email: "bo\u200bb@example.com" contains the invisible character U+200B`,
		"line 5: first name contains the invisible character U+2066",
		"line 6: last name contains the invisible character U+200D",
		"line 7: first name contains the invisible character U+FEFF",
		"line 8: last name contains the invisible character U+200F",
		"6 problem(s); nothing was imported",
	} {
		assert.Contains(t, r.stderr, want)
	}
	assert.Empty(t, listUsers(t), "all or nothing")
}
