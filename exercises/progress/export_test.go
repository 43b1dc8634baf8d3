package main

import (
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestForStudents(t *testing.T) {
	in := "# Course\n\nFor everyone.\n\n<!-- course-only -->\nThe [solutions](solutions/).\n<!-- /course-only -->\n\n" +
		"<!-- student-only\nYour teacher grades the exercises.\n-->\nEnd, <!-- course-only -->with a [link](solutions/)<!-- /course-only --> inline.\n"
	want := "# Course\n\nFor everyone.\n\nYour teacher grades the exercises.\nEnd,  inline.\n"
	assert.Equal(t, want, string(ForStudents([]byte(in))))
}

// files lists every file under dir, slash-separated.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var list []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			list = append(list, filepath.ToSlash(rel))
		}
		return err
	}))
	sort.Strings(list)
	return list
}

func TestExportSmallCourse(t *testing.T) {
	repo := t.TempDir()
	root := filepath.Join(repo, "exercises")
	list := smallCourse(t, root)
	writeTree(t, repo, map[string]string{
		"go.mod":                          "module github.com/learn-sysv/shm-course\n\ngo 1.22\n",
		"README.md":                       "# Course\n\n<!-- course-only -->\n[solutions](solutions/)\n<!-- /course-only -->\n",
		"01-a/main.go":                    "package main\n\nfunc main() {}\n",
		"internal/x/x.go":                 "package x\n",
		"solutions/01-x/first/first.go":   solutionOf("first"),
		".ci/run":                         "#!/bin/sh\n",
		".github/workflows/ci.yml":        "name: the course's CI\n",
		".github/workflows/classroom.yml": "old\n",
		"scratch.txt":                     "not part of the course\n",
		"exercises/TEACHERS.md":           "# For teachers\n",
		"exercises/.gitignore":            ".progress.json\n",
		"exercises/.progress.json":        "{}\n",
		"exercises/progress/classroom/classroom.yml": "the course's copy, for every exercise\n",
		"exercises/01-x/first/first.go":              solutionOf("first"), // the teacher solved it in their copy
	})
	out := filepath.Join(t.TempDir(), "student")
	done, err := Export(root, list, out, ExportOptions{})
	require.NoError(t, err)

	want := []string{
		".github/classroom/SHA256SUMS",
		".github/classroom/autograding.json",
		".github/classroom/unchanged",
		".github/workflows/classroom.yml",
		"01-a/main.go",
		"README.md",
		"exercises/.gitignore",
		"exercises/01-x/first/HINTS.md",
		"exercises/01-x/first/README.md",
		"exercises/01-x/first/first.go",
		"exercises/01-x/first/first_test.go",
		"exercises/01-x/second/HINTS.md",
		"exercises/01-x/second/README.md",
		"exercises/01-x/second/second.go",
		"exercises/01-x/second/second_test.go",
		"exercises/README.md",
		"exercises/go.mod",
		"exercises/progress/shipped/01-x/first/first.go.txt",
		"exercises/progress/shipped/01-x/second/second.go.txt",
		"exercises/progress/shipped/SHA256SUMS",
		"go.mod",
		"internal/x/x.go",
	}
	assert.Equal(t, want, files(t, out), "the lessons, internal/, the exercises, progress and the Classroom grading; no solutions, no course CI, no teacher's guide, no state")
	assert.Equal(t, len(want), done.Files)
	assert.Empty(t, done.LeftOut)

	stub, err := os.ReadFile(filepath.Join(out, "exercises", "01-x", "first", "first.go"))
	require.NoError(t, err)
	assert.Equal(t, stubOf("first"), string(stub), "the stub as shipped, not the teacher's solved copy")
	readme, err := os.ReadFile(filepath.Join(out, "README.md"))
	require.NoError(t, err)
	assert.Equal(t, "# Course\n\n", string(readme), "the course-only parts are left out")
	yml, err := os.ReadFile(filepath.Join(out, ".github", "workflows", "classroom.yml"))
	require.NoError(t, err)
	assert.Contains(t, string(yml), "command: sh .github/classroom/unchanged 01-x/second && cd exercises && go test -timeout=2m -exec sudo ./01-x/second/", "the grading is generated for the exported exercises")
	sums, err := os.ReadFile(filepath.Join(out, ".github", "classroom", "SHA256SUMS"))
	require.NoError(t, err)
	assert.Equal(t, Checksum([]byte(testOf("first")))+"  exercises/01-x/first/first_test.go\n"+
		Checksum([]byte(testOf("second")))+"  exercises/01-x/second/second_test.go\n"+
		Checksum([]byte("package x\n"))+"  internal/x/x.go\n", string(sums), "the checksums of the tests and of internal/, not of the stubs")
	checkUnchanged(t, out, "01-x/first")

	_, err = Export(root, list, out, ExportOptions{})
	assert.ErrorContains(t, err, "is not empty", "export never writes into an existing repository")

	writeTree(t, root, map[string]string{"01-x/second/second_test.go": "package second\n"})
	_, err = Export(root, list, filepath.Join(t.TempDir(), "again"), ExportOptions{})
	assert.ErrorContains(t, err, "exercises/01-x/second/second_test.go is not the shipped test",
		"a changed test would grade students differently from the course's check")
}

