//go:build linux

package main

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// shmDest is SHM_DEST from <linux/shm.h>, the mode bit IPC_RMID sets on a segment
// that is still attached: "destroy at the last detach". x/sys/unix does not name it.
const shmDest = 0o1000

// markWhileAttached is step 9: IPC_RMID on a segment that is attached only marks
// it. The step ends with the segment marked and still attached, so that -step
// pauses while the ipcs commands it prints can show it.
func (t *tour) markWhileAttached() error {
	l := t.l
	l.Step("IPC_RMID while attached: the segment is marked, not destroyed")
	id, err := createSegment(l, pageSize)
	if err != nil {
		return err
	}
	b, err := attach(l, id, 0)
	if err != nil {
		return err
	}
	l.Result("mapped at %#x", shm.Addr(b))
	l.Call("shmctl(%d, IPC_RMID, NULL)    (lesson 05: with something attached, this only marks it)", id)
	if err := shm.Remove(id); err != nil {
		return lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_RMID, NULL)", id), err, "")
	}
	marked, err := stat(id)
	if err != nil {
		return err
	}
	sayDesc(l, marked)
	if marked.Perm.Mode&shmDest == 0 {
		return fmt.Errorf("segment %d should be marked SHM_DEST after IPC_RMID, its mode is %#o", id, marked.Perm.Mode)
	}
	l.Result("mode %#o: SHM_DEST (%#o) is set, the key is now 0; ipcs -m shows status dest", marked.Perm.Mode, shmDest)
	l.Say("It stays until its last detach, which the next step makes (-step pauses here):")
	l.Look("ipcs -m -i %d    (mode=01600: marked; nattch=1: still here)", id)
	l.Look("ipcs -m    (key 0x00000000, status dest)")
	t.marked, t.markedAt = id, b
	return nil
}

// lastDetachDestroys is step 10: the last detach of the segment step 9 marked
// destroys it.
func (t *tour) lastDetachDestroys() error {
	l := t.l
	l.Step("The last detach of a segment marked with IPC_RMID destroys it")
	id, b := t.marked, t.markedAt
	if err := detach(l, b); err != nil {
		return err
	}
	t.markedAt = nil
	l.Result("0 (success)")
	var ds unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds); !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("the last detach of marked segment %d should have destroyed it (IPC_STAT: %v)", id, err)
	}
	_, listed, err := procsysv.FindShm(id)
	if err != nil {
		return err
	}
	if listed {
		return fmt.Errorf("segment %d is still in /proc/sysvipc/shm after its last detach", id)
	}
	l.Result("shmctl(%d, IPC_STAT): EINVAL (invalid argument), and /proc/sysvipc/shm no longer lists it: this shmdt destroyed it", id)
	l.Say("So shmdt does destroy a segment, in one case: it is the last detach of a segment")
	l.Say("already marked with IPC_RMID (or, where kernel.shm_rmid_forced is 1, any detach that")
	l.Say("leaves nothing attached). Otherwise it only unmaps. The robust pattern (lesson 05):")
	l.Say("IPC_RMID as soon as every process has attached; whoever detaches last, by shmdt,")
	l.Say("exit or a crash, destroys it, and nothing leaks.")
	return nil
}
