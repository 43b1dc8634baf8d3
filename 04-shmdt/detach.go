//go:build linux

package main

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// detachAndStat is step 3: detach, and see nattch drop and dtime set. The segment
// stays, bytes and all; with kernel.shm_rmid_forced 1 it is destroyed instead, and
// the lesson goes on with a new segment and an anchor.
func (t *tour) detachAndStat() error {
	l := t.l
	l.Step("Detach it: shmdt(addr)")
	b := t.attached
	t.attached = nil
	if err := detach(l, b); err != nil {
		return err
	}
	l.Result("0 (success)")
	if t.forced {
		return t.destroyedByForcedDetach()
	}
	if err := sayStat(l, t.id); err != nil {
		return err
	}
	l.Say("shm_nattch dropped to 0 and shm_dtime is now; shm_lpid is the detaching process.")
	l.Say("The segment is still there, bytes and all: shmdt unmapped it from this process and")
	l.Say("did nothing more, because nobody had marked it with IPC_RMID (step 10 shows a detach")
	l.Say("that destroys). Destroying is shmctl(IPC_RMID) (lesson 05) or ipcrm -m %d.", t.id)
	again, err := attach(l, t.id, unix.SHM_RDONLY)
	if err != nil {
		return err
	}
	l.Result("attached again at %#x: %q", shm.Addr(again), again[:23])
	return detach(l, again)
}

// destroyedByForcedDetach shows, with kernel.shm_rmid_forced 1, that the detach
// destroyed the segment; then it makes the segment the next steps use, with an
// anchor.
func (t *tour) destroyedByForcedDetach() error {
	l := t.l
	var ds unix.SysvShmDesc
	_, err := unix.SysvShmCtl(t.id, unix.IPC_STAT, &ds)
	if !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("with kernel.shm_rmid_forced 1 the detach should have destroyed segment %d (IPC_STAT: %v)", t.id, err)
	}
	l.Result("shmctl(%d, IPC_STAT): %s: segment %d is gone", t.id, lesson.ErrnoText(err), t.id)
	l.Say("kernel.shm_rmid_forced is 1: the detach that left nothing attached destroyed the")
	l.Say("segment, bytes and all, as if IPC_RMID had been called. With the default, 0, it")
	l.Say("would stay, with nattch 0, until someone removed it.")
	l.Say("The next steps need a segment that survives nattch 0, so the lesson makes a new one")
	l.Say("and keeps an attachment of its own, the anchor:")
	id, err := createSegment(l, segmentSize)
	if err != nil {
		return err
	}
	t.id = id
	anchor, err := attach(l, id, unix.SHM_RDONLY)
	if err != nil {
		return err
	}
	t.anchor = anchor
	l.Result("the anchor is at %#x", shm.Addr(anchor))
	return sayStat(l, id)
}