// checkUnchanged runs the grading's check of exercise ex in the student repository
// dir: it passes as exported, and fails for an edited test or an edited internal/
// file, but not for an edited stub.
func checkUnchanged(t *testing.T, dir, ex string) {
	t.Helper()
	unchanged := func() (string, error) {
		cmd := exec.Command("sh", ".github/classroom/unchanged", ex)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	edit := func(f string) (restore func()) {
		p := filepath.Join(dir, filepath.FromSlash(f))
		old, err := os.ReadFile(p)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, append(old, "// edited\n"...), 0o644))
		return func() { require.NoError(t, os.WriteFile(p, old, 0o644)) }
	}
	out, err := unchanged()
	require.NoError(t, err, "the tests as exported pass the check:\n%s", out)
	assert.Empty(t, out)

	name := path.Base(ex)
	restore := edit("exercises/" + ex + "/" + name + ".go")
	out, err = unchanged()
	assert.NoError(t, err, "the stub is the student's to edit:\n%s", out)
	restore()

	for _, f := range []string{"exercises/" + ex + "/" + name + "_test.go", "internal/x/x.go"} {
		restore := edit(f)
		out, err := unchanged()
		assert.Error(t, err, "an edited %s fails the check", f)
		assert.Contains(t, out, f+": FAILED")
		assert.Contains(t, out, "grading runs only the tests as they were handed out")
		restore()
	}
}

// git runs git in dir, failing the test if it fails.
func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=Teacher", "-c", "user.email=teacher@example.com", "-c", "init.defaultBranch=main"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %s:\n%s", strings.Join(args, " "), out)
}

// In a git checkout, export hands out only what git tracks, and in an exercise
// directory only the exercise's own files: a teacher's scratch files, backups and a
// solution copied next to its stub stay out, whatever git says of them. A solution's
// code anywhere else is refused.
func TestExportOnlyTracked(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	repo := t.TempDir()
	root := filepath.Join(repo, "exercises")
	list := smallCourse(t, root)
	writeTree(t, repo, map[string]string{
		"go.mod":                         "module github.com/learn-sysv/shm-course\n\ngo 1.22\n",
		"01-a/main.go":                   "package main\n\nfunc main() {}\n",
		"solutions/01-x/first/first.go":  solutionOf("first"),
		"exercises/01-x/first/notes.txt": "the teacher's notes, tracked by mistake\n",
	})
	git(t, repo, "init", "-q")
	git(t, repo, "add", ".")
	git(t, repo, "commit", "-q", "-m", "the course")
	writeTree(t, repo, map[string]string{ // untracked
		"scratch.txt":                        "not part of the course\n",
		"01-a/junk.go":                       "package main\n",
		"exercises/01-x/first/first.go.orig": solutionOf("first"),
		"exercises/01-x/second/answer.txt":   solutionOf("second"),
		"internal/x/x.go":                    "package x\n",
	})

	out := filepath.Join(t.TempDir(), "student")
	done, err := Export(root, list, out, ExportOptions{})
	require.NoError(t, err)
	got := files(t, out)
	for _, f := range []string{"scratch.txt", "01-a/junk.go", "exercises/01-x/first/first.go.orig", "exercises/01-x/second/answer.txt", "internal/x/x.go", "exercises/01-x/first/notes.txt"} {
		assert.NotContains(t, got, f, "only the files git tracks go out, and in an exercise directory only the exercise's own")
	}
	assert.Contains(t, got, "01-a/main.go")
	assert.Contains(t, got, "exercises/01-x/first/first_test.go")
	assert.Equal(t, []string{"exercises/01-x/first/notes.txt"}, done.LeftOut, "export names a tracked file it leaves out of an exercise")
	assert.Equal(t, done.Files, len(got))

	// A solution copied into a lesson and committed: the export is refused.
	writeTree(t, repo, map[string]string{"01-a/answer.go": strings.Replace(solutionOf("first"), "\t", "    ", -1)})
	git(t, repo, "add", "01-a/answer.go")
	_, err = Export(root, list, filepath.Join(t.TempDir(), "again"), ExportOptions{})
	assert.ErrorContains(t, err, "01-a/answer.go holds the code of a reference solution (solutions/01-x/first/first.go: func Answer)",
		"a solution's code, spaced otherwise, is found wherever it is")

	// A new exercise directory that git does not track yet cannot go out half.
	git(t, repo, "rm", "-q", "--cached", "01-a/answer.go", "exercises/01-x/second/HINTS.md")
	_, err = Export(root, list, filepath.Join(t.TempDir(), "half"), ExportOptions{})
	assert.ErrorContains(t, err, "exercises/01-x/second/HINTS.md is not in git")
}

