package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
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
)

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
# Each step runs the exercise's tests as root (go test -exec sudo: GitHub's hosted
# runners have passwordless sudo), so that the cases that need root run too.
# Do not define tests in the Classroom web interface: Classroom then replaces this
# file with its own.
name: Autograding Tests
'on':
  - push
  - repository_dispatch
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
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
// (WorkflowPath, AutogradingPath), and its content.
func Classroom(list []Exercise) (map[string][]byte, error) {
	auto, err := Autograding(list)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{AutogradingPath: auto, WorkflowPath: Workflow(list)}, nil
}

// WriteClassroom writes the grading of list to dir (ClassroomDir in the course), each
// file under its base name: classroom.yml and autograding.json.
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
