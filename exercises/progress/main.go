// Command progress is your companion through the course's exercises.
//
// Run it from the exercises directory:
//
//	go run ./progress               # a table, your score, the next exercise
//	go run ./progress -json         # the same for machines
//	go run ./progress watch         # re-runs the current exercise's tests whenever you save
//	go run ./progress hint NAME     # the next hint of exercise NAME, one at a time
//	go run ./progress reset NAME    # puts the shipped stub of NAME back, after asking
//	go run ./progress export DIR    # (teachers) writes a student repository, without solutions (-h: options)
//	go run ./progress generate      # (course authors) writes classroom/ (the Classroom grading) and shipped/
//
// The table runs `go test -json` over every exercise package once and reads the
// results: an exercise is "passing" when its package passes, "not started" when its
// tests fail with a "TODO: " message from the stub, and "failing" otherwise (a
// failing test, a leaked segment, a build error).
//
// Exercises are found from the directory layout (NN-lesson/NAME/ with a _test.go
// file), so a new exercise shows up without editing this program. Their order within
// a lesson (easy to hard) is the order in which exercises/README.md mentions them.
//
// The hints you have seen are remembered in exercises/.progress.json (git ignores
// it). The stubs as shipped are built into this program from shipped/ (see
// shipped.go), so reset needs no git.
package main

//go:generate go run . generate

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

const usage = `usage: go run ./progress [-json]            your progress: a table, your score, what to do next
       go run ./progress watch [NAME]       re-run the current exercise's tests each time you save a file
       go run ./progress hint NAME          show the next hint of exercise NAME, one at a time
       go run ./progress reset [-y] NAME    put the shipped stub of exercise NAME back (asks first)
       go run ./progress export [-no-last-hint] DIR [NAME...]
                                            for teachers: write a student repository to DIR, without solutions
       go run ./progress generate           for course authors: write progress/classroom/ (the Classroom grading) and progress/shipped/
Run it from the exercises directory. NAME is 01-ftok/keyparts, or just keyparts. Every command takes -h.
`

// The one-line usage of each command, for its -h and its usage errors.
var commandUsage = map[string]string{
	"watch":    "usage: go run ./progress watch [NAME]: run the tests of NAME (default: the first exercise not passing) each time a file in it changes, and go on to the next one when it passes; h then Enter shows a hint, q then Enter (or Ctrl-C) leaves, Enter alone runs them again",
	"hint":     "usage: go run ./progress hint NAME: show the next hint of exercise NAME, one per call (the ones you have seen are remembered in exercises/.progress.json)",
	"reset":    "usage: go run ./progress reset [-y] NAME: put back the stub of exercise NAME as it was shipped, losing your changes to it, after asking (-y: do not ask)",
	"export":   "usage: go run ./progress export [-no-last-hint] DIR [NAME...]: write a student repository to the new directory DIR: the lessons, the exercises as shipped (every one, or the exercises and lessons NAME names: keyparts, 05-shmctl), progress and the Classroom grading, without solutions (-no-last-hint: nor each exercise's last hint, the one that is nearly the answer)",
	"generate": "usage: go run ./progress generate: write progress/classroom/ (the Classroom grading of every exercise, which export puts in a student repository's .github/) and progress/shipped/ (the stubs as shipped) from the exercise directories",
}

// argName names the argument of the commands that need one.
var argName = map[string]string{"hint": "the exercise's NAME", "reset": "the exercise's NAME", "export": "the directory DIR"}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// errUsage marks an error as bad usage: exit status 2 instead of 1.
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

func usagef(format string, args ...any) error { return errUsage{fmt.Sprintf(format, args...)} }

// run is main without the os.Exit, so that it is easy to read and to test.
// Exit statuses: 0 done, 1 something failed, 2 bad usage (130 and 143: watch was
// interrupted).
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var status int
	var err error
	switch cmd {
	case "":
		err = table(args, stdout, stderr)
	case "watch":
		status, err = watch(args, stdin, stdout, stderr)
	case "hint":
		err = hint(args, stdout, stderr)
	case "reset":
		err = reset(args, stdin, stdout, stderr)
	case "export":
		err = export(args, stdout, stderr)
	case "generate":
		err = generate(args, stdout, stderr)
	default:
		err = usagef("unknown command %q (go run ./progress -h lists them)", cmd)
	}
	if err == nil {
		return status
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var stop errStop
	if errors.As(err, &stop) {
		fmt.Fprintln(stderr, "progress: stopped (the tests that had started finished first)")
		return stop.status
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "progress") {
		msg = "progress: " + msg
	}
	fmt.Fprintln(stderr, msg)
	var u errUsage
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// parse parses the flags of command cmd ("" for the table) and checks that it got
// between min and max arguments.
func parse(flags *flag.FlagSet, cmd string, args []string, stderr io.Writer, min, max int) error {
	name := strings.TrimSpace("progress " + cmd)
	flags.SetOutput(io.Discard)
	oneLine := usage
	if cmd != "" {
		oneLine = commandUsage[cmd] + "\n"
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, oneLine)
			return err
		}
		return usagef("%s: %v (see -h)", name, err)
	}
	n := flags.NArg()
	switch {
	case n < min:
		return usagef("%s: %s is missing (see -h)", name, argName[cmd])
	case n > max:
		return usagef("%s: unexpected argument %q (flags come first; see -h)", name, flags.Arg(max))
	}
	return nil
}

