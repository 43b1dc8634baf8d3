package main

import (
	"regexp"
	"sort"
	"strings"
)

// Result is how one exercise did.
type Result struct {
	Lesson      string `json:"lesson"`
	Name        string `json:"name"`
	Path        string `json:"path"`
	Status      Status `json:"status"`
	TestsPassed int    `json:"tests_passed"` // top-level tests that passed
	TestsTotal  int    `json:"tests_total"`  // top-level tests that ran
	// Skipped counts the tests (subtests included) that skipped themselves, and
	// SkipReasons says why, once per distinct reason: most need root.
	Skipped     int      `json:"skipped"`
	SkipReasons []string `json:"skip_reasons,omitempty"`
	// RootTestsNotRun: some of the skipped tests need root, and grading runs them
	// (as root): the points here may not be the grade.
	RootTestsNotRun bool `json:"root_tests_not_run,omitempty"`
	// TestsEdited lists the exercise's test files that differ from the ones handed
	// out (edited or missing): grading checks them first and scores the exercise 0.
	TestsEdited []string `json:"tests_edited,omitempty"`
	Points      int      `json:"points"`
	MaxPoints   int      `json:"max_points"`
	README      string   `json:"readme"`
	Hints       string   `json:"hints"`
	// Detail says why an exercise is not passing: the TODO message, the failing
	// test with its first failure message, or the build error.
	Detail string `json:"detail,omitempty"`
}

// pkgRun collects the events of one package.
type pkgRun struct {
	action      string            // the package's own pass/fail/skip, "" if none came
	failedBuild bool              // it did not compile
	tests       map[string]string // top-level test name -> its last action
	output      strings.Builder   // everything the package printed
	buildOutput strings.Builder   // compiler errors

	testOutput map[string]*strings.Builder // every test and subtest -> what it printed
	failed     []string                    // tests and subtests that failed, in the order they ended
	skipped    []string                    // tests and subtests that skipped, in order
}

func newPkgRun() *pkgRun {
	return &pkgRun{tests: map[string]string{}, testOutput: map[string]*strings.Builder{}}
}

// Grade turns the events of one `go test -json` run into a Report for list.
func Grade(list []Exercise, events []Event) (Report, error) {
	runs := map[string]*pkgRun{}
	get := func(importPath string) *pkgRun {
		// Build events name the package as "path [path.test]".
		importPath, _, _ = strings.Cut(importPath, " ")
		r := runs[importPath]
		if r == nil {
			r = newPkgRun()
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
			r := get(ev.Package)
			r.output.WriteString(ev.Output)
			if ev.Test != "" {
				if r.testOutput[ev.Test] == nil {
					r.testOutput[ev.Test] = &strings.Builder{}
				}
				r.testOutput[ev.Test].WriteString(ev.Output)
			}
		case ev.Test == "" && (ev.Action == "pass" || ev.Action == "fail" || ev.Action == "skip"):
			r := get(ev.Package)
			r.action = ev.Action
			if ev.FailedBuild != "" {
				r.failedBuild = true
			}
		case ev.Test != "" && (ev.Action == "pass" || ev.Action == "fail" || ev.Action == "skip"):
			r := get(ev.Package)
			if !strings.Contains(ev.Test, "/") {
				r.tests[ev.Test] = ev.Action
			}
			switch ev.Action {
			case "fail":
				r.failed = append(r.failed, ev.Test)
			case "skip":
				r.skipped = append(r.skipped, ev.Test)
			}
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
			r = newPkgRun()
		}
		res.Status, res.Detail = judge(r)
		for _, action := range r.tests {
			res.TestsTotal++
			if action == "pass" {
				res.TestsPassed++
			}
		}
		res.Skipped = len(r.skipped)
		seen := map[string]bool{}
		for _, name := range r.skipped {
			why := skipReason(r.outputOf(name))
			if !seen[why] {
				seen[why] = true
				res.SkipReasons = append(res.SkipReasons, why)
			}
			res.RootTestsNotRun = res.RootTestsNotRun || needsRoot.MatchString(why)
		}
		if res.Status == Passing {
			res.Points = PointsPerExercise
		}
		rep.add(res)
	}
	return rep, nil
}

