//go:build linux

package main

// What every role checks before it touches anything. A role is this program started
// again by the lesson (lesson.Roles refuses it when typed by hand); it is handed a
// segment id on its command line and must act only on the segment that its parent,
// the lesson, created in this run.

import (
	"fmt"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

// roleID parses the one argument of a role: a segment id, which must fit in a C int
// (shmctl takes an int; a larger number must not be cut down to another segment's id).
func roleID(role string, args []string) (int, error) {
	if len(args) != 1 {
		return 0, lesson.Usagef("%s takes one argument, a segment id", role)
	}
	return parseID(role+":", args[0])
}

// parentsSegment returns segment id's line of /proc/sysvipc/shm if the process that
// started this role created it (lesson.ParentCreated: shm_cpid is our parent's pid)
// with the size the lesson uses, and an error otherwise. /proc/sysvipc/shm lists
// every segment to everyone, so the check works for a role that may not IPC_STAT the
// segment (the stranger).
func parentsSegment(id int, size uint64) (procsysv.Shm, error) {
	if err := lesson.ParentCreated(id); err != nil {
		return procsysv.Shm{}, err
	}
	s, ok, err := procsysv.FindShm(id)
	switch {
	case err != nil:
		return s, err
	case !ok:
		return s, fmt.Errorf("segment %d is gone", id)
	case s.Size != size:
		return s, fmt.Errorf("segment %d has %d bytes, not the lesson's %d: I touch no other", id, s.Size, size)
	}
	return s, nil
}

// commandAsNobody returns a command that runs role as the unprivileged user nobody,
// which only root may start, and its uid. reexec.CommandAs copies this program where
// nobody may run it; the copy is removed when the lesson ends.
func commandAsNobody(l *lesson.Lesson, role string, args ...string) (*exec.Cmd, uint32, error) {
	uid, gid := reexec.Nobody()
	cmd, err := lesson.CommandAs(l, uid, gid, append([]string{role}, args...)...)
	return cmd, uid, err
}

// commandAsOrdinaryUser returns a command that runs role without privilege: as
// nobody when we are root, as ourselves otherwise; and who that is, for the narration.
func commandAsOrdinaryUser(l *lesson.Lesson, role string, args ...string) (*exec.Cmd, string, error) {
	if os.Geteuid() != 0 {
		cmd, err := reexec.Command(append([]string{role}, args...)...)
		return cmd, fmt.Sprintf("as you (uid %d)", os.Geteuid()), err
	}
	cmd, uid, err := commandAsNobody(l, role, args...)
	return cmd, fmt.Sprintf("as nobody (uid %d)", uid), err
}

// attachParents is how a role attaches the segment its argument names: only if its
// parent created it with size bytes (parentsSegment). It returns the attachment.
func attachParents(role string, args []string, size uint64) ([]byte, error) {
	id, err := roleID(role, args)
	if err != nil {
		return nil, err
	}
	if _, err := parentsSegment(id, size); err != nil {
		return nil, err
	}
	mem, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		return nil, lesson.Failed(fmt.Sprintf("shmat(%d, NULL, 0)", id), err, "")
	}
	return mem, nil
}

// startRole starts this program again as role with args, and says so: the command
// line, and how the second process finds the memory.
func startRole(l *lesson.Lesson, how, role string, args ...string) (*child, error) {
	cmd, err := reexec.Command(append([]string{role}, args...)...)
	if err != nil {
		return nil, err
	}
	l.Call("second process: %s    (%s)", strings.Join(append([]string{name, role}, args...), " "), how)
	return startChild(l, cmd)
}

// child is a second process of the lesson. lesson.StartChild starts it in a process
// group of its own, so that Ctrl-C reaches the lesson alone, and registers its end
// (SIGTERM, then wait) as a cleanup, so that the lesson waits for it however it ends.
type child = lesson.Child

// startChild starts cmd as a child of the lesson (lesson.StartChild).
func startChild(l *lesson.Lesson, cmd *exec.Cmd) (*child, error) {
	return lesson.StartChild(l, cmd)
}
