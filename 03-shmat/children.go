//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
)

// The roles this program plays as a second process, started by the lesson with
// reexec.Command(role, id...). The role is the first argument, so ps shows it.
const (
	roleAttacher       = "attacher"        // attach, read the message, write a reply
	roleReadOnlyWriter = "readonly-writer" // attach SHM_RDONLY and write, unprotected
	roleOtherUser      = "other-user"      // try to attach, running as another user
)

var roles map[string]lesson.Program

func init() {
	roles = map[string]lesson.Program{
		roleAttacher:       runAttacher,
		roleReadOnlyWriter: runReadOnlyWriter,
		roleOtherUser:      runOtherUser,
	}
}

// runAttacher is the second process: it attaches the segment by id, reads the
// parent's message through the header's offsets, writes its reply, and stays
// attached until the parent closes its standard input.
func runAttacher(l *lesson.Lesson, args []string) error {
	ids, err := roleIDs(args, 1)
	if err != nil {
		return err
	}
	id := ids[0]
	l.Say("started with segment id %d on my command line; I inherited no attachment", id)
	b, err := attach(l, id, 0)
	if err != nil {
		return err
	}
	l.Result("mapped at %#x", addr(b))
	h, err := headerIn(b)
	if err != nil {
		return err
	}
	if err := h.check(); err != nil {
		return err
	}
	l.Result("header: magic %#x, version %d; message at offset %d: %q", h.Magic, h.Version, h.MsgOff, message(b, h))
	if err := writeReply(b, h, fmt.Sprintf("hello back from pid %d", os.Getpid())); err != nil {
		return err
	}
	l.Say("reply written at offset %d; staying attached until the parent has looked", h.ReplyOff)
	_, _ = io.Copy(io.Discard, l.In) // the parent closes our stdin when it is done
	l.Call("shmdt(%#x)", addr(b))
	if err := unix.SysvShmDetach(b); err != nil {
		return lesson.Failed(fmt.Sprintf("shmdt(%#x)", addr(b)), err, "")
	}
	return nil
}

// runReadOnlyWriter writes through a read-only attachment without
// SetPanicOnFault: the Go runtime ends the process (exit status 2).
func runReadOnlyWriter(l *lesson.Lesson, args []string) error {
	ids, err := roleIDs(args, 1)
	if err != nil {
		return err
	}
	b, err := attach(l, ids[0], unix.SHM_RDONLY)
	if err != nil {
		return err
	}
	l.Result("mapped read-only at %#x; now ro[0] = 'X', with no SetPanicOnFault", addr(b))
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
	l.Say("running as uid %d, gid %d", os.Geteuid(), os.Getegid())
	tryAttach(l, private, 0, unix.SHM_RDONLY, "mode 0600, read-only")
	tryAttach(l, open, 0, unix.SHM_RDONLY, "mode 0644, read-only")
	tryAttach(l, open, 0, 0, "mode 0644, read-write")
	return nil
}

// roleIDs parses the n segment ids a role is given.
func roleIDs(args []string, n int) ([]int, error) {
	if len(args) != n {
		return nil, lesson.Usagef("this role takes %d segment id(s), got %q", n, args)
	}
	ids := make([]int, n)
	for i, a := range args {
		id, err := parseID(a)
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}
