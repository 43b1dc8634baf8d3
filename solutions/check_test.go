//go:build linux

// The course's own check of its exercises (see exercises/README.md). For every
// exercise directory exercises/NN-lesson/NAME it verifies that:
//
//   - README.md and HINTS.md are there;
//   - it is in the shipped manifest, exercises/progress/shipped/ (written by
//     `cd exercises && go generate ./progress`): its stub as shipped and the
//     checksum of every Go file;
//   - the reference solution is at solutions/NN-lesson/NAME with byte-identical
//     copies of the exercise's shipped _test.go files (the root `go test ./...` runs
//     them against the solution, so the solution passes the very tests the learner
//     gets);
//   - the stub as shipped compiles (`go vet`) and fails its tests with at least one
//     failing test, a "TODO: " message and no build error;
//   - exercises/README.md and the GitHub Classroom grading (exercises/progress/classroom/)
//     list it, in the same order.
//
// It checks the exercises as shipped, not the learner's copies: a learner who edits,
// solves or deletes a stub (or a test) in exercises/ keeps this check green, and
// `go test -v ./solutions/` names the files it left alone. The go command's -overlay
// flag builds each exercise package with its shipped files in place of the working
// copies. That the manifest itself is up to date (what a course author must
// regenerate after changing an exercise) is checked by CI (.ci/run), which runs
// `go generate ./progress` in a fresh clone and fails on any difference.
//
// This package must not use ipctest.Main: that takes the course's test lock, and the
// nested `go test` runs below need the same lock for the exercise packages.
package solutions_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
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
	shippedDir   = "../exercises/progress/shipped"
	// The Classroom grading of every exercise: `progress export` puts it in a
	// student repository's .github/.
	classroomDir = "../exercises/progress/classroom"
)

const regenerate = "regenerate it: cd exercises && go generate ./progress"

var (
	lessonDir   = regexp.MustCompile(`^[0-9][0-9]-[a-z0-9-]+$`)
	exerciseDir = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	mention     = regexp.MustCompile(`\b([0-9][0-9]-[a-z0-9-]+/[a-z][a-z0-9_]*)\b`)
)

// exercises lists "NN-lesson/NAME" for every exercise: every directory that the
// exercises/progress command counts as one (a NN-lesson/NAME directory with a _test.go
// file), and every directory that is in the shipped manifest even if its tests were
// deleted. A shipped exercise whose directory is gone is left out, with a note.
func exercises(t *testing.T) []string {
	t.Helper()
	lessons, err := os.ReadDir(exercisesDir)
	require.NoError(t, err)
	found := map[string]bool{}
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
				found[l.Name()+"/"+n.Name()] = true
			}
		}
	}
	for name := range readManifest(t) {
		ex := filepath.Dir(name)
		if info, err := os.Stat(filepath.Join(exercisesDir, ex)); err == nil && info.IsDir() {
			found[ex] = true
		} else if !found[ex] {
			t.Logf("note: the shipped exercise %s is missing from exercises/; left out", ex)
		}
	}
	var list []string
	for ex := range found {
		list = append(list, ex)
	}
	sort.Strings(list)
	require.NotEmpty(t, list, "no exercises found under %s", exercisesDir)
	return list
}

// manifest is exercises/progress/shipped: the checksum of every Go file of every
// exercise as shipped ("NN-lesson/NAME/FILE.go" -> hex SHA-256), and each stub file
// as shipped in FILE.go.txt.
type manifest map[string]string

func readManifest(t *testing.T) manifest {
	t.Helper()
	f, err := os.Open(filepath.Join(shippedDir, "SHA256SUMS"))
	require.NoError(t, err, "the shipped manifest is missing: %s", regenerate)
	defer f.Close()
	m := manifest{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		require.True(t, ok, "SHA256SUMS: bad line %q", sc.Text())
		m[name] = sum
	}
	require.NoError(t, sc.Err())
	return m
}

// files returns the shipped Go files of exercise ex, by base name.
func (m manifest) files(ex string) map[string]string {
	files := map[string]string{}
	for name, sum := range m {
		if filepath.Dir(name) == ex {
			files[filepath.Base(name)] = sum
		}
	}
	return files
}

// stubCopy is where the shipped copy of a stub file is kept.
func stubCopy(ex, file string) string {
	return filepath.Join(shippedDir, ex, file+".txt")
}

func isTest(file string) bool { return strings.HasSuffix(file, "_test.go") }

