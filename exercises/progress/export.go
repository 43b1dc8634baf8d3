package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// A teacher hands the exercises out as a repository of their own: the course without
// its reference solutions. export writes it.
//
// What goes in, from the course repository (the files git tracks or would add, or
// every file when it is not a git checkout):
//
//   - the top level's go.mod, go.sum, README.md, LICENSE*, .gitignore, the lessons
//     (NN-name/), internal/ and .devcontainer/;
//   - exercises/: go.mod, go.sum, README.md, .gitignore, progress/ (but for the
//     course's copy of the grading, progress/classroom/), and each exercise with its
//     stub as shipped (from progress/shipped/, never a solved copy) and its tests,
//     which must be the shipped ones;
//   - .github/: the Classroom grading only, generated for the exercises exported.
//
// What stays out: solutions/, exercises/TEACHERS.md, the course's own CI (.ci/ and
// the other workflows), and anything else. In the Markdown files, the parts between
// "<!-- course-only -->" and "<!-- /course-only -->" are left out, and the text of
// "<!-- student-only ... -->" comments appears.

// exportTop is what the top level of the repository contributes (a path, or the
// first element of one).
var exportTop = regexp.MustCompile(`^(go\.mod|go\.sum|README\.md|LICENSE[^/]*|\.gitignore|internal|\.devcontainer|[0-9][0-9]-[a-z0-9-]+)(/|$)`)

// exportExercises is what exercises/ contributes besides the exercise directories
// (and but for ClassroomDir: see exportsFromExercises).
var exportExercises = regexp.MustCompile(`^(go\.mod|go\.sum|README\.md|\.gitignore|progress/.*)$`)

// exportsFromExercises reports whether export copies name, a file of exercises/ that
// is in no exercise directory: the course's copy of the grading stays out, since
// export writes the grading of the exercises it exports into .github/.
func exportsFromExercises(name string) bool {
	return exportExercises.MatchString(name) && !strings.HasPrefix(name, ClassroomDir+"/")
}

// export writes a student repository.
func export(args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("export", flag.ContinueOnError)
	if err := parse(flags, "export", args, stderr, 1, 1); err != nil {
		return err
	}
	root, list, err := load()
	if err != nil {
		return err
	}
	n, err := Export(root, list, flags.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote a student repository of %d files to %s, without solutions.\n", n, flags.Arg(0))
	fmt.Fprintf(stdout, "Next: cd %s && git init && git add . && git commit -m 'The exercises', push it to a new GitHub repository, mark it as a template, and create the assignment from it (exercises/TEACHERS.md).\n", flags.Arg(0))
	return nil
}

// Export writes the student repository of the course whose exercises module is root
// to dir, which must not exist or be empty, and returns how many files it wrote.
func Export(root string, list []Exercise, dir string) (int, error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return 0, fmt.Errorf("%s is not empty: export writes a new repository", dir)
	}
	repo := filepath.Dir(root)
	shipped, err := ReadShipped(os.DirFS(filepath.Join(root, filepath.FromSlash(ShippedDir))))
	if err != nil {
		return 0, err
	}
	files, err := repoFiles(repo)
	if err != nil {
		return 0, err
	}
	exercise := map[string]Exercise{}
	for _, e := range list {
		if !shipped.Has(e) {
			return 0, fmt.Errorf("%s is not in progress/shipped: run go generate ./progress", e.Path())
		}
		exercise[e.Path()] = e
	}

	out := map[string][]byte{} // path in dir -> content
	for _, f := range files {
		name, inExercises := strings.CutPrefix(f, "exercises/")
		switch {
		case !inExercises:
			if exportTop.MatchString(f) {
				if err := copyFrom(repo, f, out); err != nil {
					return 0, err
				}
			}
		case exportsFromExercises(name):
			if err := copyFrom(repo, f, out); err != nil {
				return 0, err
			}
		default:
			e, ok := exercise[path.Dir(name)]
			if !ok {
				continue // TEACHERS.md, a file outside any exercise
			}
			if err := exportExerciseFile(repo, e, name, shipped, out); err != nil {
				return 0, err
			}
		}
	}
	// The stubs as shipped, even where the teacher's copy is missing or solved.
	for name, content := range shipped.Stubs {
		if _, ok := exercise[path.Dir(name)]; ok {
			out["exercises/"+name] = content
		}
	}
	for f, content := range out {
		if strings.HasSuffix(f, ".md") {
			out[f] = ForStudents(content)
		}
	}
	grading, err := Classroom(list)
	if err != nil {
		return 0, err
	}
	for f, content := range grading {
		out[f] = content
	}

	names := make([]string, 0, len(out))
	for f := range out {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		target := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return 0, err
		}
		if err := os.WriteFile(target, out[f], 0o644); err != nil {
			return 0, err
		}
	}
	return len(names), nil
}

