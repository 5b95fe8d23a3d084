package cli

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
)

// csvColumns are the header names `users import` understands: tenant and
// email are required, the rest optional, in any order.
var csvColumns = []string{"tenant", "email", "type", "first_name", "last_name", "user_id"}

// importRow is one valid CSV row and the line it starts on.
type importRow struct {
	line int
	user mobileauth.User
}

// rowProblem is one reason a file cannot be imported; line 0 means the
// file as a whole.
type rowProblem struct {
	line int
	text string
}

func (p rowProblem) String() string {
	if p.line == 0 {
		return p.text
	}
	return fmt.Sprintf("line %d: %s", p.line, p.text)
}

func runUsersImport(e Env) int {
	const cmd = "users import"
	fs := flags(cmd)
	dryRun := fs.Bool("dry-run", false, "check the file against the directory but import nothing")
	usage := cmd + " [--dry-run] <file.csv>\n\n" +
		"Adds the users of a CSV file, all or nothing. The first line names the columns, in any order:\n" +
		"  " + strings.Join(csvColumns, ",") + "\n" +
		"tenant and email are required; type defaults to internal; an empty user_id gets a random UUID.\n" +
		"Every bad row is reported with its line number, and then nothing is imported."
	if code, ok := parse(e, fs, usage, 1); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return usageError(e, cmd, "the CSV file is required: users import <file.csv>")
	}
	path := fs.Arg(0)
	f, err := os.Open(path) //nolint:gosec // G304: the operator names the CSV on the command line; reading it is the point
	if err != nil {
		return fail(e, cmd, err)
	}
	rows, problems := readUserCSV(f)
	if err := f.Close(); err != nil {
		return fail(e, cmd, err)
	}
	return withStore(e, cmd, func(st *sqlstore.Store) int {
		clashes, warnings, err := checkImport(e.Ctx, st, rows)
		if err != nil {
			return fail(e, cmd, err)
		}
		problems = append(problems, clashes...)
		slices.SortStableFunc(problems, func(a, b rowProblem) int { return a.line - b.line })
		for _, w := range warnings {
			fmt.Fprintln(e.Stderr, w)
		}
		if len(problems) > 0 {
			for _, p := range problems {
				fmt.Fprintln(e.Stderr, p)
			}
			return fail(e, cmd, fmt.Errorf("%s: %d problem(s); nothing was imported", path, len(problems)))
		}
		switch {
		case len(rows) == 0:
			fmt.Fprintf(e.Stdout, "%s has no user rows; nothing to import\n", path)
			return ExitOK
		case *dryRun:
			fmt.Fprintf(e.Stdout, "%s: %d user(s) can be imported (dry run: nothing was imported)\n", path, len(rows))
			return ExitOK
		}
		users := make([]mobileauth.User, len(rows))
		for i, r := range rows {
			users[i] = r.user
		}
		// The checks above ran outside the import's transaction; a user added
		// meanwhile makes ImportUsers roll back, which is still all or nothing.
		if err := st.ImportUsers(e.Ctx, users); err != nil {
			return fail(e, cmd, fmt.Errorf("%w; nothing was imported", err))
		}
		fmt.Fprintf(e.Stdout, "imported %d user(s) from %s\n", len(users), path)
		return writeAdminAudit(e, st, cmd, adminEvent{op: mobileauth.AuditAdminUserImport,
			details: map[string]string{"file": path, "users": strconv.Itoa(len(users))}})
	})
}

// readUserCSV parses and validates a users CSV file. It returns the valid
// rows and every problem found: a bad row does not stop the reading, so the
// operator sees all of them at once; only broken CSV syntax does, because
// nothing after it can be trusted. Rows whose cells are all blank (as
// spreadsheets export) are skipped.
func readUserCSV(r io.Reader) ([]importRow, []rowProblem) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, []rowProblem{{1, "the file is empty; the first line must name the columns " + strings.Join(csvColumns, ",")}}
	}
	if err != nil {
		return nil, []rowProblem{csvProblem(err)}
	}
	cols, text := csvHeader(header)
	if text != "" {
		line, _ := cr.FieldPos(0)
		return nil, []rowProblem{{line, text}}
	}
	var (
		rows     []importRow
		problems []rowProblem
		seenMail = map[string]int{}
		seenID   = map[string]int{}
	)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
			problems = append(problems, rowProblem{pe.StartLine, fmt.Sprintf("has %d field(s), the header has %d", len(rec), len(header))})
			continue
		}
		if err != nil {
			problems = append(problems, csvProblem(err))
			break
		}
		line, _ := cr.FieldPos(0)
		if allBlank(rec) {
			continue
		}
		get := func(name string) string {
			if i, ok := cols[name]; ok {
				return rec[i]
			}
			return ""
		}
		u, err := newUser(get("tenant"), get("email"), get("type"), get("first_name"), get("last_name"), get("user_id"))
		if err != nil {
			problems = append(problems, rowProblem{line, err.Error()})
			continue
		}
		if prev, dup := seenMail[u.TenantID+" "+u.Email]; dup {
			problems = append(problems, rowProblem{line, fmt.Sprintf("e-mail %s in tenant %s repeats line %d", u.Email, u.TenantID, prev)})
			continue
		}
		seenMail[u.TenantID+" "+u.Email] = line
		if strings.TrimSpace(get("user_id")) != "" {
			if prev, dup := seenID[u.TenantID+" "+u.ID]; dup {
				problems = append(problems, rowProblem{line, fmt.Sprintf("user id %s in tenant %s repeats line %d", u.ID, u.TenantID, prev)})
				continue
			}
			seenID[u.TenantID+" "+u.ID] = line
		}
		rows = append(rows, importRow{line, u})
	}
	return rows, problems
}

