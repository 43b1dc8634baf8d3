//go:build linux

package main

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
)

// Step 6: SHM_LOCK and SHM_UNLOCK.

// lock is SHM_LOCK and SHM_UNLOCK: Linux extras that pin the pages in RAM.
func (t *tourState) lock() error {
	l := t.l
	l.Step("SHM_LOCK and SHM_UNLOCK (Linux only)")
	call := fmt.Sprintf("shmctl(%d, SHM_LOCK, NULL)", t.id)
	l.Call(call)
	if _, err := unix.SysvShmCtl(t.id, cmdSHMLock, nil); err != nil {
		// Not fatal: an unprivileged user may lack RLIMIT_MEMLOCK room.
		l.Result("%s: needs CAP_IPC_LOCK, or to be the owner or creator within RLIMIT_MEMLOCK (ulimit -l)", lesson.ErrnoText(err))
		return nil
	}
	l.Result("0: its pages will not be swapped out (SHM_LOCK does not bring them in: touch them first)")
	ds, err := t.stat()
	if err != nil {
		return err
	}
	l.Say("mode %#o has SHM_LOCKED (02000); ipcs -m shows status %q", ds.Perm.Mode, status(uint32(ds.Perm.Mode)))
	l.Look("ipcs -m")
	call = fmt.Sprintf("shmctl(%d, SHM_UNLOCK, NULL)", t.id)
	l.Call(call)
	if _, err := unix.SysvShmCtl(t.id, cmdSHMUnlock, nil); err != nil {
		return lesson.Failed(call, err, "")
	}
	l.Result("0: swappable again")
	return nil
}