// table is the default command: every exercise's tests, the table and the next step.
func table(args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("progress", flag.ContinueOnError)
	asJSON := flags.Bool("json", false, "")
	if err := parse(flags, "", args, stderr, 0, 0); err != nil {
		return err
	}
	if err := needLinux(goos); err != nil {
		return err
	}
	root, list, err := load()
	if err != nil {
		return err
	}
	signals := make(chan os.Signal, 3)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	report, stopped, err := RunTests(root, list, signals, stderr, stderr)
	if stopped != nil {
		return errStop{stopStatus(stopped)}
	}
	if err != nil {
		return err
	}
	shipped, err := EmbeddedShipped()
	if err != nil {
		return err
	}
	if err := report.MarkEditedTests(root, shipped); err != nil {
		return err
	}
	if *asJSON {
		return report.WriteJSON(stdout)
	}
	return report.WriteText(stdout)
}

// goos is the system this program runs on (a variable, so that tests can pretend).
var goos = runtime.GOOS

// needLinux refuses to run the exercises' tests on a system other than Linux (goos
// is runtime.GOOS): they are built for Linux only, so go test would report every
// exercise as failing with "build constraints exclude all Go files".
func needLinux(goos string) error {
	if goos == "linux" {
		return nil
	}
	return fmt.Errorf("the exercises need Linux, and this is %s: their tests use System V shared memory as Linux has it, and build on Linux only. "+
		"Open the repository in its dev container (.devcontainer/: VS Code's Dev Containers, or GitHub Codespaces), or use WSL2 on Windows; the README's Prerequisites say more", goos)
}

// generate writes what is generated from the exercise directories: the GitHub
// Classroom grading (ClassroomDir; export puts it in a student repository's .github/)
// and the shipped manifest.
func generate(args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("generate", flag.ContinueOnError)
	if err := parse(flags, "generate", args, stderr, 0, 0); err != nil {
		return err
	}
	root, list, err := load()
	if err != nil {
		return err
	}
	classroom := filepath.Join(root, filepath.FromSlash(ClassroomDir))
	if err := WriteClassroom(classroom, list); err != nil {
		return err
	}
	if err := WriteShipped(root, list); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote the grading of %d exercises to %s and their stubs to %s\n",
		len(list), classroom, filepath.Join(root, filepath.FromSlash(ShippedDir)))
	return nil
}

// load finds the exercises module and its exercises.
func load() (string, []Exercise, error) {
	root, err := findRoot()
	if err != nil {
		return "", nil, err
	}
	list, err := Discover(root)
	if err != nil {
		return "", nil, err
	}
	if len(list) == 0 {
		return "", nil, fmt.Errorf("no exercises found under %s (expected NN-lesson/NAME/*_test.go)", root)
	}
	return root, list, nil
}

// loadExercise finds the exercises module and the exercise that name names.
func loadExercise(name string) (string, Exercise, error) {
	root, list, err := load()
	if err != nil {
		return "", Exercise{}, err
	}
	e, err := Find(list, name)
	return root, e, err
}

// Find returns the exercise of list that name names: its path ("01-ftok/keyparts",
// also as "./01-ftok/keyparts/" or "exercises/01-ftok/keyparts") or its name alone
// ("keyparts") when only one exercise has it.
func Find(list []Exercise, name string) (Exercise, error) {
	clean := filepath.ToSlash(filepath.Clean(name))
	clean = strings.TrimPrefix(clean, "exercises/")
	var byName []Exercise
	for _, e := range list {
		if e.Path() == clean {
			return e, nil
		}
		if e.Name == clean {
			byName = append(byName, e)
		}
	}
	switch len(byName) {
	case 1:
		return byName[0], nil
	case 0:
		return Exercise{}, usagef("no exercise is called %q (go run ./progress lists them)", name)
	}
	return Exercise{}, usagef("%q is the name of %d exercises: say which, for example %s", name, len(byName), byName[0].Path())
}
