package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The testdata files are recorded `go test -json` output:
//   - stub.jsonl: `go test -json ./01-ftok/keyparts/` on the stub;
//   - mixed.jsonl: a module with four packages under 01-x/: broken (does not
//     compile), good (passes, with a subtest), leaky (its tests pass, then its
//     TestMain fails the package as ipctest.Main does on a leak) and wrong (one test
//     fails without any TODO).
func recorded(t *testing.T, files ...string) []Event {
	t.Helper()
	var all []Event
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		require.NoError(t, err)
		events, err := ParseEvents(bytes.NewReader(b))
		require.NoError(t, err)
		require.NotEmpty(t, events, "testdata/%s holds no events", f)
		all = append(all, events...)
	}
	return all
}

func TestGrade(t *testing.T) {
	list := []Exercise{
		{"01-ftok", "keyparts"},
		{"01-x", "good"},
		{"01-x", "broken"},
		{"01-x", "leaky"},
		{"01-x", "wrong"},
		{"02-y", "absent"}, // no events at all
	}
	rep, err := Grade(list, recorded(t, "stub.jsonl", "mixed.jsonl"))
	require.NoError(t, err)
	require.Len(t, rep.Exercises, len(list), "one result per exercise, in the order given")

	tests := []struct {
		status        Status
		passed, total int
		detail        string // a part of Detail
	}{
		{NotStarted, 0, 5, "TODO: implement Decode (read README.md, then HINTS.md)"},
		{Passing, 2, 2, ""},
		{Failing, 0, 0, "undefined: undefinedThing"},
		{Failing, 1, 1, "FAIL: the tests left 1 System V object(s) behind"},
		{Failing, 1, 2, "failing: TestWrong"},
		{Failing, 0, 0, "no test result"},
	}
	for i, tt := range tests {
		r := rep.Exercises[i]
		t.Run(r.Path, func(t *testing.T) {
			assert.Equal(t, list[i].Path(), r.Path)
			assert.Equal(t, tt.status, r.Status, "detail: %s", r.Detail)
			assert.Equal(t, tt.passed, r.TestsPassed, "top-level tests passed (subtests do not count)")
			assert.Equal(t, tt.total, r.TestsTotal, "top-level tests run")
			assert.Contains(t, r.Detail, tt.detail)
			assert.Equal(t, list[i].Path()+"/HINTS.md", r.Hints)
			if tt.status == Passing {
				assert.Equal(t, PointsPerExercise, r.Points)
			} else {
				assert.Zero(t, r.Points, "only a passing exercise scores")
			}
		})
	}
	assert.Equal(t, 1, rep.Passed)
	assert.Equal(t, 6, rep.Total)
	assert.Equal(t, PointsPerExercise, rep.Points)
	assert.Equal(t, 6*PointsPerExercise, rep.MaxPoints)
	require.NotNil(t, rep.Next)
	assert.Equal(t, "01-ftok/keyparts", rep.Next.Path, "the next exercise is the first one, in course order, that does not pass")
}

func TestGradeAllPassing(t *testing.T) {
	rep, err := Grade([]Exercise{{"01-x", "good"}}, recorded(t, "mixed.jsonl"))
	require.NoError(t, err)
	assert.Nil(t, rep.Next, "nothing is next when everything passes")
	var out bytes.Buffer
	require.NoError(t, rep.WriteText(&out))
	assert.Contains(t, out.String(), "Score: 1 of 1 exercises passing, 10/10 points.\nAll done")
}

func TestWriteText(t *testing.T) {
	rep, err := Grade([]Exercise{{"01-x", "good"}, {"01-ftok", "keyparts"}, {"01-x", "wrong"}},
		recorded(t, "stub.jsonl", "mixed.jsonl"))
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, rep.WriteText(&out))
	want := `LESSON   EXERCISE  STATUS       TESTS  POINTS
01-x     good      passing      2/2    10/10
01-ftok  keyparts  not started  0/5    0/10
01-x     wrong     failing      1/2    0/10

Score: 1 of 3 exercises passing, 10/30 points.
Next: 01-ftok/keyparts (not started)
  why:   TODO: implement Decode (read README.md, then HINTS.md)
  read:  01-ftok/keyparts/README.md
  hints: 01-ftok/keyparts/HINTS.md
  test:  go test ./01-ftok/keyparts/
`
	assert.Equal(t, want, out.String())
}

