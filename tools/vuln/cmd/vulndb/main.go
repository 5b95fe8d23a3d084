// Command vulndb builds an offline Go vulnerability database, in the v1
// layout that `govulncheck -db file:///DIR` reads, from a pinned version of
// the golang.org/x/vulndb module.
//
// The module is fetched through the Go module proxy (`go mod download`),
// its hash is compared with the one pinned beside the version, and its
// data/osv/<ID>.json entries are laid out as
//
//	DIR/index/db.json       {"modified": …}: the newest entry, or the commit time of the pinned version
//	DIR/index/modules.json  [{"path", "vulns": [{"id", "modified", "fixed"}]}], sorted by path, then id
//	DIR/index/vulns.json    [{"id", "modified", "aliases"}], sorted by id
//	DIR/ID/<ID>.json        each OSV entry, byte for byte
//
// which is what golang.org/x/vulndb's own cmd/indexdb writes (without its
// .gz copies, which only the HTTP protocol uses). See
// https://go.dev/security/vuln/database#api.
//
// Usage, from tools/vuln:
//
//	go run ./cmd/vulndb -out ../../bin/vulndb      build from the pin in vulndb.pin
//	go run ./cmd/vulndb -bump latest               rewrite vulndb.pin to another version
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/semver"
)

// modulePath is the module whose data/osv directory is the database.
const modulePath = "golang.org/x/vulndb"

func main() {
	pinFile := flag.String("pin", "vulndb.pin", "file holding the pinned `golang.org/x/vulndb <version> <h1:hash>` line")
	out := flag.String("out", "", "directory to (re)create the database in")
	bump := flag.String("bump", "", "instead of building, pin this version query (e.g. latest, or a pseudo-version) in -pin")
	flag.Parse()
	if err := run(*pinFile, *out, *bump); err != nil {
		fmt.Fprintln(os.Stderr, "vulndb:", err)
		os.Exit(1)
	}
}

func run(pinFile, out, bump string) error {
	if bump != "" {
		mod, err := download(bump)
		if err != nil {
			return err
		}
		return writePin(pinFile, mod)
	}
	if out == "" {
		return errors.New("-out is required")
	}
	version, sum, err := readPin(pinFile)
	if err != nil {
		return err
	}
	mod, err := download(version)
	if err != nil {
		return err
	}
	// go mod download already checks the checksum database; the pinned
	// hash makes the build reproducible even where GONOSUMDB/GOFLAGS say otherwise.
	if mod.Sum != sum {
		return fmt.Errorf("%s@%s has hash %s, %s pins %s", modulePath, version, mod.Sum, pinFile, sum)
	}
	n, err := build(filepath.Join(mod.Dir, "data", "osv"), out, mod.Time)
	if err != nil {
		return err
	}
	fmt.Printf("vulndb: %d entries from %s@%s in %s\n", n, modulePath, version, out)
	return nil
}

// module is the part of `go mod download -json`'s answer used here.
type module struct {
	Version string
	Sum     string
	Dir     string
	Info    string
	Error   string
	Time    time.Time // from the .info file: the commit time of Version
}

// download fetches modulePath@query into the module cache.
func download(query string) (module, error) {
	var mod module
	cmd := exec.CommandContext(context.Background(), "go", "mod", "download", "-json", modulePath+"@"+query) //nolint:gosec // G204: the go command, fetching this program's one module at the version asked for
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	// On failure go mod download -json still prints the module with Error set.
	if jerr := json.Unmarshal(b, &mod); jerr != nil || mod.Error != "" {
		return mod, fmt.Errorf("go mod download %s@%s: %v %s", modulePath, query, err, mod.Error)
	}
	if err != nil {
		return mod, fmt.Errorf("go mod download %s@%s: %w", modulePath, query, err)
	}
	info, err := os.ReadFile(mod.Info)
	if err != nil {
		return mod, fmt.Errorf("reading the version's info: %w", err)
	}
	var i struct{ Time time.Time }
	if err := json.Unmarshal(info, &i); err != nil {
		return mod, fmt.Errorf("reading the version's info %s: %w", mod.Info, err)
	}
	mod.Time = i.Time.UTC()
	return mod, nil
}

// readPin reads the one `golang.org/x/vulndb <version> <h1:hash>` line of
// the pin file; lines starting with # are comments.
func readPin(name string) (version, sum string, err error) {
	b, err := os.ReadFile(name) //nolint:gosec // G304: the pin file is named by the repository's own Makefile
	if err != nil {
		return "", "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != modulePath || !strings.HasPrefix(f[2], "h1:") {
			return "", "", fmt.Errorf("%s: want %q, got %q", name, modulePath+" <version> h1:<hash>", line)
		}
		return f[1], f[2], nil
	}
	return "", "", fmt.Errorf("%s: no %s line", name, modulePath)
}

