package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// GitHub Classroom grades an assignment either from .github/classroom/autograding.json
// (the format of its classic autograding) or from a workflow that runs one
// autograding-command-grader step per test and the grading reporter at the end
// (.github/workflows/classroom.yml, the format Classroom writes today). Both are
// generated here from the exercise list, so they never miss an exercise.
//
// Only a student repository has them in its .github/: `progress export` writes them
// there. The course repository keeps its copy in ClassroomDir, where GitHub does not
// run it: in .github/ it would grade the course's own unsolved stubs on every push,
// and fail.

// ClassroomDir is where `go generate ./progress` writes the grading of every
// exercise, relative to the exercises module.
const ClassroomDir = "progress/classroom"

// Where the grading goes in a student repository.
const (
	WorkflowPath    = ".github/workflows/classroom.yml"
	AutogradingPath = ".github/classroom/autograding.json"
	// UnchangedPath checks, before an exercise is graded, that its tests and the
	// test code the exercises share are the files handed out, against GradedSums.
	UnchangedPath = ".github/classroom/unchanged"
	// GradedSums is the SHA-256 of every file the grading runs that students do not
	// write (each exercise's tests, and internal/), as export wrote them. Only a
	// student repository has it: the course's internal/ changes without the grading.
	GradedSums = ".github/classroom/SHA256SUMS"
)

// unchangedScript is UnchangedPath.
const unchangedScript = `#!/bin/sh
# Usage: sh ` + UnchangedPath + ` NN-lesson/NAME
#
# Run by the grading before the tests of exercise NN-lesson/NAME: checks that its
# tests and the test code the exercises share (internal/) are the files that were
# handed out, against the checksums in ` + GradedSums + `. A changed test grades
# something else than the exercise: the exercise then scores 0.
set -u
sums=` + GradedSums + `
if ! lines=$(grep -E "  (exercises/$1/|internal/)" "$sums"); then
	echo "$sums lists no test of $1"
	exit 1
fi
if ! printf '%s\n' "$lines" | sha256sum --quiet --strict -c -; then
	echo "The file(s) above differ from the ones handed out: grading runs only the tests as they were handed out."
	echo "Put a file back with: git checkout $(git rev-list --max-parents=0 HEAD | tail -n 1) -- FILE"
	exit 1
fi
`

// classroomTimeout is each test's limit in minutes (both formats count in minutes).
const classroomTimeout = 5

type autogradingTest struct {
	Name       string `json:"name"`
	Setup      string `json:"setup"`
	Run        string `json:"run"`
	Input      string `json:"input"`
	Output     string `json:"output"`
	Comparison string `json:"comparison"`
	Timeout    int    `json:"timeout"`
	Points     int    `json:"points"`
}

// Autograding returns .github/classroom/autograding.json for list.
func Autograding(list []Exercise) ([]byte, error) {
	var cfg struct {
		Tests []autogradingTest `json:"tests"`
	}
	for _, e := range list {
		cfg.Tests = append(cfg.Tests, autogradingTest{
			Name: e.Path(), Run: e.TestCommand(), Comparison: "included",
			Timeout: classroomTimeout, Points: PointsPerExercise,
		})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep "&&" readable
	enc.SetIndent("", "  ")
	err := enc.Encode(cfg)
	return b.Bytes(), err
}

// stepID is a workflow step id for e: ids must start with a letter.
func stepID(e Exercise) string {
	return "ex-" + strings.ReplaceAll(e.Path(), "/", "-")
}

// Workflow returns .github/workflows/classroom.yml for list.
func Workflow(list []Exercise) []byte {
	var b bytes.Buffer
	b.WriteString(`# GitHub Classroom autograding, written by the course's progress tool for the
# exercises of this repository ('go run ./progress export' in the course).
# One graded step per exercise, then the reporter, which adds up the points.
# Each step first checks that the exercise's tests (and internal/) are the ones
# handed out (` + UnchangedPath + `), then runs them as root (go test -exec sudo:
# GitHub's hosted runners have passwordless sudo), so that the cases that need root
# run too. It runs on every push, and again from the Actions tab (Run workflow) or
# a repository_dispatch event; not in the template repository itself; and a newer
# push cancels a run still going.
# Do not define tests in the Classroom web interface: Classroom then replaces this
# file with its own.
name: Autograding Tests
'on':
  - push
  - workflow_dispatch
  - repository_dispatch
permissions:
  checks: write
  actions: read
  contents: read
concurrency:
  group: autograding-${{ github.ref }}
  cancel-in-progress: true
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]' && !github.event.repository.is_template
    steps:
      - name: Checkout code
        uses: actions/checkout@v4
      - name: Set up Go
        uses: actions/setup-go@v5
        with:
          go-version-file: exercises/go.mod
          cache-dependency-path: exercises/go.sum
      - name: Download modules
        run: cd exercises && go mod download
`)
	var ids []string
	for _, e := range list {
		id := stepID(e)
		ids = append(ids, id)
		fmt.Fprintf(&b, `      - name: %s
        id: %s
        uses: classroom-resources/autograding-command-grader@v1
        with:
          test-name: %s
          setup-command: ''
          command: %s
          timeout: %d
          max-score: %d
`, e.Path(), id, e.Path(), e.TestCommand(), classroomTimeout, PointsPerExercise)
	}
	b.WriteString(`      - name: Autograding Reporter
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
`)
	for _, id := range ids {
		fmt.Fprintf(&b, "          %s_RESULTS: \"${{steps.%s.outputs.result}}\"\n", strings.ToUpper(id), id)
	}
	fmt.Fprintf(&b, "        with:\n          runners: %s\n", strings.Join(ids, ","))
	return b.Bytes()
}

// Classroom returns the grading of list: each file's path in a student repository
// (WorkflowPath, AutogradingPath, UnchangedPath), and its content. (GradedSums
// depends on the files exported: export writes it.)
func Classroom(list []Exercise) (map[string][]byte, error) {
	auto, err := Autograding(list)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{AutogradingPath: auto, WorkflowPath: Workflow(list), UnchangedPath: []byte(unchangedScript)}, nil
}

// gradedFile reports whether f, a path in a student repository, is one of the files
// the grading runs that students do not write: an exercise's tests, and internal/.
func gradedFile(f string) bool {
	return strings.HasSuffix(f, ".go") &&
		(strings.HasPrefix(f, "internal/") || (strings.HasPrefix(f, "exercises/") && strings.HasSuffix(f, "_test.go") && strings.Count(f, "/") == 3))
}

// Sums returns GradedSums for the files of a student repository (path -> content),
// in the format of sha256sum, sorted by path.
func Sums(files map[string][]byte) []byte {
	var names []string
	for f := range files {
		if gradedFile(f) {
			names = append(names, f)
		}
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, f := range names {
		fmt.Fprintf(&b, "%s  %s\n", Checksum(files[f]), f)
	}
	return b.Bytes()
}

// WriteClassroom writes the grading of list to dir (ClassroomDir in the course), each
// file under its base name: classroom.yml, autograding.json and unchanged.
func WriteClassroom(dir string, list []Exercise) error {
	files, err := Classroom(list)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, path.Base(name)), content, 0o644); err != nil {
			return err
		}
	}
	return nil
}
