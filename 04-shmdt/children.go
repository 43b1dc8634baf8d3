//go:build linux

package main

import (
	"io"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/reexec"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// The roles this program plays as a child process, started with
// reexec.Command(role, args...). The role is the first argument, so ps shows it.
// lesson.Roles runs a role only for the lesson that started it, and every role that
// is given a segment checks that its lesson created it (lesson.ParentCreated) before
// it attaches: typed by hand, or handed another program's id, a role does nothing.
const (
	roleTouchRecovering = "touch-recovering" // step 5: detach, then read with SetPanicOnFault (touch.go)
	roleTouchFatal      = "touch-fatal"      // step 5: detach, then read without it (touch.go)
	roleAttachAndExit   = "attach-and-exit"  // step 6: attach, wait, exit without shmdt (exit.go)
	roleAttachAndExec   = "attach-and-exec"  // step 7: attach, wait, exec roleAfterExec (exec.go)
	roleAfterExec       = "after-exec"       // step 7: the program the exec starts (exec.go)
	roleCreateAndLeave  = "create-and-leave" // step 11: create a segment and exit, leaving it (outlive.go)
)

var roles lesson.Roles

func init() {
	roles = lesson.Roles{
		roleTouchRecovering: runTouchRecovering,
		roleTouchFatal:      runTouchFatal,
		roleAttachAndExit:   runAttachAndExit,
		roleAttachAndExec:   runAttachAndExec,
		roleAfterExec:       runAfterExec,
		roleCreateAndLeave:  runCreateAndLeave,
	}
}

// attachParents is how a role that is given a segment starts: one id as its only
// argument, a segment its parent created, attached with flags.
func attachParents(l *lesson.Lesson, args []string, flags int) ([]byte, error) {
	if len(args) != 1 {
		return nil, lesson.Usagef("this role takes one segment id, got %q", args)
	}
	id, err := shm.ParseID(args[0])
	if err != nil {
		return nil, err
	}
	if err := lesson.ParentCreated(id); err != nil {
		return nil, err
	}
	b, err := attach(l, id, flags)
	if err != nil {
		return nil, err
	}
	l.Result("mapped at %#x", shm.Addr(b))
	return b, nil
}

// startRole starts this program again as role with args, as a child whose
// narration is relayed into ours. Its stderr goes to stderr, or to ours if that is nil.
func startRole(l *lesson.Lesson, stderr io.Writer, role string, args ...string) (*lesson.Child, error) {
	cmd, err := reexec.Command(append([]string{role}, args...)...)
	if err != nil {
		return nil, err
	}
	l.Call("%s %s    (this program again, as a child process)", name, joinArgs(role, args))
	cmd.Stderr = stderr
	return lesson.StartChild(l, cmd)
}
