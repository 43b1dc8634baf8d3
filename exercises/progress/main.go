// Command progress shows how far you are through the course's exercises.
//
// Run it from the exercises directory:
//
//	cd exercises && go run ./progress          # a table, a score, the next exercise
//	cd exercises && go run ./progress -json    # the same for machines
//
// It runs `go test -json` over every exercise package once, and reads the results:
// an exercise is "passing" when its package passes, "not started" when its tests fail
// with a "TODO: " message from the stub, and "failing" otherwise (a failing test, a
// leaked segment, a build error).
//
// Exercises are found from the directory layout (NN-lesson/NAME/ with a _test.go
// file), so a new exercise shows up without editing this program. Their order within
// a lesson (easy to hard) is the order in which exercises/README.md mentions them.
//
// With -classroom DIR it writes the GitHub Classroom autograding configuration for
// every exercise instead (see the go:generate line below).
package main

//go:generate go run . -classroom ../../.github

import (
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = `usage: go run ./progress [-json] [-classroom DIR]

Runs the tests of every exercise and prints a table of them (passing, failing,
not started), your score, and the exercise to do next with its hint file.
Run it from the exercises directory.

  -json           print the same as JSON, for machines
  -classroom DIR  write DIR/classroom/autograding.json and DIR/workflows/classroom.yml
                  (the GitHub Classroom grading of every exercise) instead
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the os.Exit, so that it is easy to read and to test.
// Exit statuses: 0 done, 1 something failed, 2 bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("progress", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() { fmt.Fprint(stderr, usage) }
	asJSON := flags.Bool("json", false, "")
	classroom := flags.String("classroom", "", "")
	if err := flags.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "progress: unexpected argument %q (see -h)\n", flags.Arg(0))
		return 2
	}

	root, err := findRoot()
	if err != nil {
		fmt.Fprintln(stderr, "progress:", err)
		return 1
	}
	list, err := Discover(root)
	if err != nil {
		fmt.Fprintln(stderr, "progress:", err)
		return 1
	}
	if len(list) == 0 {
		fmt.Fprintf(stderr, "progress: no exercises found under %s (expected NN-lesson/NAME/*_test.go)\n", root)
		return 1
	}

	if *classroom != "" {
		if err := WriteClassroom(*classroom, list); err != nil {
			fmt.Fprintln(stderr, "progress:", err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote the grading of %d exercises to %s\n", len(list), *classroom)
		return 0
	}

	events, err := runTests(root, list, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "progress:", err)
		return 1
	}
	report, err := Grade(list, events)
	if err != nil {
		fmt.Fprintln(stderr, "progress:", err)
		return 1
	}
	if *asJSON {
		err = report.WriteJSON(stdout)
	} else {
		err = report.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "progress:", err)
		return 1
	}
	return 0
}
