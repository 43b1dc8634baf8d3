package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
)

// RunTests runs `go test -json` once over every exercise package in list, from root
// (the exercises module), and grades the result. Failing tests are not an error
// here; not being able to run go is.
//
// The tests run as if nobody were watching them, so that they always finish and
// remove what they created:
//
//   - in a process group of their own, so that Ctrl-C in the terminal, which goes to
//     the whole foreground group, does not reach them;
//   - with their output in temporary files, not pipes: if this program dies, a test
//     that writes to a pipe nobody reads dies of SIGPIPE half-way, leaving its
//     segments behind; a file takes what it writes.
//
// A signal on signals (SIGINT or SIGTERM) lets the run finish and is returned as
// stopped, with no report; a second one interrupts the tests (they clean up on
// SIGINT), a third kills them. Messages about it go to out.
func RunTests(root string, list []Exercise, signals <-chan os.Signal, out, stderr io.Writer) (rep Report, stopped os.Signal, err error) {
	stdoutFile, err := os.CreateTemp("", "progress-go-test-*.json")
	if err != nil {
		return Report{}, nil, err
	}
	defer os.Remove(stdoutFile.Name())
	defer stdoutFile.Close()
	stderrFile, err := os.CreateTemp("", "progress-go-test-*.txt")
	if err != nil {
		return Report{}, nil, err
	}
	defer os.Remove(stderrFile.Name())
	defer stderrFile.Close()

	cmd := goTest(root, list)
	cmd.Stdout, cmd.Stderr = stdoutFile, stderrFile
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return Report{}, nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var runErr error
	for n := 0; ; {
		select {
		case runErr = <-done:
		case sig := <-signals:
			n++
			switch n {
			case 1:
				fmt.Fprintln(out, "Letting the tests finish, so that they remove what they created (Ctrl-C again to interrupt them)...")
				stopped = sig
			case 2:
				fmt.Fprintln(out, "Interrupting the tests (Ctrl-C again to kill them)...")
				signalGroup(cmd, syscall.SIGINT)
			default:
				signalGroup(cmd, syscall.SIGKILL)
			}
			continue
		}
		break
	}
	if stopped != nil {
		return Report{}, stopped, nil
	}
	stdout, err := os.ReadFile(stdoutFile.Name())
	if err != nil {
		return Report{}, nil, err
	}
	errOut, err := os.ReadFile(stderrFile.Name())
	if err != nil {
		return Report{}, nil, err
	}
	events, err := testEvents(stdout, string(errOut), runErr, stderr)
	if err != nil {
		return Report{}, nil, err
	}
	rep, err = Grade(list, events)
	return rep, nil, err
}

// goTest is the command that runs the tests of list, from root.
func goTest(root string, list []Exercise) *exec.Cmd {
	args := []string{"test", "-json", "-timeout=5m"}
	for _, e := range list {
		args = append(args, "./"+e.Path()+"/")
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	return cmd
}

// testEvents parses what a goTest command printed.
func testEvents(stdout []byte, errOut string, runErr error, stderr io.Writer) ([]Event, error) {
	events, err := ParseEvents(bytes.NewReader(stdout))
	if err != nil {
		return nil, err
	}
	if len(events) == 0 && runErr != nil {
		return nil, fmt.Errorf("go test: %v\n%s", runErr, errOut)
	}
	// Older Go versions print build errors on stderr rather than as events.
	if errOut != "" {
		fmt.Fprint(stderr, errOut)
	}
	return events, nil
}
