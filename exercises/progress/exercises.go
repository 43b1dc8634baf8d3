package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// ModulePath is the exercises module; package import paths start with it.
const ModulePath = "github.com/learn-sysv/shm-course/exercises"

// PointsPerExercise is what one passing exercise is worth, here and in GitHub Classroom.
const PointsPerExercise = 10

// Exercise is one exercise directory, NN-lesson/NAME.
type Exercise struct {
	Lesson string // "01-ftok"
	Name   string // "keyparts"
}

// Path is the exercise's directory relative to the exercises module: "01-ftok/keyparts".
func (e Exercise) Path() string { return e.Lesson + "/" + e.Name }

// ImportPath is the exercise package's import path.
func (e Exercise) ImportPath() string { return ModulePath + "/" + e.Path() }

// TestCommand is how GitHub Classroom grades one exercise, from the repository root:
// after checking that its tests are the ones handed out (UnchangedPath), it runs them.
// GitHub's hosted runners give the job passwordless sudo: `go test -exec sudo` builds
// the tests as the runner's user and runs the test binary as root, so that the cases
// that need root (another user's process, a private mount namespace) run instead of
// being skipped.
func (e Exercise) TestCommand() string {
	return "sh " + UnchangedPath + " " + e.Path() + " && cd exercises && go test -timeout=" + gradingTimeout + " -exec sudo ./" + e.Path() + "/"
}

// gradingTimeout bounds the tests of one exercise in grading: code that deadlocks
// fails after it with go test's dump of every goroutine (where it hangs), instead of
// running until the step's time-out (classroomTimeout) uses up the classroom's
// Actions minutes. The course's tests take seconds.
const gradingTimeout = "2m"

// RootCommand is how a learner runs e's tests as grading does, as root, from the
// exercises directory. (sudo go test usually does not find go: sudo sets its own
// PATH, without /usr/local/go/bin.)
func (e Exercise) RootCommand() string {
	return "go test -exec sudo ./" + e.Path() + "/"
}

var (
	lessonDir   = regexp.MustCompile(`^[0-9][0-9]-[a-z0-9-]+$`)
	exerciseDir = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	// A mention of an exercise in README.md, such as 01-ftok/keyparts.
	mention = regexp.MustCompile(`\b([0-9][0-9]-[a-z0-9-]+)/([a-z][a-z0-9_]*)\b`)
)

// Discover lists the exercises under root: every NN-lesson/NAME directory that holds
// a _test.go file. They are sorted by lesson, then in the order root/README.md first
// mentions them (the course lists each lesson's exercises from easy to hard), then
// by name.
func Discover(root string) ([]Exercise, error) {
	lessons, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var list []Exercise
	for _, l := range lessons {
		if !l.IsDir() || !lessonDir.MatchString(l.Name()) {
			continue
		}
		names, err := os.ReadDir(filepath.Join(root, l.Name()))
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if !n.IsDir() || !exerciseDir.MatchString(n.Name()) {
				continue
			}
			tests, _ := filepath.Glob(filepath.Join(root, l.Name(), n.Name(), "*_test.go"))
			if len(tests) > 0 {
				list = append(list, Exercise{Lesson: l.Name(), Name: n.Name()})
			}
		}
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	SortExercises(list, string(readme))
	return list, nil
}

// SortExercises orders list by lesson, then by where readme first mentions each
// exercise (unmentioned ones last), then by name.
func SortExercises(list []Exercise, readme string) {
	rank := map[string]int{}
	for i, m := range mention.FindAllStringSubmatch(readme, -1) {
		path := m[1] + "/" + m[2]
		if _, seen := rank[path]; !seen {
			rank[path] = i
		}
	}
	rankOf := func(e Exercise) int {
		if r, ok := rank[e.Path()]; ok {
			return r
		}
		return len(rank) + 1
	}
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.Lesson != b.Lesson {
			return a.Lesson < b.Lesson
		}
		if ra, rb := rankOf(a), rankOf(b); ra != rb {
			return ra < rb
		}
		return a.Name < b.Name
	})
}

// findRoot returns the exercises module's directory: the current directory or one
// above it whose go.mod declares ModulePath, or ./exercises from the repository root.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		for _, candidate := range []string{d, filepath.Join(d, "exercises")} {
			if modulePath(filepath.Join(candidate, "go.mod")) == ModulePath {
				return candidate, nil
			}
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return "", fmt.Errorf("cannot find the exercises module (%s) from %s: run it as 'cd exercises && go run ./progress'", ModulePath, dir)
}

// modulePath returns the module path a go.mod file declares, or "".
func modulePath(gomod string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}
