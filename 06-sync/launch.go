//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

// launch is the default run: this program again as a consumer process and as a
// producer process, with the same flags, their output prefixed with their role.
func launch(l *lesson.Lesson, args []string) error {
	var f streamFlags
	f.define(l)
	if err := l.Parse(args); err != nil {
		return err
	}
	key, _, err := f.check()
	if err != nil {
		return err
	}
	l.Step("Start a consumer and a producer: this program again, role first")
	l.Say("they meet under key %v; the first creates the segment and semaphores, the second opens them", key)
	var children []*child
	for _, role := range []string{"consumer", "producer"} {
		c, err := startChild(l, role, args)
		if err != nil {
			return err
		}
		children = append(children, c)
	}
	l.Look("ps -o pid,args -p %d,%d", children[0].cmd.Process.Pid, children[1].cmd.Process.Pid)
	return waitChildren(l, children)
}

// child is a running role process.
type child struct {
	role string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // how it ended, once done is closed
	out  sync.WaitGroup
}

func startChild(l *lesson.Lesson, role string, args []string) (*child, error) {
	cmd, err := reexec.Command(append([]string{role}, args...)...)
	if err != nil {
		return nil, err
	}
	c := &child{role: role, cmd: cmd, done: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the %s: %w", role, err)
	}
	l.Result("started the %s, pid %d", role, cmd.Process.Pid)
	c.out.Add(2)
	go c.copyLines(l.Out, stdout)
	go c.copyLines(l.Err, stderr)
	go func() {
		c.out.Wait() // all output copied before Wait closes the pipes
		c.err = cmd.Wait()
		close(c.done)
	}()
	// If the launcher is stopped (SIGINT, SIGTERM, an error), stop the child too.
	l.Cleanup(fmt.Sprintf("stop the %s (pid %d)", role, cmd.Process.Pid), c.stop)
	return c, nil
}

// copyLines copies the child's output line by line, each prefixed with its role.
func (c *child) copyLines(w io.Writer, r io.Reader) {
	defer c.out.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		fmt.Fprintf(w, "%-8s| %s\n", c.role, sc.Text())
	}
}

// stop asks the child to end (SIGTERM runs its cleanups) and kills it if it
// does not within 3 seconds.
func (c *child) stop() error {
	select {
	case <-c.done:
		return nil
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(3 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	return nil
}

// waitChildren waits for both. When one fails, the other has a few seconds to
// notice by itself (it should, within 2 s) before it is stopped.
func waitChildren(l *lesson.Lesson, children []*child) error {
	ended := make(chan *child, len(children))
	for _, c := range children {
		go func() { <-c.done; ended <- c }()
	}
	var grace <-chan time.Time
	for left := len(children); left > 0; {
		select {
		case c := <-ended:
			left--
			if c.err != nil && grace == nil {
				grace = time.After(5 * time.Second)
			}
		case <-grace:
			for _, c := range children {
				_ = c.stop() // returns at once for one that has ended
			}
		}
	}
	var failures []string
	for _, c := range children {
		if c.err != nil {
			failures = append(failures, fmt.Sprintf("the %s (pid %d) failed: %s", c.role, c.cmd.Process.Pid, describeExit(c.err)))
		}
	}
	if len(failures) > 0 {
		return errors.New(strings.Join(failures, "; "))
	}
	l.Step("Done")
	l.Result("both processes finished successfully")
	l.Look("ipcs -m -s   # nothing left under the key")
	return nil
}

func describeExit(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Sprintf("killed by signal %d (%v)", ws.Signal(), ws.Signal())
		}
		return fmt.Sprintf("exit status %d", ee.ExitCode())
	}
	return err.Error()
}