func checksum(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// fileSum is the checksum of a file, "" if it does not exist.
func fileSum(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	require.NoError(t, err)
	return checksum(b)
}

func TestEveryExerciseHasItsFilesAndSolution(t *testing.T) {
	m := readManifest(t)
	list := exercises(t)
	for _, ex := range list {
		assert.NotEmpty(t, m.files(ex), "exercises/%s is not in the shipped manifest: %s", ex, regenerate)
	}

	for _, ex := range list {
		t.Run(ex, func(t *testing.T) {
			dir := filepath.Join(exercisesDir, ex)
			for _, doc := range []string{"README.md", "HINTS.md"} {
				b, err := os.ReadFile(filepath.Join(dir, doc))
				if assert.NoError(t, err, "every exercise needs a %s", doc) {
					assert.NotEmpty(t, bytes.TrimSpace(b), "%s/%s is empty", ex, doc)
				}
			}
			readme, _ := os.ReadFile(filepath.Join(dir, "README.md"))
			assert.True(t, strings.HasPrefix(string(readme), "# "+ex+": "), "README.md starts with its title, \"# %s: what it is about\"", ex)
			assert.Regexp(t, `(?m)^\*\*Level:\*\* (easy|easy to medium|medium|hard)\b`, string(readme),
				"README.md gives the exercise's level in a paragraph of its own: **Level:** easy, easy to medium, medium or hard (exercises/TEACHERS.md lists them too)")
			hints, _ := os.ReadFile(filepath.Join(dir, "HINTS.md"))
			assert.Contains(t, string(hints), "## Hint 1", "HINTS.md gives graded hints, \"## Hint 1\" first (progress hint shows them one at a time)")

			files := m.files(ex)
			var tests, stubs []string
			for file, sum := range files {
				if isTest(file) {
					tests = append(tests, file)
					continue
				}
				stubs = append(stubs, file)
				b, err := os.ReadFile(stubCopy(ex, file))
				if assert.NoError(t, err, "the shipped copy of %s/%s: %s", ex, file, regenerate) {
					assert.Equal(t, sum, checksum(b), "the shipped copy of %s/%s does not match SHA256SUMS: %s", ex, file, regenerate)
				}
			}
			sort.Strings(tests)
			require.NotEmpty(t, tests, "the manifest has no tests for %s: %s", ex, regenerate)
			var todo bool
			for _, file := range stubs {
				b, _ := os.ReadFile(stubCopy(ex, file))
				todo = todo || bytes.Contains(b, []byte("TODO: "))
			}
			assert.True(t, todo, "the shipped stub of %s must return errors that start with \"TODO: \"", ex)

			// The solution holds the shipped tests, byte for byte, and nothing else.
			sol := filepath.Join(solutionsDir, ex)
			solFiles, err := filepath.Glob(filepath.Join(sol, "*.go"))
			require.NoError(t, err)
			require.NotEmpty(t, solFiles, "the reference solution of %s must be in solutions/%s", ex, ex)
			solTests, _ := filepath.Glob(filepath.Join(sol, "*_test.go"))
			assert.Equal(t, tests, baseNames(solTests),
				"solutions/%s must hold a copy of each test file of exercises/%s as shipped, and no other", ex, ex)
			for _, file := range tests {
				assert.Equal(t, files[file], fileSum(t, filepath.Join(sol, file)),
					"solutions/%s/%s differs from the exercise's shipped test: copy it (cp exercises/%s/%s solutions/%s/), never edit the copy; if you changed the exercise's test, %s",
					ex, file, ex, file, ex, regenerate)
			}

			// The learner's working copies are theirs: say what differs, check nothing.
			names := make([]string, 0, len(files))
			for file := range files {
				names = append(names, file)
			}
			sort.Strings(names)
			for _, file := range names {
				putBack := "go run ./progress reset " + ex + " puts it back"
				if isTest(file) {
					putBack = "git checkout restores it"
				}
				switch got := fileSum(t, filepath.Join(dir, file)); {
				case got == "":
					t.Logf("note: exercises/%s/%s is missing; checked the shipped one (%s)", ex, file, putBack)
				case got != files[file]:
					t.Logf("note: exercises/%s/%s is not as shipped: yours, left alone; checked the shipped one", ex, file)
				}
			}
			onDisk, _ := filepath.Glob(filepath.Join(dir, "*.go"))
			for _, f := range onDisk {
				if _, ok := files[filepath.Base(f)]; !ok {
					t.Logf("note: exercises/%s/%s is yours, not shipped: left out of the check", ex, filepath.Base(f))
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

// readmeOrder is the order of the exercises: the order in which exercises/README.md
// first mentions them (its table), which is also the order of the progress table.
func readmeOrder(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(exercisesDir, "README.md"))
	require.NoError(t, err)
	exists := map[string]bool{}
	for _, ex := range exercises(t) {
		exists[ex] = true
	}
	var order []string
	seen := map[string]bool{}
	for _, m := range mention.FindAllStringSubmatch(string(readme), -1) {
		if ex := m[1]; exists[ex] && !seen[ex] {
			seen[ex] = true
			order = append(order, ex)
		}
	}
	return order
}

func TestREADMEListsEveryExercise(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(exercisesDir, "README.md"))
	require.NoError(t, err)
	for _, ex := range exercises(t) {
		assert.True(t, strings.Contains(string(readme), "`"+ex+"`"),
			"exercises/README.md must list %s in its table (its place there is its place in the progress table)", ex)
	}
	order := readmeOrder(t)
	assert.True(t, sort.SliceIsSorted(order, func(i, j int) bool {
		return strings.SplitN(order[i], "/", 2)[0] < strings.SplitN(order[j], "/", 2)[0]
	}), "exercises/README.md must list the exercises lesson by lesson: %v", order)
}

// testCommand is how GitHub Classroom grades one exercise: as root (sudo), so that
// no test is skipped for want of it, within a time limit.
func testCommand(ex string) string {
	return "cd exercises && go test -timeout=2m -exec sudo ./" + ex + "/"
}

var commandPattern = regexp.MustCompile(`cd exercises && go test (-timeout=\S+ )?(-exec sudo )?\./[^ "\n]*`)

func TestClassroomGradesEveryExercise(t *testing.T) {
	var want []string
	for _, ex := range readmeOrder(t) {
		want = append(want, testCommand(ex))
	}

	b, err := os.ReadFile(filepath.Join(classroomDir, "autograding.json"))
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
		got = append(got, commandPattern.FindString(test.Run))
		assert.Positive(t, test.Points, "%s must award points", test.Name)
	}
	assert.Equal(t, want, got, "autograding.json must grade exactly the exercises there are, in the order of exercises/README.md; %s", regenerate)

	yml, err := os.ReadFile(filepath.Join(classroomDir, "classroom.yml"))
	require.NoError(t, err, regenerate)
	assert.Equal(t, want, commandPattern.FindAllString(string(yml), -1),
		"classroom.yml must grade exactly the exercises there are, in the order of exercises/README.md; %s", regenerate)
}

// overlay writes a `go build -overlay` file that puts every exercise as shipped in
// place of the working copies: the shipped stub files, the shipped tests (from the
// solutions, which hold identical copies) where the learner changed them, and no
// Go file the learner added.
func overlay(t *testing.T, m manifest, list []string) string {
	t.Helper()
	replace := map[string]string{}
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		require.NoError(t, err)
		return a
	}
	for _, ex := range list {
		files := m.files(ex)
		for file, sum := range files {
			target := filepath.Join(exercisesDir, ex, file)
			switch {
			case !isTest(file):
				replace[abs(target)] = abs(stubCopy(ex, file))
			case fileSum(t, target) != sum:
				replace[abs(target)] = abs(filepath.Join(solutionsDir, ex, file))
			}
		}
		onDisk, err := filepath.Glob(filepath.Join(exercisesDir, ex, "*.go"))
		require.NoError(t, err)
		for _, f := range onDisk {
			if _, shipped := files[filepath.Base(f)]; !shipped {
				replace[abs(f)] = "" // added by the learner: as if absent
			}
		}
	}
	b, err := json.Marshal(map[string]any{"Replace": replace})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "overlay.json")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return path
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
// exercise package as shipped (at the same time: they do not depend on each other),
// and checks that each stub compiles and fails its tests with a TODO message. (The
// solutions' tests are run by the root `go test ./...`: they are in this module.)
func TestStubsCompileAndFail(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: it runs go vet and go test over every exercise stub (several seconds)")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on the PATH (go test -exec sudo runs the tests with sudo's PATH): this test runs go vet and go test; run it as yourself, go test ./solutions/, or as root with sudo env \"PATH=$PATH\" go test ./solutions/")
	}
	m := readManifest(t)
	list := exercises(t)
	over := overlay(t, m, list)
	var pkgs []string
	for _, ex := range list {
		pkgs = append(pkgs, "./"+ex+"/")
	}

	var wg sync.WaitGroup
	var vetOut []byte
	var vetErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		vet := exec.Command("go", append([]string{"vet", "-overlay", over}, pkgs...)...)
		vet.Dir = exercisesDir
		vetOut, vetErr = vet.CombinedOutput()
		t.Logf("go vet over %d stubs: %v", len(list), time.Since(start).Round(time.Millisecond))
	}()

	start := time.Now()
	// -vet=off: the go vet above runs every analyzer, go test's own would repeat a few.
	cmd := exec.Command("go", append([]string{"test", "-overlay", over, "-vet=off", "-count=1", "-json", "-timeout=5m"}, pkgs...)...)
	cmd.Dir = exercisesDir
	// The output goes to a file, not a pipe: should this test be killed (its
	// time-out), a stub's test writing to a pipe nobody reads would die of SIGPIPE
	// half-way and leave its segments behind.
	dir := t.TempDir()
	outFile, err := os.Create(filepath.Join(dir, "go-test.json"))
	require.NoError(t, err)
	defer outFile.Close()
	errFile, err := os.Create(filepath.Join(dir, "go-test.stderr"))
	require.NoError(t, err)
	defer errFile.Close()
	cmd.Stdout, cmd.Stderr = outFile, errFile
	_ = cmd.Run() // failing is what we expect; the events say how
	stdout, err := os.ReadFile(outFile.Name())
	require.NoError(t, err)
	stderr, err := os.ReadFile(errFile.Name())
	require.NoError(t, err)
	t.Logf("go test -json over %d stubs: %v", len(list), time.Since(start).Round(time.Millisecond))
	wg.Wait()
	require.NoError(t, vetErr, "go vet in exercises/ must pass on every stub as shipped\n%s", vetOut)

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
			require.NotNil(t, r, "go test printed no result for %s\nstderr:\n%s", ex, stderr)
			require.False(t, r.failedBuild, "the stub's tests of %s must compile:\n%s", ex, r.output.String())
			assert.Equal(t, "fail", r.action, "the shipped stub of %s must fail its tests (it passed or was skipped)", ex)
			assert.NotEmpty(t, r.failedTests, "the stub of %s must fail at least one test, not only the package (a leak or a crash)", ex)
			assert.Contains(t, r.output.String(), "TODO: ",
				"the stub of %s must fail with its \"TODO: implement ...\" error, so that the learner (and the progress command) see what to do", ex)
			assert.NotContains(t, r.output.String(), "panic: ", "a stub must never panic")
			assert.NotContains(t, r.output.String(), "leaked: ", "a stub must never leak")
		})
	}
}