// export DIR NAME...: only some exercises (and all the lessons), with the table of
// exercises/README.md, the shipped manifest and the grading cut to them; an exercise
// that links to one left out (it builds on it) refuses. -no-last-hint drops each
// exercise's last hint, and then the hints left must not hold a solution either.
func TestExportSome(t *testing.T) {
	repo := t.TempDir()
	root := filepath.Join(repo, "exercises")
	list := smallCourse(t, root)
	writeTree(t, repo, map[string]string{
		"go.mod":                        "module github.com/learn-sysv/shm-course\n\ngo 1.22\n",
		"solutions/01-x/first/first.go": solutionOf("first"),
		"exercises/README.md": "# Exercises\n\n| # | exercise |\n|---|---|\n" +
			"| 1 | [`01-x/first`](01-x/first/) |\n| 2 | [`01-x/second`](01-x/second/) |\n\nThe end.\n",
		"exercises/01-x/second/README.md": "# second\n\nDo [`01-x/first`](../first/) first.\n",
	})
	second, err := Select(list, []string{"second"})
	require.NoError(t, err)
	require.Equal(t, []Exercise{{"01-x", "second"}}, second)

	_, err = Export(root, list, filepath.Join(t.TempDir(), "refused"), ExportOptions{Only: second})
	assert.ErrorContains(t, err, "exercises/01-x/second/README.md links to 01-x/first, which is not exported: export it too")

	writeTree(t, repo, map[string]string{"exercises/01-x/second/README.md": "# second\n\nWrite Answer.\n"})
	out := filepath.Join(t.TempDir(), "student")
	done, err := Export(root, list, out, ExportOptions{Only: second, NoLastHint: true})
	require.NoError(t, err)
	assert.Equal(t, 1, done.Exercises)
	assert.Empty(t, done.LeftOut, "an exercise not chosen is left out on purpose, not named")
	got := files(t, out)
	assert.NotContains(t, got, "exercises/01-x/first/first_test.go")
	assert.NotContains(t, got, "exercises/progress/shipped/01-x/first/first.go.txt")
	assert.Contains(t, got, "exercises/01-x/second/second_test.go")
	read := func(f string) string {
		b, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(f)))
		require.NoError(t, err)
		return string(b)
	}
	assert.Equal(t, "# Exercises\n\n| # | exercise |\n|---|---|\n| 1 | [`01-x/second`](01-x/second/) |\n\nThe end.\n", read("exercises/README.md"),
		"the table lists the exercises handed out, numbered again")
	assert.NotContains(t, read("exercises/progress/shipped/SHA256SUMS"), "01-x/first/")
	assert.Contains(t, read("exercises/progress/shipped/SHA256SUMS"), "01-x/second/second.go\n")
	assert.NotContains(t, read(".github/workflows/classroom.yml"), "01-x/first")
	assert.Equal(t, "# Hints\n\nRead one at a time.\n\n## Hint 1\n\nThink of a number.\n", read("exercises/01-x/second/HINTS.md"),
		"-no-last-hint: the last hint, nearly the answer, is left out")

	writeTree(t, repo, map[string]string{"exercises/01-x/second/HINTS.md": "## Hint 1\n\n" + solutionOf("first") + "\n## Hint 2\n\nEnough.\n"})
	_, err = Export(root, list, filepath.Join(t.TempDir(), "hinted"), ExportOptions{Only: second, NoLastHint: true})
	assert.ErrorContains(t, err, "exercises/01-x/second/HINTS.md holds the code of a reference solution", "with -no-last-hint, the hints left must not give the answer")
	_, err = Export(root, list, filepath.Join(t.TempDir(), "hinted"), ExportOptions{Only: second})
	assert.NoError(t, err, "without it, the hints are the course's to write")
}

