package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
)

// Status is where a learner stands on one exercise.
type Status string

const (
	Passing    Status = "passing"
	Failing    Status = "failing"
	NotStarted Status = "not started"
)

// TodoMarker starts the error every stub returns; tests that fail with it mean the
// learner has not written that function yet.
const TodoMarker = "TODO: "

// Event is one line of `go test -json` (see `go doc test2json`).
type Event struct {
	Action      string // start, run, pass, fail, skip, output, build-output, build-fail, ...
	Package     string
	Test        string
	Output      string
	ImportPath  string // build-output and build-fail events (Go 1.24 and later)
	FailedBuild string // on a package's fail event when it did not build
}

// runTests runs `go test -json` once over every exercise package in list and returns
// its events. Failing tests are not an error here; not being able to run go is.
func runTests(root string, list []Exercise, stderr io.Writer) ([]Event, error) {
	cmd := goTest(root, list)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	runErr := cmd.Run()
	return testEvents(out.Bytes(), errOut.String(), runErr, stderr)
}

// goTest is the command that runs the tests of list, from root.
func goTest(root string, list []Exercise) *exec.Cmd {
	args := []string{"test", "-json", "-timeout=5m"}
	for _, e := range list {
		args = append(args, "./"+e.Path()+"/")
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	return cmd
}

// testEvents parses what a goTest command printed.
func testEvents(stdout []byte, errOut string, runErr error, stderr io.Writer) ([]Event, error) {
	events, err := ParseEvents(bytes.NewReader(stdout))
	if err != nil {
		return nil, err
	}
	if len(events) == 0 && runErr != nil {
		return nil, fmt.Errorf("go test: %v\n%s", runErr, errOut)
	}
	// Older Go versions print build errors on stderr rather than as events.
	if errOut != "" {
		fmt.Fprint(stderr, errOut)
	}
	return events, nil
}

// ParseEvents reads `go test -json` output. Lines that are not JSON (a go command
// that prints something unexpected) are skipped.
func ParseEvents(r io.Reader) ([]Event, error) {
	var events []Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var e Event
		if err := json.Unmarshal(line, &e); err != nil {
			continue
		}
		events = append(events, e)
	}
	return events, sc.Err()
}
