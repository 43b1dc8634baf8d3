package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
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
// What goes in, from the course repository (the files git tracks, never an untracked
// one; every file when it is not a git checkout):
//
//   - the top level's go.mod, go.sum, README.md, LICENSE*, .gitignore, the lessons
//     (NN-name/), internal/ and .devcontainer/;
//   - exercises/: go.mod, go.sum, README.md, .gitignore, progress/ (but for the
//     course's copy of the grading, progress/classroom/), and each exercise's
//     README.md, HINTS.md, stub as shipped (from progress/shipped/, never a solved
//     copy) and tests, which must be the shipped ones. Any other file in an exercise
//     directory (a backup, a copy of a solution) stays out, and export names it;
//   - .github/: the Classroom grading only, generated for the exercises exported.
//
// What stays out: solutions/, exercises/TEACHERS.md, the course's own CI (.ci/ and
// the other workflows), and anything else. In the Markdown files, the parts between
// "<!-- course-only -->" and "<!-- /course-only -->" are left out, and the text of
// "<!-- student-only ... -->" comments appears. Last, export refuses to write anything
// if a file it would write holds the body of a function of a reference solution (a
// solution copied somewhere it should not be).

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

// exerciseDocs are the files of an exercise directory besides its Go files.
var exerciseDocs = map[string]bool{"README.md": true, "HINTS.md": true}

// export writes a student repository.
func export(args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("export", flag.ContinueOnError)
	noLastHint := flags.Bool("no-last-hint", false, "")
	if err := parse(flags, "export", args, stderr, 1, math.MaxInt); err != nil {
		return err
	}
	root, list, err := load()
	if err != nil {
		return err
	}
	opts := ExportOptions{NoLastHint: *noLastHint}
	if flags.NArg() > 1 {
		if opts.Only, err = Select(list, flags.Args()[1:]); err != nil {
			return err
		}
	}
	dir := flags.Arg(0)
	done, err := Export(root, list, dir, opts)
	if err != nil {
		return err
	}
	for _, f := range done.LeftOut {
		fmt.Fprintf(stderr, "progress export: left out %s: not part of an exercise handed out (an exercise hands out only README.md, HINTS.md, its stub and its tests)\n", f)
	}
	fmt.Fprintf(stdout, "Wrote a student repository of %d files with %d exercises to %s, without solutions.\n", done.Files, done.Exercises, dir)
	fmt.Fprintf(stdout, "Next: cd %s && git init -b main && git add . && git commit -m 'The exercises', push it to a new GitHub repository, mark it as a template, and create the assignment from it (exercises/TEACHERS.md).\n", dir)
	return nil
}

// Select returns the exercises of list that names name, in the order of list: each
// name is an exercise (as Find takes it) or a lesson ("01-ftok": all of its exercises).
func Select(list []Exercise, names []string) ([]Exercise, error) {
	chosen := map[Exercise]bool{}
	for _, name := range names {
		lesson := strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(filepath.Clean(name)), "exercises/"), "/")
		found := false
		for _, e := range list {
			if e.Lesson == lesson {
				chosen[e], found = true, true
			}
		}
		if found {
			continue
		}
		e, err := Find(list, name)
		if err != nil {
			return nil, err
		}
		chosen[e] = true
	}
	var only []Exercise
	for _, e := range list {
		if chosen[e] {
			only = append(only, e)
		}
	}
	return only, nil
}

// ExportOptions are export's choices.
type ExportOptions struct {
	// Only lists the exercises to hand out (and grade); nil hands out every one.
	Only []Exercise
	// NoLastHint leaves each exercise's last hint, the one that is nearly the
	// answer, out of its HINTS.md.
	NoLastHint bool
}

// Exported is what Export did.
type Exported struct {
	Files     int      // how many files it wrote
	Exercises int      // how many exercises it handed out
	LeftOut   []string // files of exercises/ that git tracks and that are in no exercise's list of files
}