func TestSelect(t *testing.T) {
	list := []Exercise{{"01-ftok", "keyparts"}, {"01-ftok", "collide"}, {"02-shmget", "perms"}, {"05-shmctl", "cleaner"}}
	got, err := Select(list, []string{"cleaner", "01-ftok/", "02-shmget/perms", "collide"})
	require.NoError(t, err)
	assert.Equal(t, []Exercise{{"01-ftok", "keyparts"}, {"01-ftok", "collide"}, {"02-shmget", "perms"}, {"05-shmctl", "cleaner"}}, got,
		"a lesson names its exercises; the order is the course's; twice is once")
	_, err = Select(list, []string{"03-shmat"})
	assert.ErrorContains(t, err, `no exercise is called "03-shmat"`)
}

func TestWithoutLastHint(t *testing.T) {
	assert.Equal(t, "# Hints\n\n## Hint 1\n\nA.\n", string(WithoutLastHint([]byte("# Hints\n\n## Hint 1\n\nA.\n\n## Hint 2 (nearly the answer)\n\nB.\n"))))
	one := "## Hint 1\n\nThe only one.\n"
	assert.Equal(t, one, string(WithoutLastHint([]byte(one))), "a single hint stays")
}

// envExportTest turns on TestExportedCourse, which builds and tests a whole exported
// repository (a minute of CPU): CI sets it (.ci/run).
const envExportTest = "PROGRESS_EXPORT_TEST"

// The course itself, exported: it builds, every stub fails its tests, the reference
// solutions copied into it pass them, and no link in its Markdown points to a file
// that was left out.
func TestExportedCourse(t *testing.T) {
	if os.Getenv(envExportTest) != "1" {
		t.Skipf("builds and tests a whole exported course (a minute of CPU): %s=1 runs it (CI does)", envExportTest)
	}
	needGo(t)
	list, err := Discover("..")
	require.NoError(t, err)
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "student")
	_, err = Export(root, list, out, ExportOptions{})
	require.NoError(t, err)

	assert.NoDirExists(t, filepath.Join(out, "solutions"))
	assert.NoFileExists(t, filepath.Join(out, "exercises", "TEACHERS.md"))
	checkLinks(t, out)

	goCmd := func(dir string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = filepath.Join(out, dir)
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %s in %s:\n%s", strings.Join(args, " "), dir, b)
		return b
	}
	goCmd(".", "vet", "./...")
	goCmd("exercises", "vet", "./...")

	grade := func() Report {
		// RunTests writes the tests' output to files: should this test be killed
		// (its time-out), they still run to their end and remove their segments.
		rep, _, err := RunTests(filepath.Join(out, "exercises"), list, nil, io.Discard, os.Stderr)
		require.NoError(t, err)
		return rep
	}
	for _, r := range grade().Exercises {
		assert.Equal(t, NotStarted, r.Status, "the exported stub of %s must fail its tests with its TODO: %s", r.Path, r.Detail)
	}

	for _, e := range list {
		sols, err := filepath.Glob(filepath.Join(root, "..", "solutions", filepath.FromSlash(e.Path()), "*.go"))
		require.NoError(t, err)
		for _, f := range sols {
			if IsStubFile(filepath.Base(f)) {
				b, err := os.ReadFile(f)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(filepath.Join(out, "exercises", filepath.FromSlash(e.Path()), filepath.Base(f)), b, 0o644))
			}
		}
	}
	for _, r := range grade().Exercises {
		assert.Equal(t, Passing, r.Status, "the reference solution of %s must pass in the exported repository: %s", r.Path, r.Detail)
	}
	for _, e := range list {
		cmd := exec.Command("sh", filepath.FromSlash(UnchangedPath), e.Path())
		cmd.Dir = out
		b, err := cmd.CombinedOutput()
		assert.NoError(t, err, "the grading's check of %s, with its stub solved, must pass:\n%s", e.Path(), b)
	}
}

// checkLinks fails for every relative link in a Markdown file under dir that points
// to nothing.
func checkLinks(t *testing.T, dir string) {
	t.Helper()
	for _, f := range files(t, dir) {
		if !strings.HasSuffix(f, ".md") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
		require.NoError(t, err)
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			link := m[1]
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			target := filepath.Join(dir, filepath.Dir(filepath.FromSlash(f)), filepath.FromSlash(link))
			_, err := os.Stat(target)
			assert.NoError(t, err, "%s links to %s, which the student repository does not have", f, link)
		}
	}
}
