package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLatestFixed(t *testing.T) {
	ev := func(pairs ...string) osvRange {
		r := osvRange{Type: "SEMVER"}
		for i := 0; i < len(pairs); i += 2 {
			r.Events = append(r.Events, struct {
				Introduced string `json:"introduced,omitempty"`
				Fixed      string `json:"fixed,omitempty"`
			}{pairs[i], pairs[i+1]}) //nolint:gosec // G602: pairs come in twos
		}
		return r
	}
	for _, tc := range []struct {
		name   string
		ranges []osvRange
		want   string
	}{
		{"never fixed", []osvRange{ev("0", "")}, ""},
		{"one fix", []osvRange{ev("0", "", "", "1.2.3")}, "1.2.3"},
		{"highest of several branches", []osvRange{ev("0", "", "", "1.21.9", "1.22.0-0", "", "", "1.22.2")}, "1.22.2"},
		{"reintroduced after the last fix", []osvRange{ev("0", "", "", "1.2.0", "1.3.0", "")}, ""},
		{"non-SEMVER ranges ignored", []osvRange{{Type: "GIT"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := latestFixed(tc.ranges); got != tc.want {
				t.Errorf("latestFixed = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBuildWritesV1Layout(t *testing.T) {
	src := t.TempDir()
	entries := map[string]string{
		"GO-2026-0002.json": `{"id":"GO-2026-0002","modified":"0001-01-01T00:00:00Z","aliases":["CVE-1"],
			"affected":[{"package":{"name":"stdlib"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.27.3"}]}]}]}`,
		"GO-2026-0001.json": `{"id":"GO-2026-0001","modified":"2026-01-02T03:04:05Z",
			"affected":[{"package":{"name":"example.com/m"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]},
			            {"package":{"name":"stdlib"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.26.1"}]}]}]}`,
		"README.md": "not an entry",
	}
	for name, body := range entries {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "db")
	floor := time.Date(2026, 11, 5, 23, 49, 57, 0, time.UTC)
	n, err := build(src, out, floor)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("built %d entries, want 2", n)
	}

	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, name)) //nolint:gosec // G304: a file the test's build wrote
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got, want := read("index/db.json"), `{"modified":"2026-11-05T23:49:57Z"}`; got != want {
		t.Errorf("db.json = %s, want %s", got, want)
	}
	wantModules := `[{"path":"example.com/m","vulns":[{"id":"GO-2026-0001","modified":"2026-01-02T03:04:05Z"}]},` +
		`{"path":"stdlib","vulns":[{"id":"GO-2026-0001","modified":"2026-01-02T03:04:05Z","fixed":"1.26.1"},` +
		`{"id":"GO-2026-0002","modified":"0001-01-01T00:00:00Z","fixed":"1.27.3"}]}]`
	if got := read("index/modules.json"); got != wantModules {
		t.Errorf("modules.json =\n%s\nwant\n%s", got, wantModules)
	}
	var vulns []vulnMeta
	if err := json.Unmarshal([]byte(read("index/vulns.json")), &vulns); err != nil {
		t.Fatal(err)
	}
	if len(vulns) != 2 || vulns[0].ID != "GO-2026-0001" || vulns[1].Aliases[0] != "CVE-1" {
		t.Errorf("vulns.json = %+v", vulns)
	}
	if got := read("ID/GO-2026-0002.json"); got != entries["GO-2026-0002.json"] {
		t.Errorf("ID/GO-2026-0002.json is not the entry byte for byte: %s", got)
	}
	if _, err := os.Stat(out + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("the temporary directory is left behind: %v", err)
	}
}

func TestBuildRefusesAnEntryNamedOtherThanItsID(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "GO-2026-0009.json"), []byte(`{"id":"GO-2026-0001"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := build(src, filepath.Join(t.TempDir(), "db"), time.Time{}); err == nil {
		t.Error("build accepted GO-2026-0009.json holding GO-2026-0001")
	}
}

func TestReadPin(t *testing.T) {
	dir := t.TempDir()
	pin := filepath.Join(dir, "vulndb.pin")
	body := "# comment\ngolang.org/x/vulndb v0.0.0-20261105234957-e22db6528018 h1:abc=\n"
	if err := os.WriteFile(pin, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	v, sum, err := readPin(pin)
	if err != nil || v != "v0.0.0-20261105234957-e22db6528018" || sum != "h1:abc=" {
		t.Errorf("readPin = %q, %q, %v", v, sum, err)
	}
	if err := writePin(pin, module{Version: "v0.0.0-1", Sum: "h1:new="}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(pin) //nolint:gosec // G304: the test's temporary pin file
	if err != nil {
		t.Fatal(err)
	}
	if want := "# comment\ngolang.org/x/vulndb v0.0.0-1 h1:new=\n"; string(b) != want {
		t.Errorf("after writePin: %q, want %q", b, want)
	}
	if err := os.WriteFile(pin, []byte("golang.org/x/vulndb v1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readPin(pin); err == nil {
		t.Error("readPin accepted a line without a hash")
	}
}
