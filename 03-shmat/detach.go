//go:build linux

package main

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// detachAll is step 15: detach both attachments (lesson 04) and remove the segment
// (lesson 05); with kernel.shm_rmid_forced 1, the last detach removes it.
func (t *tour) detachAll() error {
	l := t.l
	l.Step("Detach (lesson 04) and remove (lesson 05)")
	for _, b := range [][]byte{t.first, t.second} {
		l.Call("shmdt(%#x)", shm.Addr(b))
		if err := unix.SysvShmDetach(b); err != nil {
			return lesson.Failed(fmt.Sprintf("shmdt(%#x)", shm.Addr(b)), err, "")
		}
	}
	t.first, t.second = nil, nil
	if t.forced {
		var ds unix.SysvShmDesc
		_, err := unix.SysvShmCtl(t.id, unix.IPC_STAT, &ds)
		if !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("with kernel.shm_rmid_forced 1 the last detach should have destroyed segment %d (IPC_STAT: %v)", t.id, err)
		}
		l.Result("shmctl(%d, IPC_STAT): %s: the segment is gone", t.id, lesson.ErrnoText(err))
		l.Say("kernel.shm_rmid_forced is 1: the last detach destroyed the segment, with no")
		l.Say("IPC_RMID. With the default, 0, it would stay, with nattch 0, until removed.")
		return nil
	}
	if err := sayNattch(l, t.id, "nothing attached; the segment still exists until IPC_RMID"); err != nil {
		return err
	}
	l.Call("shmctl(%d, IPC_RMID, NULL)", t.id)
	if err := shm.Remove(t.id); err != nil {
		return lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_RMID, NULL)", t.id), err, "")
	}
	l.Result("removed. (The same removal is registered as a cleanup, for an error or Ctrl-C.)")
	return nil
}