// exportExerciseFile adds one file of exercise e (name is relative to exercises/) to
// out: tests only as shipped, stubs later from the manifest, the rest as it is.
func exportExerciseFile(repo string, e Exercise, name string, shipped *Shipped, out map[string][]byte) error {
	base := path.Base(name)
	if IsStubFile(base) {
		return nil // written from the manifest
	}
	b, err := os.ReadFile(filepath.Join(repo, "exercises", filepath.FromSlash(name)))
	if err != nil {
		return err
	}
	if strings.HasSuffix(base, ".go") && Checksum(b) != shipped.Sums[name] {
		return fmt.Errorf("exercises/%s is not the shipped test: put it back (git checkout), or run go generate ./progress if you changed it on purpose", name)
	}
	out["exercises/"+name] = b
	return nil
}

func copyFrom(repo, f string, out map[string][]byte) error {
	b, err := os.ReadFile(filepath.Join(repo, filepath.FromSlash(f)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // tracked but deleted in the working tree
	}
	out[f] = b
	return err
}

// repoFiles lists the repository's files, slash-separated and relative to repo: when
// repo is a git checkout, the ones git tracks and the new ones it does not ignore;
// otherwise every regular file.
func repoFiles(repo string) ([]string, error) {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = repo
	if out, err := cmd.Output(); err == nil && isGitTop(repo) {
		var files []string
		for _, f := range strings.Split(string(out), "\x00") {
			if f != "" {
				files = append(files, f)
			}
		}
		return files, nil
	}
	var files []string
	err := filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(repo, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	return files, err
}

// isGitTop reports whether repo is the top of a git work tree (and not a directory
// inside some other repository).
func isGitTop(repo string) bool {
	cmd := exec.Command("git", "rev-parse", "--show-toplevel")
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		return false
	}
	a, errA := filepath.EvalSymlinks(strings.TrimSpace(string(out)))
	b, errB := filepath.EvalSymlinks(repo)
	return errA == nil && errB == nil && a == b
}

var (
	courseOnlyLines = regexp.MustCompile(`(?ms)^[ \t]*<!-- course-only -->[ \t]*\n.*?^[ \t]*<!-- /course-only -->[ \t]*\n`)
	courseOnly      = regexp.MustCompile(`(?s)<!-- course-only -->.*?<!-- /course-only -->`)
	studentOnly     = regexp.MustCompile(`(?s)<!-- student-only\n(.*?)-->\n?`)
)

// ForStudents adapts a Markdown file for the student repository: it drops the
// course-only parts (whole lines, or within a line) and shows the student-only ones.
func ForStudents(md []byte) []byte {
	md = courseOnlyLines.ReplaceAll(md, nil)
	md = courseOnly.ReplaceAll(md, nil)
	md = studentOnly.ReplaceAll(md, []byte("$1"))
	return bytes.ReplaceAll(md, []byte("\n\n\n"), []byte("\n\n"))
}