// csvHeader maps column names to positions. Names are matched loosely
// (case, surrounding spaces, "First Name" for first_name, a UTF-8 byte-order
// mark as Excel writes) but an unknown or repeated column is refused: a typo
// must not silently drop a column.
func csvHeader(header []string) (map[string]int, string) {
	cols := make(map[string]int, len(header))
	want := "the first line must name the columns (" + strings.Join(csvColumns, ",") + ")"
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		name = strings.NewReplacer(" ", "_", "-", "_").Replace(name)
		if !slices.Contains(csvColumns, name) {
			return nil, fmt.Sprintf("unknown column %s: %s", show(h), want)
		}
		if _, dup := cols[name]; dup {
			return nil, fmt.Sprintf("column %s appears twice", name)
		}
		cols[name] = i
	}
	for _, req := range []string{"tenant", "email"} {
		if _, ok := cols[req]; !ok {
			return nil, fmt.Sprintf("no %s column: %s", req, want)
		}
	}
	return cols, ""
}

// csvProblem reports a CSV syntax or read error at its line.
func csvProblem(err error) rowProblem {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		text := fmt.Sprintf("not valid CSV (%v); stopped reading here", pe.Err)
		if pe.Line != pe.StartLine {
			// An unclosed quote swallows the following lines: point at the
			// line where the record starts, which is where the quote opened.
			text = fmt.Sprintf("not valid CSV (%v, found on line %d); stopped reading here", pe.Err, pe.Line)
		}
		return rowProblem{pe.StartLine, text}
	}
	return rowProblem{0, fmt.Sprintf("read the file: %v", err)}
}

func allBlank(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// checkImport compares valid rows with the directory: a row whose e-mail
// or id already exists in its tenant is a problem; an e-mail that would
// then be in two tenants is a warning, since sign-in refuses it.
func checkImport(ctx context.Context, st *sqlstore.Store, rows []importRow) (problems, warnings []rowProblem, err error) {
	existing, err := st.ListUsers(ctx)
	if err != nil {
		return nil, nil, err
	}
	byMail, byID := map[string]bool{}, map[string]bool{}
	tenantsOf := map[string][]string{} // e-mail → tenants, store and file
	for _, u := range existing {
		byMail[u.TenantID+" "+u.Email], byID[u.TenantID+" "+u.ID] = true, true
		tenantsOf[u.Email] = append(tenantsOf[u.Email], u.TenantID)
	}
	for _, r := range rows {
		u := r.user
		switch {
		case byMail[u.TenantID+" "+u.Email]:
			problems = append(problems, rowProblem{r.line, fmt.Sprintf("a user with e-mail %s already exists in tenant %s", u.Email, u.TenantID)})
		case byID[u.TenantID+" "+u.ID]:
			problems = append(problems, rowProblem{r.line, fmt.Sprintf("a user with id %s already exists in tenant %s", u.ID, u.TenantID)})
		default:
			tenantsOf[u.Email] = append(tenantsOf[u.Email], u.TenantID)
		}
	}
	for _, r := range rows {
		others := slices.DeleteFunc(slices.Clone(tenantsOf[r.user.Email]), func(t string) bool { return t == r.user.TenantID })
		if len(others) > 0 {
			warnings = append(warnings, rowProblem{r.line, fmt.Sprintf("warning: %s is also in tenant %s; sign-in refuses an e-mail present in two tenants",
				r.user.Email, strings.Join(others, ", "))})
		}
	}
	return problems, warnings, nil
}
