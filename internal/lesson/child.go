//go:build linux

package lesson

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Child is another process that takes part in a lesson, usually this program again
// in a role (reexec.Command(role, args...)). Its standard output is relayed into the
// lesson's narration, each line indented like Say and marked with its pid, so that
// one terminal tells the whole story:
//
//	[pid 4242] -> mapped at 0x7f3c2a1b6000
//
// Its standard input is a pipe from the lesson: Send writes a line the child may wait
// for, and Finish closes it, which a child that waits for end of input takes as the
// word to finish. Call Finish once the child has done its part.
//
// The child runs in a process group of its own, so that Ctrl-C in the terminal,
// which signals the terminal's foreground process group, reaches the lesson alone:
// the lesson says so in one line, and its cleanup ends the child (SIGTERM, which a
// role takes as its lesson does: it cleans up and exits) and waits for it, on every
// way out. What the child writes on standard error once the lesson has begun to end
// it is dropped: it has nothing to add to the lesson's one line.
type Child struct {
	Pid int // the child's process id, for the narration and for ps

	l      *Lesson
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	ending atomic.Bool // the lesson's cleanup is ending the child

	mu     sync.Mutex // the step's goroutine and a signal's cleanup take turns
	waited bool
	err    error // what Finish returned, once it has
}

// ChildGrace is how long a child has to end after the lesson's cleanup sends it
// SIGTERM, before it is killed (SIGKILL).
var ChildGrace = 3 * time.Second

// errEnding is StartChild's and Keep's error once the lesson's cleanups have begun:
// nothing new may start or be made then. Nobody sees it: the program is ending.
var errEnding = errors.New("the lesson is ending: nothing new is made")

// StartChild starts cmd as a child of the lesson, in a process group of its own, and
// registers its end as a cleanup. Its standard input and output become pipes (leave
// cmd.Stdin and cmd.Stdout unset); its standard error goes to cmd.Stderr if set, or
// else to l.Err, so that the child's one-line error reaches the learner.
func StartChild(l *Lesson, cmd *exec.Cmd) (*Child, error) {
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c := &Child{l: l, cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout)}
	stderr := cmd.Stderr
	if stderr == nil {
		stderr = l.Err
	}
	// Through a pipe (childStderr is no *os.File): filtered, and never the terminal
	// written from a process group in the background.
	cmd.Stderr = childStderr{c: c, w: stderr}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true

	// Started and registered under one lock that the cleanups take before they begin:
	// a signal's cleanup either ends this child or comes before it starts.
	l.starting.Lock()
	defer l.starting.Unlock()
	if l.ending {
		_ = stdin.Close()
		return nil, errEnding
	}
	if err := cmd.Start(); err != nil {
		_ = stdin.Close()
		return nil, fmt.Errorf("starting %s: %w", strings.Join(cmd.Args, " "), err)
	}
	c.Pid = cmd.Process.Pid
	l.Cleanup(fmt.Sprintf("end child process %d", c.Pid), c.end)
	return c, nil
}

// end is the child's cleanup: SIGTERM, unless it has been waited for already
// (os.Process sends nothing then, and no other process that got its pid can be
// hit), then Finish, SIGKILL if it takes longer than ChildGrace. The step's
// goroutine may be in Await, holding the lock, until the child ends.
func (c *Child) end() error {
	c.ending.Store(true)
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	kill := time.AfterFunc(ChildGrace, func() { _ = c.cmd.Process.Kill() })
	defer kill.Stop()
	_ = c.Finish() // its exit status was reported where it mattered
	return nil
}

// childStderr passes a child's standard error on, except once the lesson is ending
// the child.
type childStderr struct {
	c *Child
	w io.Writer
}

func (e childStderr) Write(b []byte) (int, error) {
	if e.c.ending.Load() {
		return len(b), nil
	}
	return e.w.Write(b)
}

// relay prints one line of the child's output in the lesson's narration.
func (c *Child) relay(line string) {
	fmt.Fprintf(c.l.Out, "   [pid %d] %s\n", c.Pid, strings.TrimLeft(line, " "))
}

// Await relays the child's narration until the child tells (Tell) the parent verb,
// and returns the fields that came with it. Narration is for the learner and may
// change; the parent waits only for these protocol lines, which it does not print.
// A protocol line with another verb, or the child ending first, is an error (the
// child is then waited for).
func (c *Child) Await(verb string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.lines.Scan() {
		line := c.lines.Text()
		fields, ok := ProtocolLine(line)
		if !ok {
			c.relay(line)
			continue
		}
		if fields[0] != verb {
			_ = c.finish()
			return nil, fmt.Errorf("the child (pid %d) said %q where the lesson waited for %s", c.Pid, strings.Join(fields, " "), verb)
		}
		return fields[1:], nil
	}
	_ = c.finish()
	return nil, fmt.Errorf("the child (pid %d) ended before it said %s", c.Pid, verb)
}

// Send writes line and a newline to the child's standard input.
func (c *Child) Send(line string) error {
	_, err := io.WriteString(c.stdin, line+"\n") // a pipe: safe beside Await and Finish
	return err
}

// Finish closes the child's standard input, relays the rest of its output and
// waits for it to end. A child that ends with a non-zero status, or is killed by
// a signal, gives an *ExitError. Calling Finish again returns the same result.
func (c *Child) Finish() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.finish()
}

func (c *Child) finish() error {
	if c.waited {
		return c.err
	}
	_ = c.stdin.Close()
	for c.lines.Scan() {
		if _, ok := ProtocolLine(c.lines.Text()); !ok {
			c.relay(c.lines.Text())
		}
	}
	c.waited = true
	c.err = c.cmd.Wait()
	var exit *exec.ExitError
	if errors.As(c.err, &exit) {
		c.err = &ExitError{Status: exit.ExitCode(), State: exit.String()}
	}
	return c.err
}

// ExitError is a child that did not end with exit status 0.
type ExitError struct {
	Status int    // the exit status, or -1 if a signal killed it
	State  string // as the shell would put it: "exit status 2", "signal: killed"
}

func (e *ExitError) Error() string { return e.State }

// The line protocol between a child and its parent. The child's standard output
// carries narration, which the parent relays to the learner, and protocol lines,
// which the parent reads and does not print: the prefix, a verb and its fields,
// separated by spaces:
//
//	@@ READY
//	@@ ADDR 0x7f3c2a1b6000
const protocolPrefix = "@@ "

// Tell writes a protocol line for the parent (Child.Await) on the child's standard
// output: verb and the fields, each printed with %v and containing no space.
func (l *Lesson) Tell(verb string, fields ...any) {
	line := protocolPrefix + verb
	for _, f := range fields {
		line += " " + fmt.Sprint(f)
	}
	fmt.Fprintln(l.Out, line)
}

// ProtocolLine splits a protocol line into its verb and fields; ok is false for a
// line of narration. For a parent that reads its children itself (06-sync's launcher).
func ProtocolLine(line string) ([]string, bool) {
	rest, ok := strings.CutPrefix(line, protocolPrefix)
	if !ok {
		return nil, false
	}
	fields := strings.Fields(rest)
	return fields, len(fields) > 0
}
