package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fixture module has one test of each outcome; testtally runs go test
// on it for real.
func TestRunTalliesAFixtureModule(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: builds a fixture module (-short)")
	}
	summary := filepath.Join(t.TempDir(), "summary.txt")
	var out, errOut bytes.Buffer
	code := run([]string{"-summary", summary, "-dir", "testdata/mod", "--", "-count=1", "./..."}, &out, &errOut)
	got := out.String()

	assert.Equal(t, 1, code, "a failing test fails the run")
	assert.Contains(t, got, "--- FAIL: example.com/tallyfixture TestFails")
	assert.Contains(t, got, "the answer was 41", "the failing test's output is shown")
	assert.Contains(t, got, "    2  skipping: PostgreSQL is absent\n", "skips are grouped by reason, without file:line")
	assert.Contains(t, got, "    1  skipping: Redis is absent\n")
	lines := strings.Split(strings.TrimSpace(got), "\n")
	// passed: TestPasses, TestSubtests/one; TestSubtests itself passes too.
	assert.Equal(t, "3 passed, 1 failed, 3 skipped", lines[len(lines)-1], "the tally is the last line")

	written, err := os.ReadFile(summary) //nolint:gosec // G304: a file in the test's temporary directory
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(got, string(written)), "the summary file holds the printed summary")
}

func TestRunFailsWhenGoTestFailsWithoutATest(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"-go", "false", "--", "./..."}, &out, &errOut)
	assert.Equal(t, 1, code)
	assert.Contains(t, out.String(), "0 passed, 0 failed, 0 skipped")
	assert.Contains(t, out.String(), "go test exited with status 1")
}

func TestTallyReportsAPanickedPackageAndItsUnfinishedTest(t *testing.T) {
	stream := `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestBoom"}
{"Action":"output","Package":"p","Test":"TestBoom","Output":"=== RUN   TestBoom\n"}
{"Action":"output","Package":"p","Test":"TestBoom","Output":"working on it\n"}
{"Action":"output","Package":"p","Output":"panic: test timed out after 1s\n"}
{"Action":"output","Package":"p","Output":"FAIL\tp\t1.0s\n"}
{"Action":"fail","Package":"p","Elapsed":1}
go: warning: not JSON
`
	var out bytes.Buffer
	tl := newTally(&out)
	require.NoError(t, feed(tl, strings.NewReader(stream)))
	assert.True(t, tl.Failed())
	assert.Contains(t, out.String(), "FAIL p\n    panic: test timed out after 1s\n")
	assert.Contains(t, out.String(), "--- unfinished: p TestBoom\n    working on it\n")
	assert.Contains(t, out.String(), "go: warning: not JSON\n", "lines that are not JSON pass through")
	assert.NotContains(t, out.String(), "=== RUN")
}

func TestTallyShowsBuildFailures(t *testing.T) {
	stream := `{"ImportPath":"p [p.test]","Action":"build-output","Output":"# p\n"}
{"ImportPath":"p [p.test]","Action":"build-output","Output":"./a.go:3:1: syntax error\n"}
{"ImportPath":"p [p.test]","Action":"build-fail"}
{"Action":"output","Package":"p","Output":"FAIL\tp [build failed]\n"}
{"Action":"fail","Package":"p","Elapsed":0}
`
	var out bytes.Buffer
	tl := newTally(&out)
	require.NoError(t, feed(tl, strings.NewReader(stream)))
	assert.True(t, tl.Failed())
	assert.Contains(t, out.String(), "BUILD FAILED p [p.test]\n    # p\n    ./a.go:3:1: syntax error\n")
}

func TestSkipReason(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{"drops file and line", []string{"=== RUN   TestX\n", "    x_test.go:12: skipping: Redis is absent\n", "--- SKIP: TestX (0.00s)\n"}, "skipping: Redis is absent"},
		{"says when there is none", []string{"=== RUN   TestX\n", "--- SKIP: TestX (0.00s)\n"}, "(no reason given)"},
		{"joins several lines", []string{"    x_test.go:3: one\n", "    x_test.go:4: two\n"}, "one / two"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, skipReason(tc.lines))
		})
	}
}
