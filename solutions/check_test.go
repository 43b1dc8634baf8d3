//go:build linux

// The course's own check of its exercises (see exercises/README.md). For every
// exercise directory exercises/NN-lesson/NAME it verifies that:
//
//   - README.md and HINTS.md are there;
//   - the reference solution is at solutions/NN-lesson/NAME with byte-identical
//     copies of the exercise's _test.go files (the root `go test ./...` runs them
//     against the solution, so the solution passes the very tests the learner gets);
//   - the stub compiles (`go vet` in exercises/) and fails its tests with at least one
//     failing test, a "TODO: " message and no build error;
//   - exercises/README.md and the GitHub Classroom grading list it.
//
// This package must not use ipctest.Main: that takes the course's test lock, and the
// nested `go test` runs below need the same lock for the exercise packages.
package solutions_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const exercisesModule = "github.com/learn-sysv/shm-course/exercises"

// Paths from this package's directory (go test runs in it).
const (
	exercisesDir = "../exercises"
	solutionsDir = "."
	repoRoot     = ".."
)

var (
	lessonDir   = regexp.MustCompile(`^[0-9][0-9]-[a-z0-9-]+$`)
	exerciseDir = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// exercises lists "NN-lesson/NAME" for every exercise directory: the same rule as
// exercises/progress uses (a NN-lesson/NAME directory with a _test.go file).
func exercises(t *testing.T) []string {
	t.Helper()
	lessons, err := os.ReadDir(exercisesDir)
	require.NoError(t, err)
	var list []string
	for _, l := range lessons {
		if !l.IsDir() || !lessonDir.MatchString(l.Name()) {
			continue
		}
		names, err := os.ReadDir(filepath.Join(exercisesDir, l.Name()))
		require.NoError(t, err)
		for _, n := range names {
			if !n.IsDir() || !exerciseDir.MatchString(n.Name()) {
				continue
			}
			tests, _ := filepath.Glob(filepath.Join(exercisesDir, l.Name(), n.Name(), "*_test.go"))
			if len(tests) > 0 {
				list = append(list, l.Name()+"/"+n.Name())
			}
		}
	}
	require.NotEmpty(t, list, "no exercises found under %s", exercisesDir)
	return list
}

func TestEveryExerciseHasItsFilesAndSolution(t *testing.T) {
	for _, ex := range exercises(t) {
		t.Run(ex, func(t *testing.T) {
			dir := filepath.Join(exercisesDir, ex)
			for _, doc := range []string{"README.md", "HINTS.md"} {
				b, err := os.ReadFile(filepath.Join(dir, doc))
				if assert.NoError(t, err, "every exercise needs a %s", doc) {
					assert.NotEmpty(t, bytes.TrimSpace(b), "%s/%s is empty", ex, doc)
				}
			}
			hints, _ := os.ReadFile(filepath.Join(dir, "HINTS.md"))
			assert.Contains(t, string(hints), "Hint 1", "HINTS.md gives graded hints, Hint 1 first")

			name := filepath.Base(ex)
			stub, err := os.ReadFile(filepath.Join(dir, name+".go"))
			if assert.NoError(t, err, "the stub is %s/%s.go", ex, name) {
				assert.Contains(t, string(stub), "TODO: ", "the stub must return errors that start with \"TODO: \"")
			}

			sol := filepath.Join(solutionsDir, ex)
			solFiles, err := filepath.Glob(filepath.Join(sol, "*.go"))
			require.NoError(t, err)
			require.NotEmpty(t, solFiles, "the reference solution of %s must be in solutions/%s", ex, ex)

			exTests, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
			solTests, _ := filepath.Glob(filepath.Join(sol, "*_test.go"))
			assert.Equal(t, baseNames(exTests), baseNames(solTests),
				"solutions/%s must hold a copy of each test file of exercises/%s, and no other", ex, ex)
			for _, f := range exTests {
				want, err := os.ReadFile(f)
				require.NoError(t, err)
				got, err := os.ReadFile(filepath.Join(sol, filepath.Base(f)))
				if assert.NoError(t, err) {
					assert.True(t, bytes.Equal(want, got),
						"solutions/%s/%s differs from the exercise's: copy it (cp exercises/%s/%s solutions/%s/), never edit the copy",
						ex, filepath.Base(f), ex, filepath.Base(f), ex)
				}
			}
		})
	}
}

func baseNames(paths []string) []string {
	names := []string{}
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	sort.Strings(names)
	return names
}

func TestREADMEListsEveryExercise(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(exercisesDir, "README.md"))
	require.NoError(t, err)
	for _, ex := range exercises(t) {
		assert.True(t, strings.Contains(string(readme), "`"+ex+"`"),
			"exercises/README.md must list %s in its table (its place there is its place in the progress table)", ex)
	}
}

// testCommand is how GitHub Classroom grades one exercise.
func testCommand(ex string) string { return "cd exercises && go test ./" + ex + "/" }