// outputOf is what test name printed.
func (r *pkgRun) outputOf(name string) string {
	if b := r.testOutput[name]; b != nil {
		return b.String()
	}
	return ""
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
	if len(r.failed) == 0 {
		// Every test passed, yet the package failed: ipctest's leak check, or a
		// crash after the tests.
		return Failing, "the tests pass but the package fails: " + firstLine(out, "FAIL: ")
	}
	// The first test to fail is the innermost one (a subtest ends before its
	// parent): its message is the most precise.
	first := r.failed[0]
	detail := first + ": " + failureMessage(r.outputOf(first))
	if others := failedTopLevel(r.tests); len(others) > 1 {
		detail += "\n(failing: " + strings.Join(others, ", ") + ")"
	}
	return Failing, detail
}

// failedTopLevel lists the top-level tests that failed, sorted.
func failedTopLevel(tests map[string]string) []string {
	var failed []string
	for name, action := range tests {
		if action == "fail" {
			failed = append(failed, name)
		}
	}
	sort.Strings(failed)
	return failed
}

// maxMessageLines bounds a failure message: enough for testify's "expected" and
// "actual", not a whole diff.
const maxMessageLines = 6

var (
	// "    file_test.go:35: text" starts what t.Error, t.Log and t.Skip print.
	logPrefix = regexp.MustCompile(`^\s*[\w.-]+\.go:\d+: ?`)
	// A testify field: "        \tError:      \tReceived unexpected error:".
	testifyField = regexp.MustCompile(`^\s*\t([A-Za-z ]+):\s*\t(.*)$`)
	// A testify continuation line: "        \t            \tTODO: ...".
	testifyMore = regexp.MustCompile(`^\s*\t\s+\t(.*)$`)
)

// failureMessage extracts the message of a failed test from what it printed:
// testify's Messages and Error fields, or the text of t.Error/t.Fatal.
func failureMessage(out string) string {
	var plain, fieldErr, fieldMsg []string
	field := ""
	for _, line := range strings.Split(out, "\n") {
		switch {
		case line == "" || strings.HasPrefix(line, "=== ") || strings.HasPrefix(strings.TrimSpace(line), "--- "):
			continue
		case testifyField.MatchString(line):
			m := testifyField.FindStringSubmatch(line)
			field = m[1]
			add(field, m[2], &fieldErr, &fieldMsg)
		case field != "" && testifyMore.MatchString(line):
			more := strings.TrimSpace(testifyMore.FindStringSubmatch(line)[1])
			if more == "" {
				field = "rest" // a blank line: what follows is a diff, too long to show
				continue
			}
			add(field, more, &fieldErr, &fieldMsg)
		default:
			field = ""
			text := strings.TrimSpace(logPrefix.ReplaceAllString(line, ""))
			if text != "" {
				plain = append(plain, text)
			}
		}
	}
	var lines []string
	switch {
	case len(fieldErr) > 0 || len(fieldMsg) > 0:
		lines = append(fieldMsg, fieldErr...)
	default:
		lines = plain
	}
	if len(lines) == 0 {
		return "(it printed no message)"
	}
	if len(lines) > maxMessageLines {
		lines = append(lines[:maxMessageLines], "...")
	}
	return strings.Join(lines, "\n")
}

// add appends text to the testify field it belongs to (only Error and Messages
// are kept; Error Trace and Test repeat what the learner already knows).
func add(field, text string, errLines, msgLines *[]string) {
	text = strings.TrimRight(text, " \t")
	switch field {
	case "Error":
		*errLines = append(*errLines, text)
	case "Messages":
		*msgLines = append(*msgLines, text)
	}
}

// needsRoot matches the reason of a test that skipped itself for want of root ("...
// needs root; run the tests as root ..."). Grading runs every test as root.
var needsRoot = regexp.MustCompile(`\broot\b`)

// skipReason is the message a test gave t.Skip, one line.
func skipReason(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if line == "" || strings.HasPrefix(line, "=== ") || strings.HasPrefix(strings.TrimSpace(line), "--- ") {
			continue
		}
		if text := strings.TrimSpace(logPrefix.ReplaceAllString(line, "")); text != "" {
			return text
		}
	}
	return "(no reason given)"
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