// Export writes the student repository of the course whose exercises module is root,
// and whose exercises are all, to dir, which must not exist or be empty.
func Export(root string, all []Exercise, dir string, opts ExportOptions) (Exported, error) {
	list := all
	if opts.Only != nil {
		list = opts.Only
	}
	if len(list) == 0 {
		return Exported{}, errors.New("no exercise to export")
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return Exported{}, fmt.Errorf("%s is not empty: export writes a new repository", dir)
	}
	repo := filepath.Dir(root)
	shipped, err := ReadShipped(os.DirFS(filepath.Join(root, filepath.FromSlash(ShippedDir))))
	if err != nil {
		return Exported{}, err
	}
	files, err := repoFiles(repo)
	if err != nil {
		return Exported{}, err
	}
	for _, e := range list {
		if !shipped.Has(e) {
			return Exported{}, fmt.Errorf("%s is not in progress/shipped: run go generate ./progress", e.Path())
		}
	}

	var done Exported
	out := map[string][]byte{} // path in dir -> content
	for _, f := range files {
		name, inExercises := strings.CutPrefix(f, "exercises/")
		switch {
		case !inExercises:
			if exportTop.MatchString(f) {
				if err := copyFrom(repo, f, out); err != nil {
					return Exported{}, err
				}
			}
		case exportsFromExercises(name):
			if err := copyFrom(repo, f, out); err != nil {
				return Exported{}, err
			}
		case name == "TEACHERS.md" || strings.HasPrefix(name, ClassroomDir+"/"):
			// the teacher's guide; the course's copy of the grading
		default:
			e, ok := exerciseOf(list, name)
			_, another := exerciseOf(all, name)
			switch {
			case !ok:
				if underExercise(name) && !another {
					done.LeftOut = append(done.LeftOut, f) // in no exercise of the course
				}
			case exerciseDocs[path.Base(name)] && path.Dir(name) == e.Path():
				if err := copyFrom(repo, f, out); err != nil {
					return Exported{}, err
				}
			case path.Dir(name) == e.Path() && shipped.Sums[name] != "":
				if err := exportGoFile(repo, name, shipped, out); err != nil {
					return Exported{}, err
				}
			default:
				done.LeftOut = append(done.LeftOut, f)
			}
		}
	}
	// The stubs as shipped, even where the teacher's copy is missing or solved.
	for name, content := range shipped.Stubs {
		if _, ok := exerciseOf(list, name); ok {
			out["exercises/"+name] = content
		}
	}
	if err := complete(list, shipped, out); err != nil {
		return Exported{}, err
	}
	for f, content := range out {
		if strings.HasSuffix(f, ".md") {
			out[f] = ForStudents(content)
		}
		if opts.NoLastHint && path.Base(f) == "HINTS.md" {
			out[f] = WithoutLastHint(out[f])
		}
	}
	if opts.Only != nil {
		onlyShipped(out, list)
		out["exercises/README.md"] = OnlyRows(out["exercises/README.md"], list)
		if err := noLinkToOthers(out, all, list); err != nil {
			return Exported{}, err
		}
	}
	grading, err := Classroom(list)
	if err != nil {
		return Exported{}, err
	}
	for f, content := range grading {
		out[f] = content
	}
	out[GradedSums] = Sums(out)
	if err := noSolutionIn(repo, shipped, out, !opts.NoLastHint); err != nil {
		return Exported{}, err
	}

	names := make([]string, 0, len(out))
	for f := range out {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		target := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return Exported{}, err
		}
		if err := os.WriteFile(target, out[f], 0o644); err != nil {
			return Exported{}, err
		}
	}
	done.Files, done.Exercises = len(names), len(list)
	sort.Strings(done.LeftOut)
	return done, nil
}

// exerciseOf returns the exercise of list whose directory holds name (a path
// relative to exercises/), at any depth.
func exerciseOf(list []Exercise, name string) (Exercise, bool) {
	for _, e := range list {
		if strings.HasPrefix(name, e.Path()+"/") {
			return e, true
		}
	}
	return Exercise{}, false
}

// underExercise reports whether name (relative to exercises/) is in what looks like
// an exercise directory, NN-lesson/NAME/.
func underExercise(name string) bool {
	parts := strings.Split(name, "/")
	return len(parts) >= 3 && lessonDir.MatchString(parts[0]) && exerciseDir.MatchString(parts[1])
}

// exportGoFile adds a shipped Go file of an exercise (name is relative to exercises/)
// to out: a test as it is, which must be the shipped one; a stub later, from the
// manifest.
func exportGoFile(repo, name string, shipped *Shipped, out map[string][]byte) error {
	if IsStubFile(path.Base(name)) {
		return nil // written from the manifest
	}
	b, err := os.ReadFile(filepath.Join(repo, "exercises", filepath.FromSlash(name)))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("exercises/%s is missing: put it back (git checkout)", name)
	}
	if err != nil {
		return err
	}
	if Checksum(b) != shipped.Sums[name] {
		return fmt.Errorf("exercises/%s is not the shipped test: put it back (git checkout), or run go generate ./progress if you changed it on purpose", name)
	}
	out["exercises/"+name] = b
	return nil
}