var commandPattern = regexp.MustCompile(`cd exercises && go test \./[^ "\n]*`)

func TestClassroomGradesEveryExercise(t *testing.T) {
	var want []string
	for _, ex := range exercises(t) {
		want = append(want, testCommand(ex))
	}
	regenerate := "regenerate it: cd exercises && go generate ./progress"

	b, err := os.ReadFile(filepath.Join(repoRoot, ".github", "classroom", "autograding.json"))
	require.NoError(t, err, regenerate)
	var cfg struct {
		Tests []struct {
			Name   string
			Run    string
			Points int
		}
	}
	require.NoError(t, json.Unmarshal(b, &cfg), "autograding.json must be valid JSON")
	var got []string
	for _, test := range cfg.Tests {
		got = append(got, test.Run)
		assert.Positive(t, test.Points, "%s must award points", test.Name)
	}
	assert.ElementsMatch(t, want, got, "autograding.json must grade exactly the exercises there are; %s", regenerate)

	yml, err := os.ReadFile(filepath.Join(repoRoot, ".github", "workflows", "classroom.yml"))
	require.NoError(t, err, regenerate)
	assert.ElementsMatch(t, want, commandPattern.FindAllString(string(yml), -1),
		"classroom.yml must grade exactly the exercises there are; %s", regenerate)
}

// testEvent is one line of `go test -json`.
type testEvent struct {
	Action      string
	Package     string
	Test        string
	Output      string
	ImportPath  string
	FailedBuild string
}

// TestStubsCompileAndFail runs `go vet` and `go test -json` once each over every
// exercise package, and checks that each stub compiles and fails its tests with a
// TODO message. (The solutions' tests are run by the root `go test ./...`: they are
// in this module.)
func TestStubsCompileAndFail(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: it runs go vet and go test over every exercise stub (tens of seconds)")
	}
	list := exercises(t)
	var pkgs []string
	for _, ex := range list {
		pkgs = append(pkgs, "./"+ex+"/")
	}

	start := time.Now()
	vet := exec.Command("go", append([]string{"vet"}, "./...")...)
	vet.Dir = exercisesDir
	out, err := vet.CombinedOutput()
	require.NoError(t, err, "go vet ./... in exercises/ must pass: every stub must compile\n%s", out)
	t.Logf("go vet ./... in exercises/: %v", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	cmd := exec.Command("go", append([]string{"test", "-count=1", "-json", "-timeout=5m"}, pkgs...)...)
	cmd.Dir = exercisesDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, _ := cmd.Output() // failing is what we expect; the events say how
	t.Logf("go test -json over %d stubs: %v", len(list), time.Since(start).Round(time.Millisecond))

	type pkgResult struct {
		action      string
		failedBuild bool
		failedTests []string
		output      strings.Builder
	}
	results := map[string]*pkgResult{}
	get := func(path string) *pkgResult {
		path, _, _ = strings.Cut(path, " ") // build events say "path [path.test]"
		if results[path] == nil {
			results[path] = &pkgResult{}
		}
		return results[path]
	}
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		var ev testEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		switch {
		case ev.Action == "build-fail" || ev.Action == "build-output":
			r := get(ev.ImportPath)
			r.failedBuild = r.failedBuild || ev.Action == "build-fail"
			r.output.WriteString(ev.Output)
		case ev.Package == "":
		case ev.Action == "output":
			get(ev.Package).output.WriteString(ev.Output)
		case ev.Test == "" && (ev.Action == "pass" || ev.Action == "fail" || ev.Action == "skip"):
			r := get(ev.Package)
			r.action = ev.Action
			r.failedBuild = r.failedBuild || ev.FailedBuild != ""
		case ev.Test != "" && ev.Action == "fail":
			r := get(ev.Package)
			r.failedTests = append(r.failedTests, ev.Test)
		}
	}
	require.NoError(t, sc.Err())

	for _, ex := range list {
		t.Run(ex, func(t *testing.T) {
			r := results[exercisesModule+"/"+ex]
			require.NotNil(t, r, "go test printed no result for %s\nstderr:\n%s", ex, stderr.String())
			require.False(t, r.failedBuild, "the stub's tests of %s must compile:\n%s", ex, r.output.String())
			assert.Equal(t, "fail", r.action, "the stub of %s must fail its tests (it passed or was skipped)", ex)
			assert.NotEmpty(t, r.failedTests, "the stub of %s must fail at least one test, not only the package (a leak or a crash)", ex)
			assert.Contains(t, r.output.String(), "TODO: ",
				"the stub of %s must fail with its \"TODO: implement ...\" error, so that the learner (and the progress command) see what to do", ex)
			assert.NotContains(t, r.output.String(), "panic: ", "a stub must never panic")
			assert.NotContains(t, r.output.String(), "leaked: ", "a stub must never leak")
		})
	}
}
