//go:build linux

package main

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// rmidForced reads kernel.shm_rmid_forced before the lesson starts and, where it is
// 1, says what that changes. With it, the kernel destroys a segment the moment its
// last attachment goes, as if IPC_RMID had been called: a step that detaches the
// last attachment would lose its segment. The lesson then holds an attachment of its
// own wherever a step's detaches would otherwise reach nattch 0, and says so.
func rmidForced(l *lesson.Lesson) bool {
	forced, err := procsysv.ShmRmidForced()
	if err != nil {
		l.Say("(cannot read %s: %v; going on as if it were 0, the default)", procsysv.ShmRmidForcedPath, err)
		return false
	}
	if forced {
		l.Say("kernel.shm_rmid_forced is 1 in this IPC namespace (cat %s):", procsysv.ShmRmidForcedPath)
		l.Say("the kernel destroys a segment as soon as nothing is attached to it. Where a step")
		l.Say("would detach the last attachment, this lesson keeps one of its own and says so; at")
		l.Say("the end you see the last detach destroy the segment. (Some distributions and")
		l.Say("containers set it; the default is 0.)")
	}
	return forced
}

// keepAlive, with shm_rmid_forced 1, attaches segment id (read-only) for as long as
// a step lets other processes attach and detach it, so that their last detach does
// not destroy it; the returned function detaches again. Without the setting it does
// nothing.
func (t *tour) keepAlive(id int) (release func() error, err error) {
	if !t.forced {
		return func() error { return nil }, nil
	}
	l := t.l
	l.Say("(kernel.shm_rmid_forced is 1: this process holds an attachment of segment %d during", id)
	l.Say("the step, or the other process's detach would destroy it)")
	b, err := attach(l, id, unix.SHM_RDONLY)
	if err != nil {
		return nil, err
	}
	return func() error {
		l.Call("shmdt(%#x)    (the attachment that kept segment %d alive)", shm.Addr(b), id)
		if err := unix.SysvShmDetach(b); err != nil {
			return lesson.Failed(fmt.Sprintf("shmdt(%#x)", shm.Addr(b)), err, "")
		}
		return nil
	}, nil
}
