//go:build linux

package lesson

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const roleChild = "child"

// demoChild is the child of these tests: it says it is ready, answers every line
// it reads with "got LINE", and at end of input ends the way its argument says:
// "ok" (status 0), "fail" (status 1) or "mute" (status 0, without saying goodbye).
func demoChild(l *Lesson, args []string) error {
	if len(args) != 1 {
		return Usagef("child takes one argument: ok, fail or mute")
	}
	l.Result("ready, pid %d", os.Getpid())
	l.Tell("READY", os.Getpid())
	in := bufio.NewScanner(l.In)
	for in.Scan() {
		l.Result("got %s", in.Text())
		l.Tell("GOT", in.Text())
	}
	switch args[0] {
	case "fail":
		return errors.New("asked to fail")
	case "mute":
		return nil
	}
	l.Say("goodbye")
	return nil
}

// childCmd is a command that runs this test binary as the child of these tests
// (TestMain makes it run demo) with args.
func childCmd(args ...string) *exec.Cmd {
	return exec.Command(os.Args[0], append([]string{roleChild}, args...)...)
}

// withChild runs body in a lesson (Run) with cmd started as its child, and returns
// the lesson's narration and error output.
func withChild(t *testing.T, cmd *exec.Cmd, body func(c *Child) error) (stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	status := Run("demo", testUsage, func(l *Lesson, _ []string) error {
		c, err := StartChild(l, cmd)
		require.NoError(t, err)
		return body(c)
	}, nil, strings.NewReader(""), &out, &errb)
	require.Equal(t, ExitOK, status, "stderr: %s", errb.String())
	return out.String(), errb.String()
}

func TestChildAwaitReadsProtocolLinesAndRelaysTheRest(t *testing.T) {
	var pid int
	out, _ := withChild(t, childCmd("ok"), func(c *Child) error {
		pid = c.Pid
		fields, err := c.Await("READY")
		require.NoError(t, err)
		assert.Equal(t, []string{strconv.Itoa(c.Pid)}, fields, "the fields after the verb")
		require.NoError(t, c.Send("hello"))
		fields, err = c.Await("GOT")
		require.NoError(t, err)
		assert.Equal(t, []string{"hello"}, fields)
		require.NoError(t, c.Send("again"))
		return c.Finish() // a protocol line Finish meets is not printed either
	})
	want := fmt.Sprintf("   [pid %[1]d] -> ready, pid %[1]d\n   [pid %[1]d] -> got hello\n   [pid %[1]d] -> got again\n   [pid %[1]d] goodbye\n", pid)
	assert.Equal(t, want, out, "narration relayed, protocol lines not shown")
}

func TestChildAwaitFailsOnAnotherVerbOrTheEnd(t *testing.T) {
	withChild(t, childCmd("ok"), func(c *Child) error {
		_, err := c.Await("ADDR")
		assert.EqualError(t, err, fmt.Sprintf(`the child (pid %d) said "READY %d" where the lesson waited for ADDR`, c.Pid, c.Pid))
		assert.True(t, c.waited, "Await waited for the child")
		return nil
	})
	withChild(t, childCmd("mute"), func(c *Child) error {
		_, err := c.Await("READY")
		require.NoError(t, err)
		require.NoError(t, c.stdin.Close())
		_, err = c.Await("GOT")
		assert.EqualError(t, err, fmt.Sprintf(`the child (pid %d) ended before it said GOT`, c.Pid))
		return nil
	})
}

func TestChildFinishReportsTheExitStatus(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		end        func(c *Child)
		wantStatus int
		wantState  string
		wantStderr string
	}{
		{"exit 1", []string{"fail"}, func(*Child) {}, ExitFailed, "exit status 1", "demo: asked to fail\n"},
		{"exit 2 (no argument)", nil, func(*Child) {}, ExitUsage, "exit status 2", "(run with -h for usage)"},
		{"killed", []string{"ok"}, func(c *Child) { _ = c.cmd.Process.Signal(syscall.SIGKILL) }, -1, "signal: killed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr := withChild(t, childCmd(tt.args...), func(c *Child) error {
				tt.end(c)
				err := c.Finish()
				var exit *ExitError
				require.ErrorAs(t, err, &exit)
				assert.Equal(t, tt.wantStatus, exit.Status)
				assert.Equal(t, tt.wantState, exit.Error())
				assert.Same(t, err, c.Finish(), "a second Finish returns the same result")
				return nil
			})
			assert.Contains(t, stderr, tt.wantStderr, "the child's stderr goes to the lesson's")
		})
	}
}

func TestChildStderrGoesWhereCmdSays(t *testing.T) {
	var own bytes.Buffer
	cmd := childCmd("fail")
	cmd.Stderr = &own
	_, stderr := withChild(t, cmd, func(c *Child) error {
		var exit *ExitError
		require.ErrorAs(t, c.Finish(), &exit)
		return nil
	})
	assert.Equal(t, "demo: asked to fail\n", own.String())
	assert.Empty(t, stderr, "not the lesson's")
}

func TestStartChildFailsForAMissingProgram(t *testing.T) {
	status := Run("demo", testUsage, func(l *Lesson, _ []string) error {
		_, err := StartChild(l, exec.Command("/nonexistent/program", "x"))
		assert.ErrorContains(t, err, "starting /nonexistent/program x")
		return nil
	}, nil, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	assert.Equal(t, ExitOK, status)
}

// A child runs in a process group of its own: Ctrl-C in a terminal, which signals
// the foreground process group, reaches the lesson alone, which ends the child.
func TestStartChildGivesTheChildItsOwnProcessGroup(t *testing.T) {
	withChild(t, childCmd("ok"), func(c *Child) error {
		pgid, err := syscall.Getpgid(c.Pid)
		require.NoError(t, err)
		assert.Equal(t, c.Pid, pgid, "the child leads a group of its own")
		assert.NotEqual(t, syscall.Getpgrp(), pgid, "not the lesson's group")
		return c.Finish()
	})
}

// The lesson's cleanup ends a child that is still running when the program ends
// (here it returns without Finish; a signal runs the same cleanup), waits for it,
// and drops what the ended child says on standard error ("terminated: cleaning up
// and exiting"): the lesson's own line is the only one.
func TestTheCleanupEndsARunningChild(t *testing.T) {
	var pid int
	stdout, stderr := withChild(t, childCmd("ok"), func(c *Child) error {
		pid = c.Pid
		_, err := c.Await("READY") // the child waits for its input to end
		return err
	})
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "the child (pid %d) has ended and been waited for", pid)
	assert.Empty(t, stderr, "the ended child's own line is dropped")
	assert.Contains(t, stdout, fmt.Sprintf("[pid %d] -> ready", pid))
}

// Once the cleanups have begun, StartChild starts nothing: the child would outlive
// the cleanup that ends children.
func TestStartChildRefusedOnceTheCleanupsBegan(t *testing.T) {
	status := Run("demo", testUsage, func(l *Lesson, _ []string) error {
		l.runCleanups(true) // what a signal does first
		c, err := StartChild(l, childCmd("ok"))
		assert.Nil(t, c)
		assert.ErrorIs(t, err, errEnding)
		return nil
	}, nil, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	assert.Equal(t, ExitOK, status)
}