// writePin replaces the pin line of name, keeping its comments.
func writePin(name string, mod module) error {
	b, err := os.ReadFile(name) //nolint:gosec // G304: the pin file is named by the repository's own Makefile
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var buf bytes.Buffer
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			buf.WriteString(line + "\n")
		}
	}
	fmt.Fprintf(&buf, "%s %s %s\n", modulePath, mod.Version, mod.Sum)
	if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil { //nolint:gosec // G306: a committed source file, world-readable like the rest of the repository
		return err
	}
	fmt.Printf("vulndb: %s now pins %s@%s\n", name, modulePath, mod.Version)
	return nil
}

// entry is the part of an OSV entry the indexes need.
type entry struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
	Affected []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
		Ranges []osvRange `json:"ranges"`
	} `json:"affected"`
}

type osvRange struct {
	Type   string `json:"type"`
	Events []struct {
		Introduced string `json:"introduced,omitempty"`
		Fixed      string `json:"fixed,omitempty"`
	} `json:"events"`
}

type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Fixed    string    `json:"fixed,omitempty"`
}

type moduleMeta struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

type vulnMeta struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
}

// build lays out the OSV entries of src as a v1 database in out (removed
// first), and returns how many entries it holds. floor is the database's
// modification time when no entry carries a newer one (the entries of the
// vulndb repository say 0001-01-01: the published database stamps them from
// git history).
func build(src, out string, floor time.Time) (int, error) {
	files, err := filepath.Glob(filepath.Join(src, "*.json"))
	if err != nil {
		return 0, err
	}
	if len(files) == 0 {
		return 0, fmt.Errorf("no OSV entries in %s", src)
	}
	// Build beside out and swap, so a failed build leaves no half database.
	tmp := out + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return 0, err
	}
	for _, d := range []string{"index", "ID"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o750); err != nil {
			return 0, err
		}
	}
	modified := floor.UTC()
	modules := map[string]*moduleMeta{}
	var vulns []vulnMeta
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f) //nolint:gosec // G304: files listed from the module cache's vulndb directory
		if err != nil {
			return 0, err
		}
		var e entry
		if err := json.Unmarshal(b, &e); err != nil {
			return 0, fmt.Errorf("%s: %w", f, err)
		}
		// govulncheck fetches ID/<id>.json: the file name must be the id.
		if e.ID == "" || filepath.Base(f) != e.ID+".json" || seen[e.ID] {
			return 0, fmt.Errorf("%s: id %q is empty, repeated or not the file's name", f, e.ID)
		}
		seen[e.ID] = true
		if e.Modified.After(modified) {
			modified = e.Modified.UTC()
		}
		vulns = append(vulns, vulnMeta{ID: e.ID, Modified: e.Modified.UTC(), Aliases: e.Aliases})
		for _, a := range e.Affected {
			m := modules[a.Package.Name]
			if m == nil {
				m = &moduleMeta{Path: a.Package.Name, Vulns: []moduleVuln{}}
				modules[a.Package.Name] = m
			}
			m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: e.Modified.UTC(), Fixed: latestFixed(a.Ranges)})
		}
		if err := os.WriteFile(filepath.Join(tmp, "ID", e.ID+".json"), b, 0o600); err != nil { //nolint:gosec // G703: e.ID is the file's own base name (checked above), so it stays in ID/
			return 0, err
		}
	}

	mods := make([]*moduleMeta, 0, len(modules))
	for _, m := range modules {
		sort.Slice(m.Vulns, func(i, j int) bool { return m.Vulns[i].ID < m.Vulns[j].ID })
		mods = append(mods, m)
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	sort.Slice(vulns, func(i, j int) bool { return vulns[i].ID < vulns[j].ID })
	for name, v := range map[string]any{
		"db.json": struct {
			Modified time.Time `json:"modified"`
		}{modified},
		"modules.json": mods,
		"vulns.json":   vulns,
	} {
		if err := writeJSON(filepath.Join(tmp, "index", name), v); err != nil {
			return 0, err
		}
	}

	if err := os.RemoveAll(out); err != nil {
		return 0, err
	}
	return len(files), os.Rename(tmp, out)
}

func writeJSON(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(name, b, 0o600)
}

// latestFixed is the version that fixes the module for good: the highest
// SEMVER "fixed" event, or "" when the vulnerability is reintroduced after
// it or never fixed. govulncheck only uses it to skip entries that cannot
// affect a newer version, so "" is always safe. It mirrors
// golang.org/x/vulndb/internal/osvutils.LatestFixed; OSV versions carry no "v".
func latestFixed(ranges []osvRange) string {
	before := func(a, b string) bool { return semver.Compare("v"+a, "v"+b) < 0 }
	var latest string
	for _, r := range ranges {
		if r.Type != "SEMVER" {
			continue
		}
		for _, e := range r.Events {
			if e.Fixed != "" && before(latest, e.Fixed) {
				latest = e.Fixed
			}
		}
		for _, e := range r.Events {
			if e.Introduced != "" && e.Introduced != "0" && before(latest, e.Introduced) {
				latest = ""
				break
			}
		}
	}
	return latest
}
