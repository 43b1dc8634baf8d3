//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/reexec"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// The roles this program plays as a second process, started by the lesson with
// reexec.Command(role, id...). The role is the first argument, so ps shows it.
// lesson.Roles runs a role only for the lesson that started it, and every role checks
// that its segment is that lesson's (lesson.ParentCreated) before it attaches: typed
// by hand, or handed another program's id, a role does nothing.
const (
	roleAttacher       = "attacher"        // step 5: attach, read the message, write a reply
	roleReadOnlyWriter = "readonly-writer" // step 7: attach SHM_RDONLY and write, unprotected
	roleOtherUser      = "other-user"      // step 10: try to attach, running as another user
	roleReader         = "reader"          // step 11: read bytes of the segment when asked (append.go)
	roleWaiter         = "waiter"          // step 12: poll a flag, plain and atomic (polling.go)
	roleCounter        = "counter"         // step 13: count in the segment without synchronisation (racedetector.go)
	rolePointerReader  = "pointer-reader"  // step 14: follow a pointer found in the segment (pointers.go)
)

var roles lesson.Roles

func init() {
	roles = lesson.Roles{
		roleAttacher:       runAttacher,
		roleReadOnlyWriter: runReadOnlyWriter,
		roleOtherUser:      runOtherUser,
		roleReader:         runReader,
		roleWaiter:         runWaiter,
		roleCounter:        runCounter,
		rolePointerReader:  runPointerReader,
	}
}

// runAttacher is the second process of step 5: it attaches the segment by id,
// reads the parent's message through the header's offsets, writes its reply, and
// stays attached until the parent closes its standard input.
func runAttacher(l *lesson.Lesson, args []string) error {
	b, err := attachParents(l, args, 0)
	if err != nil {
		return err
	}
	l.Tell("ADDR", fmt.Sprintf("%#x", shm.Addr(b)))
	h, err := headerIn(b)
	if err != nil {
		return err
	}
	if err := h.check(); err != nil {
		return err
	}
	l.Result("header: magic %#x, version %d; message at offset %d: %q", h.Magic, h.Version, h.MsgOff, message(b, h))
	msg := fmt.Sprintf("hello back from pid %d", os.Getpid())
	l.Call("writeReply(b, %q)    (at the offset the header names, checked first)", msg)
	if err := writeReply(b, h, msg); err != nil {
		return err
	}
	l.Say("reply written; staying attached until the parent has looked")
	l.Tell("READY")
	_, _ = io.Copy(io.Discard, l.In) // the parent closes our stdin when it is done
	return detachRole(l, b)
}

// runReadOnlyWriter writes through a read-only attachment without
// SetPanicOnFault: the Go runtime ends the process (exit status 2).
func runReadOnlyWriter(l *lesson.Lesson, args []string) error {
	b, err := attachParents(l, args, unix.SHM_RDONLY)
	if err != nil {
		return err
	}
	l.Call("ro[0] = 'X'    (no SetPanicOnFault)")
	b[0] = 'X'
	return errors.New("the write to a read-only attachment did not fault")
}

// runOtherUser tries three attaches as another user (started with
// reexec.CommandAs): a 0600 segment read-only, a 0644 one read-only and read-write.
func runOtherUser(l *lesson.Lesson, args []string) error {
	ids, err := roleIDs(args, 2)
	if err != nil {
		return err
	}
	private, open := ids[0], ids[1]
	for _, id := range ids {
		if err := lesson.ParentCreated(id); err != nil {
			return err
		}
	}
	l.Say("running as uid %d, gid %d", os.Geteuid(), os.Getegid())
	tryAttach(l, private, 0, unix.SHM_RDONLY, "mode 0600, read-only")
	tryAttach(l, open, 0, unix.SHM_RDONLY, "mode 0644, read-only")
	tryAttach(l, open, 0, 0, "mode 0644, read-write")
	return nil
}

// attachParents is how a role starts: one segment id as its only argument, a
// segment its parent created, attached with flags.
func attachParents(l *lesson.Lesson, args []string, flags int) ([]byte, error) {
	ids, err := roleIDs(args, 1)
	if err != nil {
		return nil, err
	}
	if err := lesson.ParentCreated(ids[0]); err != nil {
		return nil, err
	}
	l.Say("started with segment id %d on my command line; I inherited no attachment", ids[0])
	b, err := attach(l, ids[0], flags)
	if err != nil {
		return nil, err
	}
	l.Result("mapped at %#x", shm.Addr(b))
	return b, nil
}

// detachRole ends a role that is done with its attachment.
func detachRole(l *lesson.Lesson, b []byte) error {
	l.Call("shmdt(%#x)", shm.Addr(b))
	if err := unix.SysvShmDetach(b); err != nil {
		return lesson.Failed(fmt.Sprintf("shmdt(%#x)", shm.Addr(b)), err, "")
	}
	return nil
}

// roleIDs parses the n segment ids a role is given.
func roleIDs(args []string, n int) ([]int, error) {
	if len(args) != n {
		return nil, lesson.Usagef("this role takes %d segment id(s), got %q", n, args)
	}
	ids := make([]int, n)
	for i, a := range args {
		id, err := shm.ParseID(a)
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}

// startRole starts this program again as role with args, as a child whose
// narration is relayed into ours. Its stderr goes to stderr, or to ours if that is nil.
func startRole(l *lesson.Lesson, stderr io.Writer, role string, args ...string) (*lesson.Child, error) {
	cmd, err := reexec.Command(append([]string{role}, args...)...)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = stderr
	return lesson.StartChild(l, cmd)
}
