package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
)

// Input limits. An e-mail address is at most 254 octets (RFC 5321 §4.5.3.1
// with the RFC 3696 erratum); names are capped so one bad cell cannot make
// the table or the exchange response absurd.
const (
	maxEmailLen = 254
	maxNameLen  = 100
)

func usersCommands() []*command {
	return []*command{
		{name: "add", summary: "add a user to the directory", run: runUsersAdd},
		{name: "list", summary: "list every user", run: runUsersList},
		{name: "disable", summary: "stop a user from signing in", run: func(e Env) int { return runUsersSetActive(e, false) }},
		{name: "enable", summary: "let a disabled user sign in again", run: func(e Env) int { return runUsersSetActive(e, true) }},
		{name: "import", summary: "add users from a CSV file (all or nothing)", run: runUsersImport},
	}
}

func runUsersAdd(e Env) int {
	const cmd = "users add"
	fs := flags(cmd)
	tenant := fs.String("tenant", "", "tenant id (UUID; required)")
	email := fs.String("email", "", "e-mail address the user signs in with (required)")
	userType := fs.String("type", string(mobileauth.UserInternal), "internal (MSP staff, may use the app) or client (customer contact, refused)")
	first := fs.String("first-name", "", "first name")
	last := fs.String("last-name", "", "last name")
	userID := fs.String("user-id", "", "user id (UUID; default: a new random UUID)")
	usage := cmd + " --tenant <uuid> --email <e> [--type internal|client] [--first-name F] [--last-name L] [--user-id <uuid>]\n\n" +
		"Adds a user to the directory (and the tenant, if new). The e-mail is stored lower-case and\n" +
		"matched case-insensitively at sign-in."
	if code, ok := parse(e, fs, usage, 0); !ok {
		return code
	}
	u, err := newUser(*tenant, *email, *userType, *first, *last, *userID)
	if err != nil {
		return usageError(e, cmd, "%v", err)
	}
	return withStore(e, cmd, func(st *sqlstore.Store) int {
		warnOtherTenants(e, st, u, "")
		if err := st.AddUser(e.Ctx, u); err != nil {
			if errors.Is(err, mobileauth.ErrConflict) {
				return fail(e, cmd, errors.New(conflictText(e.Ctx, st, u)))
			}
			return fail(e, cmd, err)
		}
		fmt.Fprintf(e.Stdout, "added %s (user id %s) to tenant %s as %s\n", u.Email, u.ID, u.TenantID, u.Type)
		return writeAdminAudit(e, st, cmd, adminEvent{op: mobileauth.AuditAdminUserAdd, tenant: u.TenantID, user: u.ID,
			record: u.ID, details: map[string]string{"email": u.Email, "type": string(u.Type)}})
	})
}

// conflictText says which uniqueness rule an add broke.
func conflictText(ctx context.Context, st *sqlstore.Store, u mobileauth.User) string {
	if _, err := st.GetUser(ctx, u.TenantID, u.ID); err == nil {
		return fmt.Sprintf("a user with id %s already exists in tenant %s", u.ID, u.TenantID)
	}
	return fmt.Sprintf("a user with e-mail %s already exists in tenant %s", u.Email, u.TenantID)
}

// warnOtherTenants warns when u's e-mail is also in another tenant: sign-in
// refuses such an e-mail rather than guess the tenant. prefix locates the
// warning (an import's line number).
func warnOtherTenants(e Env, st *sqlstore.Store, u mobileauth.User, prefix string) {
	others, err := st.FindUsersByEmail(e.Ctx, u.Email)
	if err != nil {
		return // the add itself will report a broken store
	}
	for _, o := range others {
		if o.TenantID != u.TenantID {
			fmt.Fprintf(e.Stderr, "%swarning: %s is also in tenant %s; sign-in refuses an e-mail present in two tenants\n",
				prefix, u.Email, o.TenantID)
		}
	}
}

