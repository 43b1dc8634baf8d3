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
//     fails without any TODO);
//   - skips.jsonl: 01-x/skippy (passes, with a top-level test and a subtest that
//     skip) and 01-x/testified (a testify assert.Equal fails in a subtest, and a
//     plain t.Errorf of two lines in another test).
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
		{Failing, 1, 2, "TestWrong/case: got 0x41, want 0x42"},
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
	rep, err := Grade([]Exercise{{"01-x", "good"}, {"01-ftok", "keyparts"}, {"01-x", "wrong"}, {"01-x", "skippy"}},
		recorded(t, "stub.jsonl", "mixed.jsonl", "skips.jsonl"))
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, rep.WriteText(&out))
	want := `LESSON   EXERCISE  STATUS       TESTS  POINTS
01-x     good      passing      2/2    10/10
01-ftok  keyparts  not started  0/5    0/10
01-x     wrong     failing      1/2    0/10
01-x     skippy    passing      2/3    10/10 (root-only tests not run)

Skipped tests (an exercise passes here without them; the reason says how to run them):
  01-x/skippy: 2/3 passing, 2 skipped: running a helper as uid 65534 needs root; run the tests as root (go test -exec sudo) to see this; shmctl(SHM_LOCK): operation not permitted
    grading runs them, as root: run them the same way with go test -exec sudo ./01-x/skippy/

Score: 2 of 4 exercises passing, 20/40 points.
(1 of them passed without their root-only tests, which grading runs: see Skipped tests.)
Next: 01-ftok/keyparts (not started)
  why:   TODO: implement Decode (read README.md, then HINTS.md)
  read:  01-ftok/keyparts/README.md
  hints: go run ./progress hint 01-ftok/keyparts   (one at a time; all of them: 01-ftok/keyparts/HINTS.md)
  test:  go test ./01-ftok/keyparts/
  or:    go run ./progress watch   (runs them each time you save)
`
	assert.Equal(t, want, out.String())
}

func TestGradeSkipsAndFailureMessages(t *testing.T) {
	rep, err := Grade([]Exercise{{"01-x", "skippy"}, {"01-x", "testified"}}, recorded(t, "skips.jsonl"))
	require.NoError(t, err)
	skippy, testified := rep.Exercises[0], rep.Exercises[1]

	assert.Equal(t, Passing, skippy.Status, "skipped tests do not fail an exercise")
	assert.Equal(t, []int{2, 3, 2}, []int{skippy.TestsPassed, skippy.TestsTotal, skippy.Skipped},
		"a skipped top-level test counts in the total but does not pass; skipped subtests count as skipped")
	assert.Equal(t, []string{
		"running a helper as uid 65534 needs root; run the tests as root (go test -exec sudo) to see this",
		"shmctl(SHM_LOCK): operation not permitted",
	}, skippy.SkipReasons, "each skip's own message, without the file:line prefix")
	assert.True(t, skippy.RootTestsNotRun, "a test that skipped for want of root did not run, and grading runs it")
	assert.False(t, testified.RootTestsNotRun)

	assert.Equal(t, Failing, testified.Status)
	assert.Equal(t, "TestRow/owned_by_nobody: the owner column is the user name of shm_perm.uid (not the creator, shm_perm.cuid)\n"+
		"Not equal:\n"+`expected: "nobody"`+"\n"+`actual  : "root"`+"\n"+
		"(failing: TestOther, TestRow)", testified.Detail,
		"the first failing test (the innermost), testify's message and error without the diff, then every failing test")
}

func TestFailureMessage(t *testing.T) {
	tests := []struct {
		name, out, want string
	}{
		{"testify", "=== RUN   TestX\n    x_test.go:35: \n" +
			"        \tError Trace:\t/x/x_test.go:35\n" +
			"        \tError:      \tReceived unexpected error:\n" +
			"        \t            \tTODO: implement Decode\n" +
			"        \tTest:       \tTestX\n" +
			"        \tMessages:   \tDecode(\"0x1\") must succeed\n--- FAIL: TestX (0.00s)\n",
			"Decode(\"0x1\") must succeed\nReceived unexpected error:\nTODO: implement Decode"},
		{"t.Errorf over two lines", "    x_test.go:9: got 2,\n        want 1\n", "got 2,\nwant 1"},
		{"long", "    x_test.go:9: 1\n        2\n        3\n        4\n        5\n        6\n        7\n", "1\n2\n3\n4\n5\n6\n..."},
		{"nothing", "=== RUN   TestX\n--- FAIL: TestX (0.00s)\n", "(it printed no message)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, failureMessage(tt.out))
		})
	}
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
	assert.Equal(t, "sh .github/classroom/unchanged 06-sync/ring && cd exercises && go test -timeout=2m -exec sudo ./06-sync/ring/", cfg.Tests[1].Run)
	assert.Equal(t, PointsPerExercise, cfg.Tests[1].Points)
	assert.Contains(t, string(b), "&&", "the command stays readable (no \\u0026)")

	yml := string(Workflow(list))
	for _, want := range []string{
		"id: ex-01-ftok-keyparts\n", // step ids must start with a letter
		"command: sh .github/classroom/unchanged 06-sync/ring && cd exercises && go test -timeout=2m -exec sudo ./06-sync/ring/\n",
		"  - workflow_dispatch\n", // regrading from the Actions tab
		"if: github.actor != 'github-classroom[bot]' && !github.event.repository.is_template\n",
		`EX-06-SYNC-RING_RESULTS: "${{steps.ex-06-sync-ring.outputs.result}}"`,
		"runners: ex-01-ftok-keyparts,ex-06-sync-ring\n",
	} {
		assert.Contains(t, yml, want)
	}
	assert.NotContains(t, yml, "\t", "YAML must not be indented with tabs")

	dir := t.TempDir()
	require.NoError(t, WriteClassroom(dir, list))
	for name, content := range map[string]string{"autograding.json": string(b), "classroom.yml": yml, "unchanged": unchangedScript} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, content, string(got), name)
	}
}
