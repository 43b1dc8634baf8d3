//go:build linux

package main

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// addressErrors is step 8: shmat's EINVALs, for an id that names nothing and for an
// address it cannot use. The read-only attachment is detached at the end.
func (t *tour) addressErrors() error {
	l := t.l
	l.Step("When shmat cannot attach: EINVAL (and where EIDRM would come from)")
	gone, err := removedID(l)
	if err != nil {
		return err
	}
	tryAttach(l, gone, 0, 0, fmt.Sprintf("segment %d was created and removed just now", gone))
	l.Say("EINVAL, not EIDRM: the id names no segment now. EIDRM is for a segment being")
	l.Say("destroyed at the very moment shmat finds it: a race, not something to reproduce.")

	at := shm.Addr(t.ro) + 123
	tryAttach(l, t.id, at, 0, "an address that is not page-aligned")
	tryAttach(l, t.id, at, unix.SHM_RND, fmt.Sprintf("SHM_RND rounds it down to %#x, where the read-only attachment is", shm.Addr(t.ro)))
	l.Say("An address must be free: shmat never replaces a mapping (unless SHM_REMAP, which")
	l.Say("in Go could replace memory the runtime owns: leave it alone).")
	l.Call("shmdt(%#x)    (the read-only attachment: lesson 04; not used again)", shm.Addr(t.ro))
	if err := unix.SysvShmDetach(t.ro); err != nil {
		return lesson.Failed(fmt.Sprintf("shmdt(%#x)", shm.Addr(t.ro)), err, "")
	}
	t.ro = nil
	return nil
}

// removedID creates a segment and removes it, for an id that names nothing.
func removedID(l *lesson.Lesson) (int, error) {
	const call = "shmget(IPC_PRIVATE, 4096, IPC_CREAT|IPC_EXCL|0600)"
	l.Call("%s    (a segment to remove at once)", call)
	id, err := shm.Create(l, unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	if err != nil {
		return 0, lesson.Failed(call, err, whyShmget(err))
	}
	l.Call("shmctl(%d, IPC_RMID, NULL)", id)
	if err := shm.Remove(id); err != nil {
		return 0, lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_RMID, NULL)", id), err, "")
	}
	return id, nil
}

// tryAttach makes an attach that is expected to fail and prints the errno.
func tryAttach(l *lesson.Lesson, id int, at uintptr, flags int, why string) {
	l.Call("shmat(%d, %s, %s)    (%s)", id, addrName(at), flagNames(flags), why)
	b, err := unix.SysvShmAttach(id, at, flags)
	if err != nil {
		l.Result("%s", lesson.ErrnoText(err))
		return
	}
	l.Result("mapped at %#x (and detached again)", shm.Addr(b))
	_ = unix.SysvShmDetach(b)
}