func TestWriteJSON(t *testing.T) {
	rep, err := Grade([]Exercise{{"01-x", "good"}, {"01-x", "wrong"}}, recorded(t, "mixed.jsonl"))
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, rep.WriteJSON(&out))

	var got struct {
		Exercises []struct {
			Path, Status, Hints string
			TestsPassed         int `json:"tests_passed"`
		}
		Passed, Total, Points int
		MaxPoints             int `json:"max_points"`
		Next                  struct{ Path, Hints string }
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &got), "-json must print valid JSON:\n%s", out.String())
	require.Len(t, got.Exercises, 2)
	assert.Equal(t, "passing", got.Exercises[0].Status)
	assert.Equal(t, "failing", got.Exercises[1].Status)
	assert.Equal(t, 1, got.Exercises[1].TestsPassed)
	assert.Equal(t, []int{1, 2, 10, 20}, []int{got.Passed, got.Total, got.Points, got.MaxPoints})
	assert.Equal(t, "01-x/wrong", got.Next.Path)
	assert.Equal(t, "01-x/wrong/HINTS.md", got.Next.Hints)
}

func TestParseEventsSkipsNoise(t *testing.T) {
	in := "go: downloading something\n" +
		`{"Action":"pass","Package":"p"}` + "\n\n{not json\n" +
		`{"Action":"fail","Package":"q","Test":"TestX"}` + "\n"
	events, err := ParseEvents(strings.NewReader(in))
	require.NoError(t, err)
	assert.Equal(t, []Event{{Action: "pass", Package: "p"}, {Action: "fail", Package: "q", Test: "TestX"}}, events)
}

func TestSortExercises(t *testing.T) {
	readme := "| 1 | `02-shmget/openorcreate` |\n| 2 | `01-ftok/keyparts` |\n| 3 | `01-ftok/collide` |\n" +
		"see 01-ftok/keyparts again\n"
	list := []Exercise{
		{"02-shmget", "perms"}, {"01-ftok", "zzz"}, {"02-shmget", "openorcreate"},
		{"01-ftok", "collide"}, {"01-ftok", "aaa"}, {"01-ftok", "keyparts"},
	}
	SortExercises(list, readme)
	var got []string
	for _, e := range list {
		got = append(got, e.Path())
	}
	assert.Equal(t, []string{
		"01-ftok/keyparts", "01-ftok/collide", // in README order
		"01-ftok/aaa", "01-ftok/zzz", // not in the README: after, by name
		"02-shmget/openorcreate", "02-shmget/perms", // lessons first, whatever the README says
	}, got)
}

func TestDiscover(t *testing.T) {
	root := t.TempDir()
	files := []string{
		"01-ftok/keyparts/keyparts.go", "01-ftok/keyparts/keyparts_test.go",
		"01-ftok/collide/collide_test.go",
		"01-ftok/notyet/notyet.go",  // no tests: not an exercise
		"02-shmget/Bad/bad_test.go", // not a package name
		"progress/progress_test.go", // not a lesson
		"03-shmat/message/message_test.go",
		"03-shmat/README.md",
	}
	for _, f := range files {
		path := filepath.Join(root, f)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, nil, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "README.md"), []byte("`01-ftok/keyparts` then `01-ftok/collide`"), 0o644))

	list, err := Discover(root)
	require.NoError(t, err)
	assert.Equal(t, []Exercise{{"01-ftok", "keyparts"}, {"01-ftok", "collide"}, {"03-shmat", "message"}}, list)
}

func TestClassroom(t *testing.T) {
	list := []Exercise{{"01-ftok", "keyparts"}, {"06-sync", "ring"}}

	b, err := Autograding(list)
	require.NoError(t, err)
	var cfg struct {
		Tests []autogradingTest `json:"tests"`
	}
	require.NoError(t, json.Unmarshal(b, &cfg))
	require.Len(t, cfg.Tests, 2)
	assert.Equal(t, "cd exercises && go test ./06-sync/ring/", cfg.Tests[1].Run)
	assert.Equal(t, PointsPerExercise, cfg.Tests[1].Points)
	assert.Contains(t, string(b), "&&", "the command stays readable (no \\u0026)")

	yml := string(Workflow(list))
	for _, want := range []string{
		"id: ex-01-ftok-keyparts\n", // step ids must start with a letter
		"command: cd exercises && go test ./06-sync/ring/\n",
		`EX-06-SYNC-RING_RESULTS: "${{steps.ex-06-sync-ring.outputs.result}}"`,
		"runners: ex-01-ftok-keyparts,ex-06-sync-ring\n",
	} {
		assert.Contains(t, yml, want)
	}
	assert.NotContains(t, yml, "\t", "YAML must not be indented with tabs")

	dir := t.TempDir()
	require.NoError(t, WriteClassroom(dir, list))
	assert.FileExists(t, filepath.Join(dir, "classroom", "autograding.json"))
	assert.FileExists(t, filepath.Join(dir, "workflows", "classroom.yml"))
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"-h"}, 0, "usage: go run ./progress"},
		{[]string{"-nope"}, 2, "usage: go run ./progress"},
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, tt.code, run(tt.args, &stdout, &stderr), "progress %v", tt.args)
		assert.Contains(t, stderr.String(), tt.err)
	}
}