func runUsersList(e Env) int {
	const cmd = "users list"
	fs := flags(cmd)
	asJSON := fs.Bool("json", false, "print one JSON object per user and line")
	if code, ok := parse(e, fs, cmd+" [--json]\n\nLists every user of the directory, by tenant then e-mail.", 0); !ok {
		return code
	}
	return withStore(e, cmd, func(st *sqlstore.Store) int {
		users, err := st.ListUsers(e.Ctx)
		if err != nil {
			return fail(e, cmd, err)
		}
		if *asJSON {
			return writeUsersJSON(e, users)
		}
		tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TENANT\tUSER ID\tEMAIL\tNAME\tTYPE\tACTIVE")
		for _, u := range users {
			active := "yes"
			if !u.Active {
				active = "no"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cell(u.TenantID), cell(u.ID), cell(u.Email),
				cell(u.Name()), cell(string(u.Type)), active)
		}
		if err := tw.Flush(); err != nil {
			return fail(e, cmd, err)
		}
		return ExitOK
	})
}

// userJSON is the --json form of a user; field names follow the API's
// camelCase.
type userJSON struct {
	TenantID  string `json:"tenantId"`
	ID        string `json:"id"`
	Email     string `json:"email"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Type      string `json:"type"`
	Active    bool   `json:"active"`
	CreatedAt string `json:"createdAt"`
}

func writeUsersJSON(e Env, users []mobileauth.User) int {
	enc := json.NewEncoder(e.Stdout)
	for _, u := range users {
		if err := enc.Encode(userJSON{u.TenantID, u.ID, u.Email, u.FirstName, u.LastName, string(u.Type), u.Active,
			u.CreatedAt.UTC().Format(timeLayout)}); err != nil {
			return fail(e, "users list", err)
		}
	}
	return ExitOK
}

// runUsersSetActive is `users disable` (active false) and `users enable`.
func runUsersSetActive(e Env, active bool) int {
	cmd, done, usage := "users disable", "disabled", "users disable --tenant <uuid> --email <e>\n\n"+
		"Marks the user inactive, so they can no longer sign in, and ends every session of theirs at\n"+
		"once: their app sessions (refresh tokens are revoked; their access tokens fail at /verify\n"+
		"within a second) and their browser sign-ins. Enabling them later revives none of these."
	if active {
		cmd, done, usage = "users enable", "enabled", "users enable --tenant <uuid> --email <e>\n\n"+
			"Marks a disabled user active again, so they can sign in. Sessions ended by the disable\n"+
			"stay ended: the app and the browser sign in anew."
	}
	fs := flags(cmd)
	tenant := fs.String("tenant", "", "tenant id (UUID; required)")
	email := fs.String("email", "", "the user's e-mail address (required)")
	if code, ok := parse(e, fs, usage, 0); !ok {
		return code
	}
	tenantID, err := requiredUUID("--tenant", *tenant)
	if err != nil {
		return usageError(e, cmd, "%v", err)
	}
	if *email == "" {
		return usageError(e, cmd, "--email is required")
	}
	addr, err := parseEmail(*email)
	if err != nil {
		return usageError(e, cmd, "--email: %v", err)
	}
	op := mobileauth.AuditAdminUserDisable
	if active {
		op = mobileauth.AuditAdminUserEnable
	}
	return withStore(e, cmd, func(st *sqlstore.Store) int {
		// One conditional write, not a read then a write: a concurrent
		// change in between would be reported (and audited) twice.
		userID, changed, err := st.ChangeUserActive(e.Ctx, tenantID, addr, active, time.Now())
		if errors.Is(err, mobileauth.ErrNotFound) {
			return fail(e, cmd, fmt.Errorf("no user with e-mail %s in tenant %s", addr, tenantID))
		}
		if err != nil {
			return fail(e, cmd, err)
		}
		if !changed {
			fmt.Fprintf(e.Stdout, "%s in tenant %s is already %s\n", addr, tenantID, done)
			return ExitOK
		}
		fmt.Fprintf(e.Stdout, "%s %s in tenant %s\n", done, addr, tenantID)
		return writeAdminAudit(e, st, cmd, adminEvent{op: op, tenant: tenantID, user: userID, record: userID,
			details: map[string]string{"email": addr}})
	})
}

// newUser validates one directory entry, as given on the command line or
// in a CSV row, and returns it active. An empty userID gets a random UUIDv4.
func newUser(tenant, email, userType, first, last, userID string) (mobileauth.User, error) {
	var u mobileauth.User
	var err error
	if u.TenantID, err = requiredUUID("tenant", tenant); err != nil {
		return u, err
	}
	if strings.TrimSpace(email) == "" {
		return u, errors.New("email is required")
	}
	if u.Email, err = parseEmail(email); err != nil {
		return u, fmt.Errorf("email: %w", err)
	}
	u.Type = mobileauth.UserInternal
	if strings.TrimSpace(userType) != "" {
		if u.Type, err = mobileauth.ParseUserType(userType); err != nil {
			return u, fmt.Errorf("type %s: want internal or client", show(userType))
		}
	}
	if u.FirstName, err = parseName("first name", first); err != nil {
		return u, err
	}
	if u.LastName, err = parseName("last name", last); err != nil {
		return u, err
	}
	if strings.TrimSpace(userID) == "" {
		id, err := uuid.NewRandom()
		if err != nil {
			return u, fmt.Errorf("generate a user id: %w", err)
		}
		u.ID = id.String()
	} else if u.ID, err = parseUUID(userID); err != nil {
		return u, fmt.Errorf("user id: %w", err)
	}
	u.Active = true
	return u, nil
}

// requiredUUID is parseUUID for a mandatory value; what names it in errors.
func requiredUUID(what, s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("%s is required", what)
	}
	id, err := parseUUID(s)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return id, nil
}

// parseUUID accepts only the hyphenated 8-4-4-4-12 form (uuid.Parse would
// also take braces, urn:uuid: and bare hex) and returns it lower-case,
// because ids are compared as strings everywhere else. The nil UUID is
// refused: it is a placeholder, never a real tenant or user.
func parseUUID(s string) (string, error) {
	s = strings.TrimSpace(s)
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return "", fmt.Errorf("%s is not a UUID (want the form 123e4567-e89b-12d3-a456-426614174000)", show(s))
	}
	if id == uuid.Nil {
		return "", errors.New("the nil UUID is not a valid id")
	}
	return id.String(), nil
}

// parseEmail accepts a bare address (no display name, no angle brackets)
// that net/mail parses, and returns it lower-case: the directory matches
// e-mails case-insensitively by storing them lower-case.
func parseEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxEmailLen {
		return "", fmt.Errorf("longer than %d characters", maxEmailLen)
	}
	if r, ok := invisibleRune(s); ok {
		return "", fmt.Errorf("%s contains the invisible character U+%04X (bidirectional control or zero-width), which could make one address look like another", show(s), r)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", fmt.Errorf("%s is not a plain e-mail address like jane@example.com", show(s))
	}
	return strings.ToLower(a.Address), nil
}

// parseName trims a name and refuses control characters (they would break
// the table output and could smuggle terminal escapes) and absurd lengths.
func parseName(what, s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%s is not valid UTF-8", what)
	}
	if utf8.RuneCountInString(s) > maxNameLen {
		return "", fmt.Errorf("%s is longer than %d characters", what, maxNameLen)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", fmt.Errorf("%s contains control characters", what)
	}
	if r, ok := invisibleRune(s); ok {
		return "", fmt.Errorf("%s contains the invisible character U+%04X (bidirectional control or zero-width), which could disguise what it shows", what, r)
	}
	return s, nil
}

// invisibleRune finds the first bidirectional-control or zero-width
// character of s. They render as nothing (or reorder what follows), so in
// an e-mail or a name they can make one user look like another on every
// page and in every list that shows them ("Trojan Source", CVE-2021-42574).
func invisibleRune(s string) (rune, bool) {
	for _, r := range s {
		switch {
		case r == 0x061C, r == 0x200E, r == 0x200F, // ALM, LRM, RLM
			r >= 0x202A && r <= 0x202E, // LRE, RLE, PDF, LRO, RLO
			r >= 0x2066 && r <= 0x2069, // LRI, RLI, FSI, PDI
			r >= 0x200B && r <= 0x200D, // zero-width space, non-joiner, joiner
			r == 0x2060, r == 0xFEFF:   // word joiner, zero-width no-break space (BOM)
			return r, true
		}
	}
	return 0, false
}

// show quotes an input value for an error message, shortened so that one
// huge cell cannot flood the terminal; %q also keeps the message on one line.
func show(s string) string {
	const max = 60
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max]) + "…"
	}
	return fmt.Sprintf("%q", s)
}
