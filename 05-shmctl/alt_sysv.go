//go:build linux

package main

// Appendix step 1: the exchange over a System V segment, the way this course does it.

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// sysv creates a segment, attaches it, and has a child attach it by id.
func (a *altState) sysv() error {
	l := a.l
	l.Step("System V: shmget, shmat, the id on the child's command line")
	call := fmt.Sprintf("shmget(IPC_PRIVATE, %d, IPC_CREAT|0600)", altSize)
	l.Call("%s", call)
	id, err := shm.Create(l, unix.IPC_PRIVATE, altSize, unix.IPC_CREAT|0o600)
	if err != nil {
		return lesson.Failed(call, err, "see 02-shmget")
	}
	l.Result("id %d", id)
	call = fmt.Sprintf("shmat(%d, NULL, 0)", id)
	l.Call("%s", call)
	mem, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		return lesson.Failed(call, err, "")
	}
	err = exchange(l, mem, func() (*child, error) {
		return startRole(l, "it attaches by id", roleAltSysV, strconv.Itoa(id))
	}, nil)
	if err != nil {
		return err
	}
	call = fmt.Sprintf("shmctl(%d, IPC_RMID, NULL)", id)
	l.Call("%s", call)
	if _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); err != nil {
		return lesson.Failed(call, err, "")
	}
	l.Result("0: marked; it goes when this process detaches or exits, even killed with -9")
	l.Say("Found by a key or an id, system-wide (in this IPC namespace). Forgotten IPC_RMID, or a")
	l.Say("crash before it: the segment stays until reboot; ipcs -m shows it.")
	l.Look("ipcs -m -i %d", id)
	a.maps = append(a.maps, "/SYSV")
	return nil
}

// altSysV is the child of appendix step 1: it attaches its parent's segment by id
// and answers.
func altSysV(l *lesson.Lesson, args []string) error {
	mem, err := attachParents(roleAltSysV, args, altSize)
	if err != nil {
		return err
	}
	answer(l, mem)
	return unix.SysvShmDetach(mem)
}