// TestLearnersEditsKeepTheCheckGreen is the promise above, run for real: in a copy of
// the course, a learner edits one stub, solves another (the reference solution copied
// in), deletes a third and adds a file of their own; this package's check must still
// pass there, and name what it left alone. It takes a copy and a nested go test of
// every stub (about ten seconds), so it runs where SHMCOURSE_LEARNER_EDITS_TEST=1 is
// set, as CI (.ci/run) does.
func TestLearnersEditsKeepTheCheckGreen(t *testing.T) {
	if os.Getenv("SHMCOURSE_LEARNER_EDITS_TEST") != "1" {
		t.Skip("set SHMCOURSE_LEARNER_EDITS_TEST=1 to run it (CI does): it copies the course and runs this check again there")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not on the PATH: it lists the files to copy")
	}
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	require.NoError(t, err, "git ls-files")
	copyDir := t.TempDir()
	for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		b, err := os.ReadFile(filepath.Join(root, f))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in this working copy
		}
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Join(copyDir, filepath.Dir(f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(copyDir, f), b, 0o644))
	}
	ex := filepath.Join(copyDir, "exercises")
	// Edited: a learner's half-done work.
	edited := filepath.Join(ex, "01-ftok", "keyparts", "keyparts.go")
	b, err := os.ReadFile(edited)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(edited, append(b, []byte("\n// my notes: the proj id is the top byte\n")...), 0o644))
	// Solved: the reference solution in place of the stub.
	sol, err := os.ReadFile(filepath.Join(copyDir, "solutions", "01-ftok", "collide", "collide.go"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(ex, "01-ftok", "collide", "collide.go"), sol, 0o644))
	// Deleted, and a file of the learner's own added.
	require.NoError(t, os.Remove(filepath.Join(ex, "04-shmdt", "orphans", "orphans.go")))
	require.NoError(t, os.WriteFile(filepath.Join(ex, "02-shmget", "perms", "scratch.go"), []byte("package perms\n\nfunc scratch() {}\n"), 0o644))

	cmd := exec.Command("go", "test", "-count=1", "-v", "-run", "TestStubsCompileAndFail|TestEveryExerciseHasItsFilesAndSolution", "./solutions/")
	cmd.Dir = copyDir
	cmd.Env = append(os.Environ(), "SHMCOURSE_LEARNER_EDITS_TEST=0")
	got, err := cmd.CombinedOutput()
	require.NoError(t, err, "the check must stay green while a learner works:\n%s", got)
	for _, f := range []string{"01-ftok/keyparts/keyparts.go", "01-ftok/collide/collide.go", "04-shmdt/orphans/orphans.go", "02-shmget/perms/scratch.go"} {
		assert.Contains(t, string(got), f, "go test -v ./solutions/ names the file it left alone")
	}
}