// complete checks that out holds every file of every exercise of list: its README,
// its hints and its shipped Go files (a file that git does not track yet is not
// exported).
func complete(list []Exercise, shipped *Shipped, out map[string][]byte) error {
	for _, e := range list {
		want := shipped.Files(e)
		for doc := range exerciseDocs {
			want = append(want, e.Path()+"/"+doc)
		}
		for _, name := range want {
			if _, ok := out["exercises/"+name]; !ok {
				return fmt.Errorf("exercises/%s is not in git: export hands out only the files git tracks (git add it and commit)", name)
			}
		}
	}
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
// repo is a git checkout, the ones git tracks (a file git does not know is a scratch
// file, a backup, or a solution someone copied: never the course); otherwise every
// regular file.
func repoFiles(repo string) ([]string, error) {
	cmd := exec.Command("git", "ls-files", "-z", "--cached")
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

// WithoutLastHint drops the last "## Hint" section of a HINTS.md, the one that is
// nearly the answer, when there is more than one.
func WithoutLastHint(md []byte) []byte {
	starts := hintHeading.FindAllIndex(md, -1)
	if len(starts) < 2 {
		return md
	}
	return append(bytes.TrimRight(md[:starts[len(starts)-1][0]], "\n"), '\n')
}

var (
	hintHeading = regexp.MustCompile(`(?m)^## Hint`)
	// A row of exercises/README.md's table: "| 3 | [`02-shmget/openorcreate`](...) | ...".
	tableRow = regexp.MustCompile(`^\| *[0-9]+ *\|`)
	// A relative link in Markdown: ](target) or ](target#part).
	mdLink = regexp.MustCompile(`\]\(([^)#\s]+)[^)]*\)`)
)

// OnlyRows keeps the rows of exercises/README.md's table that are about an exercise
// of list, numbered again from 1.
func OnlyRows(md []byte, list []Exercise) []byte {
	keep := map[string]bool{}
	for _, e := range list {
		keep[e.Path()] = true
	}
	var b bytes.Buffer
	n := 0
	for _, line := range strings.SplitAfter(string(md), "\n") {
		if tableRow.MatchString(line) {
			m := mention.FindStringSubmatch(line)
			if m != nil && !keep[m[1]+"/"+m[2]] {
				continue
			}
			n++
			line = tableRow.ReplaceAllString(line, fmt.Sprintf("| %d |", n))
		}
		b.WriteString(line)
	}
	return b.Bytes()
}

// onlyShipped keeps in out the part of the shipped manifest (progress/shipped/) that
// is about the exercises of list: progress, in the student repository, knows only
// those.
func onlyShipped(out map[string][]byte, list []Exercise) {
	keep := map[string]bool{}
	for _, e := range list {
		keep[e.Path()] = true
	}
	prefix := "exercises/" + ShippedDir + "/"
	for f := range out {
		if name, ok := strings.CutPrefix(f, prefix); ok && name != sumsFile && !keep[path.Dir(name)] {
			delete(out, f)
		}
	}
	var sums bytes.Buffer
	for _, line := range strings.SplitAfter(string(out[prefix+sumsFile]), "\n") {
		if _, name, ok := strings.Cut(line, "  "); ok && keep[path.Dir(strings.TrimSpace(name))] {
			sums.WriteString(line)
		}
	}
	out[prefix+sumsFile] = sums.Bytes()
}

// noLinkToOthers refuses an export of some of the exercises (list, of all) where a
// Markdown file links to an exercise left out: an exercise that says "do
// 04-shmdt/orphans first" needs it.
func noLinkToOthers(out map[string][]byte, all, list []Exercise) error {
	exported := map[Exercise]bool{}
	for _, e := range list {
		exported[e] = true
	}
	var names []string
	for f := range out {
		if strings.HasSuffix(f, ".md") {
			names = append(names, f)
		}
	}
	sort.Strings(names)
	for _, f := range names {
		for _, m := range mdLink.FindAllStringSubmatch(string(out[f]), -1) {
			if strings.Contains(m[1], "://") {
				continue
			}
			target := path.Join(path.Dir(f), m[1]) + "/"
			for _, e := range all {
				if !exported[e] && strings.HasPrefix(target, "exercises/"+e.Path()+"/") {
					return fmt.Errorf("%s links to %s, which is not exported: export it too (for example go run ./progress export DIR ... %s)", f, e.Path(), e.Path())
				}
			}
		}
	}
	return nil
}
