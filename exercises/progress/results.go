package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"
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

// runTests runs `go test -json` once over every exercise package and returns its
// events. Failing tests are not an error here; not being able to run go is.
func runTests(root string, list []Exercise, stderr io.Writer) ([]Event, error) {
	args := []string{"test", "-json", "-timeout=5m"}
	for _, e := range list {
		args = append(args, "./"+e.Path()+"/")
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, runErr := cmd.Output()
	events, err := ParseEvents(bytes.NewReader(out))
	if err != nil {
		return nil, err
	}
	if len(events) == 0 && runErr != nil {
		return nil, fmt.Errorf("go test: %v\n%s", runErr, errOut.String())
	}
	// Older Go versions print build errors on stderr rather than as events.
	if errOut.Len() > 0 {
		fmt.Fprint(stderr, errOut.String())
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

// Result is how one exercise did.
type Result struct {
	Lesson      string `json:"lesson"`
	Name        string `json:"name"`
	Path        string `json:"path"`
	Status      Status `json:"status"`
	TestsPassed int    `json:"tests_passed"`
	TestsTotal  int    `json:"tests_total"`
	Points      int    `json:"points"`
	MaxPoints   int    `json:"max_points"`
	README      string `json:"readme"`
	Hints       string `json:"hints"`
	// Detail says why an exercise is not passing: the TODO message, the failing
	// tests, or the build error.
	Detail string `json:"detail,omitempty"`
}

// pkgRun collects the events of one package.
type pkgRun struct {
	action      string            // the package's own pass/fail/skip, "" if none came
	failedBuild bool              // it did not compile
	tests       map[string]string // top-level test name -> its last action
	output      strings.Builder   // everything the package printed
	buildOutput strings.Builder   // compiler errors
}

// Grade turns the events of one `go test -json` run into a Report for list.
func Grade(list []Exercise, events []Event) (Report, error) {
	runs := map[string]*pkgRun{}
	get := func(importPath string) *pkgRun {
		// Build events name the package as "path [path.test]".
		importPath, _, _ = strings.Cut(importPath, " ")
		r := runs[importPath]
		if r == nil {
			r = &pkgRun{tests: map[string]string{}}
			runs[importPath] = r
		}
		return r
	}
	for _, ev := range events {
		switch {
		case ev.Action == "build-output":
			get(ev.ImportPath).buildOutput.WriteString(ev.Output)
		case ev.Action == "build-fail":
			get(ev.ImportPath).failedBuild = true
		case ev.Package == "":
			// not about a package
		case ev.Action == "output":
			get(ev.Package).output.WriteString(ev.Output)
		case ev.Test == "" && (ev.Action == "pass" || ev.Action == "fail" || ev.Action == "skip"):
			r := get(ev.Package)
			r.action = ev.Action
			if ev.FailedBuild != "" {
				r.failedBuild = true
			}
		case ev.Test != "" && !strings.Contains(ev.Test, "/") && (ev.Action == "pass" || ev.Action == "fail" || ev.Action == "skip"):
			get(ev.Package).tests[ev.Test] = ev.Action
		}
	}

	var rep Report
	for _, e := range list {
		res := Result{
			Lesson: e.Lesson, Name: e.Name, Path: e.Path(), MaxPoints: PointsPerExercise,
			README: e.Path() + "/README.md", Hints: e.Path() + "/HINTS.md",
		}
		r := runs[e.ImportPath()]
		if r == nil {
			r = &pkgRun{tests: map[string]string{}}
		}
		res.Status, res.Detail = judge(r)
		for _, action := range r.tests {
			res.TestsTotal++
			if action == "pass" {
				res.TestsPassed++
			}
		}
		if res.Status == Passing {
			res.Points = PointsPerExercise
		}
		rep.add(res)
	}
	return rep, nil
}

// judge decides an exercise's status from its package's run, and why.
func judge(r *pkgRun) (Status, string) {
	switch {
	case r.failedBuild:
		return Failing, "does not compile: " + firstLine(r.buildOutput.String()+r.output.String(), "")
	case r.action == "pass":
		return Passing, ""
	case r.action == "" || r.action == "skip":
		return Failing, "no test result (does it compile? run its go test to see)"
	}
	out := r.output.String()
	if strings.Contains(out, TodoMarker) {
		return NotStarted, firstLine(out, TodoMarker)
	}
	var failed []string
	for name, action := range r.tests {
		if action == "fail" {
			failed = append(failed, name)
		}
	}
	sort.Strings(failed)
	if len(failed) == 0 {
		// Every test passed, yet the package failed: ipctest's leak check, or a
		// crash after the tests.
		return Failing, "the tests pass but the package fails: " + firstLine(out, "FAIL: ")
	}
	return Failing, "failing: " + strings.Join(failed, ", ")
}

// firstLine returns the first line of s that contains marker, from marker on, trimmed;
// with an empty marker, the first line that is not a comment from the go command.
func firstLine(s, marker string) string {
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || (marker == "" && strings.HasPrefix(line, "#")) {
			continue
		}
		if i := strings.Index(line, marker); i >= 0 {
			return line[i:]
		}
	}
	return "(no message)"
}
