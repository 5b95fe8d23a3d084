// Command testtally runs `go test -json` with the given arguments and
// makes its result readable: one line per package, the whole output of
// every failing test, then the skip reasons grouped and a last line
// "N passed, M failed, K skipped". It exits 1 when anything failed, so
// `make test` still fails.
//
//	go run ./cmd/testtally [-summary file] -- -race -count=1 ./...
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("testtally", flag.ContinueOnError)
	fs.SetOutput(stderr)
	summary := fs.String("summary", "", "also write the summary (skip reasons and tally) to this file")
	goCmd := fs.String("go", "go", "the go command")
	dir := fs.String("dir", "", "run go test in this directory")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cmd := exec.Command(*goCmd, append([]string{"test", "-json"}, fs.Args()...)...) //nolint:gosec,noctx // G204: runs the go command it is told to (make test is the caller); go test's own -timeout bounds it
	cmd.Stderr = stderr
	cmd.Dir = *dir
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(stderr, "testtally:", err)
		return 1
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, "testtally:", err)
		return 1
	}
	t := newTally(stdout)
	if err := feed(t, pipe); err != nil {
		fmt.Fprintln(stderr, "testtally: reading go test output:", err)
	}
	waitErr := cmd.Wait()

	var sum bytes.Buffer
	t.Summary(&sum)
	_, _ = stdout.Write(sum.Bytes()) // the terminal; the exit code carries the verdict
	if *summary != "" {
		err := os.MkdirAll(filepath.Dir(*summary), 0o750)
		if err == nil {
			err = os.WriteFile(*summary, sum.Bytes(), 0o600)
		}
		if err != nil {
			fmt.Fprintln(stderr, "testtally:", err)
		}
	}
	var exit *exec.ExitError
	switch {
	case errors.As(waitErr, &exit) && !t.Failed():
		// go test failed without a failing test or package (a bad flag,
		// a package that does not exist): say so rather than look green.
		fmt.Fprintf(stdout, "go test exited with status %d\n", exit.ExitCode())
		return 1
	case waitErr != nil && !t.Failed():
		fmt.Fprintln(stderr, "testtally:", waitErr)
		return 1
	case t.Failed():
		return 1
	}
	return 0
}

// feed passes every line of r to t; lines may be long (a test that logs a
// big body), so the buffer grows as needed.
func feed(t *tally, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	for sc.Scan() {
		t.line(sc.Bytes())
	}
	return sc.Err()
}
