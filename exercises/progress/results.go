package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
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
