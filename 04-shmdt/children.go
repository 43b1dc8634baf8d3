//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

// The roles this program plays as a child process, started with
// reexec.Command(role, args...). The role is the first argument, so ps shows it.
const (
	roleTouchRecovering = "touch-recovering" // detach, then read with SetPanicOnFault
	roleTouchFatal      = "touch-fatal"      // detach, then read without it
	roleAttachAndExit   = "attach-and-exit"  // attach, wait, exit without shmdt
	roleAttachAndExec   = "attach-and-exec"  // attach, wait, exec roleAfterExec
	roleAfterExec       = "after-exec"       // the program the exec starts
	roleCreateAndLeave  = "create-and-leave" // create a segment and exit, leaving it
)

var roles map[string]lesson.Program

func init() {
	roles = map[string]lesson.Program{
		roleTouchRecovering: runTouchRecovering,
		roleTouchFatal:      runTouchFatal,
		roleAttachAndExit:   runAttachAndExit,
		roleAttachAndExec:   runAttachAndExec,
		roleAfterExec:       runAfterExec,
		roleCreateAndLeave:  runCreateAndLeave,
	}
}

// attachThenDetach attaches segment id and detaches it, keeping the slice: the
// mistake the touch roles make on purpose.
func attachThenDetach(l *lesson.Lesson, args []string) ([]byte, error) {
	id, err := roleID(args)
	if err != nil {
		return nil, err
	}
	b, err := attach(l, id, 0)
	if err != nil {
		return nil, err
	}
	l.Result("mapped at %#x", addr(b))
	return b, detach(l, b)
}

func runTouchRecovering(l *lesson.Lesson, args []string) error {
	b, err := attachThenDetach(l, args)
	if err != nil {
		return err
	}
	l.Call("debug.SetPanicOnFault(true); read b[0]")
	var v byte
	err = lesson.RecoverFault(func() { v = b[0] })
	var fault *lesson.FaultError
	if errors.As(err, &fault) {
		if fault.Addr != addr(b) {
			l.Result("recovered a panic: %s, at %#x, not the detached %#x (Addr is best-effort)", fault.Msg, fault.Addr, addr(b))
			return nil
		}
		l.Result("recovered a panic: %s, at %#x: the detached address", fault.Msg, fault.Addr)
		return nil
	}
	l.Result("read %#x without a fault: something else is mapped at %#x now", v, addr(b))
	return nil
}

func runTouchFatal(l *lesson.Lesson, args []string) error {
	b, err := attachThenDetach(l, args)
	if err != nil {
		return err
	}
	l.Call("read b[0]    (no SetPanicOnFault)")
	l.Result("read %#x without a fault: something else is mapped at %#x now", b[0], addr(b))
	return nil
}

func runAttachAndExit(l *lesson.Lesson, args []string) error {
	id, err := roleID(args)
	if err != nil {
		return err
	}
	b, err := attach(l, id, 0)
	if err != nil {
		return err
	}
	l.Result("mapped at %#x; waiting, then exiting without shmdt", addr(b))
	_, _ = io.Copy(io.Discard, l.In) // the parent closes our stdin when it has looked
	return nil
}

func runAttachAndExec(l *lesson.Lesson, args []string) error {
	id, err := roleID(args)
	if err != nil {
		return err
	}
	b, err := attach(l, id, 0)
	if err != nil {
		return err
	}
	l.Result("mapped at %#x in pid %d; waiting for the word to exec", addr(b), os.Getpid())
	if _, err := bufio.NewReader(l.In).ReadString('\n'); err != nil {
		return errors.New("the parent went away before saying exec")
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	l.Call("execve(%s, [%s %s])    (no shmdt)", exe, name, roleAfterExec)
	err = unix.Exec(exe, []string{exe, roleAfterExec}, os.Environ())
	return lesson.Failed("execve", err, "") // Exec returns only on failure
}

func runAfterExec(l *lesson.Lesson, _ []string) error {
	l.Result("after exec: pid %d, the same process, a fresh program that never attached", os.Getpid())
	_, _ = io.Copy(io.Discard, l.In)
	return nil
}

// runCreateAndLeave creates a segment, writes in it and exits without detaching
// or removing it, once the parent has taken charge of removing it.
func runCreateAndLeave(l *lesson.Lesson, _ []string) error {
	const call = "shmget(IPC_PRIVATE, 4096, IPC_CREAT|IPC_EXCL|0600)"
	l.Call("%s", call)
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	if err != nil {
		return lesson.Failed(call, err, "")
	}
	b, err := attach(l, id, 0)
	if err != nil {
		_ = remove(id)
		return err
	}
	copy(b, fmt.Sprintf("left here by pid %d", os.Getpid()))
	l.Result("created segment %d", id)
	if _, err := bufio.NewReader(l.In).ReadString('\n'); err != nil {
		// The parent is gone before it could take the segment over: do not leak it.
		_ = remove(id)
		return fmt.Errorf("the parent went away; removed segment %d", id)
	}
	l.Say("exiting without shmdt or IPC_RMID")
	return nil
}

func roleID(args []string) (int, error) {
	if len(args) != 1 {
		return 0, lesson.Usagef("this role takes one segment id, got %q", args)
	}
	return parseID(args[0])
}

// startRole starts this program again as role with args, as a child whose
// narration is relayed into ours. Its stderr goes to stderr, or to ours if that is nil.
func startRole(l *lesson.Lesson, stderr io.Writer, role string, args ...string) (*lesson.Child, error) {
	cmd, err := reexec.Command(append([]string{role}, args...)...)
	if err != nil {
		return nil, err
	}
	l.Call("%s    (this program again, as a child process)", strings.Join(append([]string{name, role}, args...), " "))
	cmd.Stderr = stderr
	return lesson.StartChild(l, cmd)
}
