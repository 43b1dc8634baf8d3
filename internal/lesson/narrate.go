//go:build linux

package lesson

import (
	"bufio"
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// Narration. Every lesson prints the same shapes, so a learner learns to read them
// once:
//
//	== 2. Create a segment ==
//	   shmget(0x41012345, 4096, IPC_CREAT|IPC_EXCL|0600)     <- Call: what we ask
//	-> id 32769                                             <- Result: what the kernel says
//	   Only the creator ...                                  <- Say: the explanation
//	   $ ipcs -m -i 32769                                    <- Look: see it yourself

// Step starts a numbered step. With -step it first waits for Enter, so the learner
// can look at the system from another terminal before the step runs.
func (l *Lesson) Step(format string, args ...any) {
	l.steps++
	fmt.Fprintf(l.Out, "\n== %d. %s ==\n", l.steps, fmt.Sprintf(format, args...))
	if l.step {
		l.waitForEnter()
	}
}

// Stepping reports whether -step was given.
func (l *Lesson) Stepping() bool { return l.step }

func (l *Lesson) waitForEnter() {
	if l.input == nil {
		l.input = bufio.NewReader(l.In)
	}
	fmt.Fprint(l.Out, "   (press Enter to run this step) ")
	if _, err := l.input.ReadString('\n'); err != nil {
		fmt.Fprintln(l.Out) // end of input: go on without pausing
		l.step = false
	}
}

// Say prints a line of explanation.
func (l *Lesson) Say(format string, args ...any) {
	fmt.Fprintf(l.Out, "   %s\n", fmt.Sprintf(format, args...))
}

// Call prints the call about to be made, as C would spell it.
func (l *Lesson) Call(format string, args ...any) {
	fmt.Fprintf(l.Out, "   %s\n", fmt.Sprintf(format, args...))
}

// Result prints what the kernel answered.
func (l *Lesson) Result(format string, args ...any) {
	fmt.Fprintf(l.Out, "-> %s\n", fmt.Sprintf(format, args...))
}

// Look prints a shell command that shows the same thing from outside.
func (l *Lesson) Look(command string, args ...any) {
	fmt.Fprintf(l.Out, "   $ %s\n", fmt.Sprintf(command, args...))
}

// Errno returns the name of the errno inside err ("EEXIST"), or "" if there is none.
func Errno(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return unix.ErrnoName(errno)
	}
	return ""
}

// ErrnoText describes err the way the course names errors everywhere:
// "EEXIST (file exists)"; for an error without an errno, its text.
func ErrnoText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return fmt.Sprintf("%s (%v)", unix.ErrnoName(errno), errno)
	}
	return err.Error()
}

// CallError is a failed system call with the course's explanation of its cause.
type CallError struct {
	Call string // "shmget(0x41012345, 4096, IPC_CREAT|IPC_EXCL|0600)"
	Err  error  // usually a syscall.Errno
	Why  string // what causes it and what to do, for a learner
}

func (e *CallError) Error() string {
	if e.Why == "" {
		return fmt.Sprintf("%s: %s", e.Call, ErrnoText(e.Err))
	}
	return fmt.Sprintf("%s: %s: %s", e.Call, ErrnoText(e.Err), e.Why)
}

func (e *CallError) Unwrap() error { return e.Err }

// Failed returns a *CallError for call failing with err, explained by why.
func Failed(call string, err error, why string) error {
	return &CallError{Call: call, Err: err, Why: why}
}
