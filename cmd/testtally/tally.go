package main

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Time       time.Time
	Action     string
	Package    string
	ImportPath string // build-output and build-fail
	Test       string
	Elapsed    float64
	Output     string
}

// tally follows a `go test -json` stream: it prints one line per package,
// the whole output of every failing test or package as it ends, and keeps
// the counts and skip reasons for the summary.
type tally struct {
	out                     io.Writer
	passed, failed, skipped int
	failures                []string            // "pkg TestName", in order
	skips                   map[string][]string // reason -> tests
	testOut                 map[string][]string // "pkg\x00Test" -> output lines
	pkgOut                  map[string][]string // package-level output lines
	buildOut                map[string][]string // import path -> compiler output
	brokenPkgs              int                 // packages that failed outside any test
}

func newTally(out io.Writer) *tally {
	return &tally{out: out, skips: map[string][]string{}, testOut: map[string][]string{},
		pkgOut: map[string][]string{}, buildOut: map[string][]string{}}
}

// line handles one line of the stream; a line that is not JSON (go's own
// errors, say) is printed as it is.
func (t *tally) line(raw []byte) {
	var ev event
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &ev) != nil || ev.Action == "" {
		fmt.Fprintf(t.out, "%s\n", raw)
		return
	}
	t.event(ev)
}

func (t *tally) event(ev event) {
	key := ev.Package + "\x00" + ev.Test
	switch {
	case ev.Action == "build-output":
		t.buildOut[ev.ImportPath] = append(t.buildOut[ev.ImportPath], ev.Output)
	case ev.Action == "build-fail":
		t.brokenPkgs++
		fmt.Fprintf(t.out, "BUILD FAILED %s\n", ev.ImportPath)
		t.print(t.buildOut[ev.ImportPath])
		delete(t.buildOut, ev.ImportPath)
	case ev.Action == "output" && ev.Test != "":
		t.testOut[key] = append(t.testOut[key], ev.Output)
	case ev.Action == "output":
		t.pkgOut[ev.Package] = append(t.pkgOut[ev.Package], ev.Output)
	case ev.Test != "":
		t.testEnd(ev, key)
	default:
		t.packageEnd(ev)
	}
}

func (t *tally) testEnd(ev event, key string) {
	switch ev.Action {
	case "pass":
		t.passed++
	case "skip":
		t.skipped++
		reason := skipReason(t.testOut[key])
		t.skips[reason] = append(t.skips[reason], shortPkg(ev.Package)+"."+ev.Test)
	case "fail":
		t.failed++
		name := ev.Package + " " + ev.Test
		t.failures = append(t.failures, name)
		fmt.Fprintf(t.out, "--- FAIL: %s (%.2fs)\n", name, ev.Elapsed)
		t.print(t.testOut[key])
	default:
		return // run, pause, cont: the test goes on
	}
	delete(t.testOut, key)
}

func (t *tally) packageEnd(ev event) {
	switch ev.Action {
	case "pass":
		fmt.Fprintf(t.out, "ok   %s %.1fs\n", ev.Package, ev.Elapsed)
	case "fail":
		fmt.Fprintf(t.out, "FAIL %s\n", ev.Package)
		// Output outside any test: a panic, a timeout, TestMain, a build error.
		lines := t.pkgOut[ev.Package]
		if !onlyVerdicts(lines) {
			t.brokenPkgs++
			t.print(lines)
		}
		// Tests that started but never ended (a panic or timeout took the
		// package down): their output is where the cause is.
		prefix := ev.Package + "\x00"
		var open []string
		for k := range t.testOut {
			if strings.HasPrefix(k, prefix) {
				open = append(open, k)
			}
		}
		sort.Strings(open)
		for _, k := range open {
			fmt.Fprintf(t.out, "--- unfinished: %s %s\n", ev.Package, strings.TrimPrefix(k, prefix))
			t.print(t.testOut[k])
			delete(t.testOut, k)
		}
	default:
		return // start; skip = no test files
	}
	delete(t.pkgOut, ev.Package)
}

// onlyVerdicts reports whether a failed package printed nothing but go
// test's own FAIL/exit lines (so the failing tests already said it all).
func onlyVerdicts(lines []string) bool {
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || l == "FAIL" || strings.HasPrefix(l, "FAIL\t") || strings.HasPrefix(l, "exit status ") {
			continue
		}
		return false
	}
	return true
}

func (t *tally) print(lines []string) {
	for _, l := range lines {
		if strings.HasPrefix(l, "=== ") { // RUN/PAUSE/CONT noise
			continue
		}
		_, _ = io.WriteString(t.out, "    "+strings.TrimPrefix(l, "    ")) // the terminal, as fmt.Fprint elsewhere
		if !strings.HasSuffix(l, "\n") {
			_, _ = io.WriteString(t.out, "\n")
		}
	}
}

var logPrefix = regexp.MustCompile(`^\s*[\w.-]+\.go:\d+: `)

// skipReason is the message a skipped test logged, without the file:line
// prefix; the test's own status lines are left out.
func skipReason(lines []string) string {
	var msg []string
	for _, l := range lines {
		trimmed := strings.TrimSpace(l)
		if trimmed == "" || strings.HasPrefix(trimmed, "=== ") || strings.HasPrefix(trimmed, "--- SKIP") {
			continue
		}
		msg = append(msg, logPrefix.ReplaceAllString(trimmed, ""))
	}
	if len(msg) == 0 {
		return "(no reason given)"
	}
	return strings.Join(msg, " / ")
}

func shortPkg(p string) string {
	if i := strings.Index(p, "/internal/"); i >= 0 {
		return p[i+len("/internal/"):]
	}
	if i := strings.Index(p, "/cmd/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

// Failed reports whether anything failed.
func (t *tally) Failed() bool { return t.failed > 0 || t.brokenPkgs > 0 }

// Summary writes the skip reasons, grouped and most frequent first, the
// failing tests again, and last the one-line tally.
func (t *tally) Summary(w io.Writer) {
	if len(t.skips) > 0 {
		reasons := make([]string, 0, len(t.skips))
		for r := range t.skips {
			reasons = append(reasons, r)
		}
		sort.Slice(reasons, func(i, j int) bool {
			a, b := len(t.skips[reasons[i]]), len(t.skips[reasons[j]])
			if a != b {
				return a > b
			}
			return reasons[i] < reasons[j]
		})
		fmt.Fprintf(w, "\nskipped, by reason:\n")
		for _, r := range reasons {
			tests := t.skips[r]
			fmt.Fprintf(w, "%5d  %s\n       %s\n", len(tests), r, examples(tests, 3))
		}
	}
	if len(t.failures) > 0 {
		fmt.Fprintf(w, "\nfailed:\n")
		for _, f := range t.failures {
			fmt.Fprintf(w, "       %s\n", f)
		}
	}
	if t.brokenPkgs > 0 {
		fmt.Fprintf(w, "\n%d package(s) failed outside any test (see above)\n", t.brokenPkgs)
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", t.passed, t.failed, t.skipped)
}

func examples(tests []string, n int) string {
	if len(tests) <= n {
		return strings.Join(tests, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(tests[:n], ", "), len(tests)-n)
}
