//go:build linux

package main

// How ids are made. An id is a slot in the kernel's table of segments and
// a sequence number, so that an id whose segment is gone names nothing, even once
// its slot holds another segment. ipc/util.h and ipc/util.c (ipc_idr_alloc,
// ipc_checkid) in the kernel sources.

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
)

// idShift is how many low bits of an id hold the slot index: IPCMNI_SHIFT, 15, so
// that id = seq × 32768 + index; a kernel booted with ipcmni_extend uses 24
// (IPCMNI_EXTEND_SHIFT) to allow 16 million slots.
func idShift() uint {
	if cmdline, err := os.ReadFile("/proc/cmdline"); err == nil {
		for _, word := range strings.Fields(string(cmdline)) {
			if word == "ipcmni_extend" {
				return 24
			}
		}
	}
	return 15
}

// splitID returns the sequence number and the slot index in id.
func splitID(id int) (seq, index int) {
	shift := idShift()
	return id >> shift, id & (1<<shift - 1)
}

// howIDsAreMade splits our id, then makes and removes segments until a slot comes
// round again, and shows that the old id does not name the new segment in it.
func (t *tourState) howIDsAreMade() error {
	l := t.l
	l.Step("How ids are made: a sequence number and a slot")
	per := 1 << idShift()
	seq, index := splitID(t.id)
	l.Say("An id is not a slot number. Linux builds it from two numbers (ipc/util.c):")
	l.Say("  id = seq × %d + index     index: the slot in the kernel's table; seq: a sequence number", per)
	if t.index >= 0 {
		l.Say("Ours: %d = %d × %d + %d, and SHM_STAT above found it in slot %d.", t.id, seq, per, index, t.index)
	}
	if per != 1<<15 {
		l.Say("(This kernel was booted with ipcmni_extend: 24 bits of index instead of 15.)")
	}

	l.Call("shmget(IPC_PRIVATE, 1, IPC_CREAT|0600), then shmctl(id, IPC_RMID, NULL), until a slot comes round again:")
	c := &churn{kept: -1}
	l.Cleanup("remove the segments of the id loop", c.stop)
	ids, err := c.untilASlotRepeats(maxChurn)
	if err != nil {
		return err
	}
	showIDs(l, ids)
	if _, first := splitID(ids[0]); len(ids) == 2 && ids[1]&(per-1) == first {
		l.Say("The new segment took the lowest free slot, the one just freed, with seq one higher:")
		l.Say("this kernel hands out slots the way kernels older than 2019 do.")
	} else {
		l.Say("Each new segment takes the next slot, not the lowest free one, and when the slots run")
		l.Say("out (at least 64 of them, more when many segments exist) the index starts again at 0")
		l.Say("and seq goes up by one. Segments of other programs made meanwhile take slots too.")
	}
	if c.kept < 0 {
		l.Say("No slot came round in %d segments (the machine is busy); the last step is skipped.", maxChurn)
		return nil
	}
	return t.oldIDNamesNothing(c, ids)
}

// oldIDNamesNothing shows that a removed segment's id gives EINVAL although its slot
// holds a new segment: the kernel checks the sequence number. Then it removes the new
// segment.
func (t *tourState) oldIDNamesNothing(c *churn, ids []int) error {
	l := t.l
	kept := c.kept
	_, slot := splitID(kept)
	old := ids[0]
	for _, id := range ids[:len(ids)-1] {
		if _, i := splitID(id); i == slot {
			old = id
			break
		}
	}
	l.Say("Slot %d holds segment %d now. The removed segment %d was in the same slot:", slot, kept, old)
	call := fmt.Sprintf("shmctl(%d, IPC_STAT, &buf)", old)
	l.Call("%s", call)
	_, err := stat(old)
	if !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("%s: want EINVAL for a removed segment's id, got %s", call, errText(err))
	}
	l.Result("%s: slot %d holds a segment, but its seq is %d, not %d (ipc_checkid compares them)", errText(err), slot, kept>>idShift(), old>>idShift())
	call = fmt.Sprintf("shmctl(%d, IPC_STAT, &buf)", kept)
	l.Call("%s", call)
	if _, err := stat(kept); err != nil {
		return lesson.Failed(call, err, "")
	}
	l.Result("0: the new id reaches it")
	l.Look("ipcs -m -i %d    # ipcs: id %d not found", old, old)
	l.Say("So a stale id, kept by a process that did not see its segment go, gets EINVAL instead")
	l.Say("of someone else's memory. Only when seq has been through all its 65535 values, one per")
	l.Say("round of the slots, could the same id come back.")
	call = fmt.Sprintf("shmctl(%d, IPC_RMID, NULL)", kept)
	l.Call("%s", call)
	if err := c.removeKept(); err != nil {
		return lesson.Failed(call, err, "")
	}
	l.Result("0")
	return nil
}

// maxChurn bounds the loop: a slot comes round after at most max(64, 1.5 × segments
// in use) new segments, unless other programs keep taking the slots.
const maxChurn = 20000

// showIDs prints the loop's ids as seq × 32768 + index: the first two, the two on
// either side of each wrap, and the last, with "..." where rows are left out.
func showIDs(l *lesson.Lesson, ids []int) {
	per := 1 << idShift()
	show := map[int]bool{0: true, 1: true, len(ids) - 1: true}
	for i := 1; i < len(ids); i++ {
		if ids[i]>>idShift() != ids[i-1]>>idShift() {
			show[i-1], show[i] = true, true
		}
	}
	l.Say("  %5s  %-10s   %s", "n", "id", fmt.Sprintf("= seq × %d + index", per))
	gap := false
	for i, id := range ids {
		if !show[i] {
			gap = true
			continue
		}
		if gap {
			l.Say("  %5s", "...")
			gap = false
		}
		seq, index := splitID(id)
		var notes []string
		if i > 0 && seq != ids[i-1]>>idShift() {
			notes = append(notes, "seq + 1: the index started again")
		}
		if i == len(ids)-1 && len(ids) > 1 {
			notes = append(notes, "a slot used before: kept") // maybe the very first of a new seq
		}
		note := ""
		if len(notes) > 0 {
			note = "   " + strings.Join(notes, "; ")
		}
		l.Say("  %5d  %-10d   = %5d × %d + %d%s", i+1, id, seq, per, index, note)
	}
}

// churn makes and removes segments one at a time for the id step. Its stop, a
// cleanup, waits for the segment in hand to be removed and lets no new one be made,
// so Ctrl-C in the middle of the loop leaves nothing behind.
type churn struct {
	mu      sync.Mutex
	stopped bool
	kept    int // the segment the loop kept, or -1
}

// untilASlotRepeats makes and removes segments until one lands in a slot that an
// earlier one of the loop had, and keeps that one (c.kept). It returns every id made,
// in order; at most max of them.
func (c *churn) untilASlotRepeats(max int) ([]int, error) {
	var ids []int
	seen := map[int]bool{}
	for len(ids) < max {
		id, repeats, err := c.one(seen)
		if err != nil {
			return ids, err
		}
		ids = append(ids, id)
		if repeats {
			break
		}
	}
	return ids, nil
}

// one makes a segment; if its slot is in seen it keeps it, otherwise it removes it
// and adds the slot to seen.
func (c *churn) one(seen map[int]bool) (id int, repeats bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return 0, false, errors.New("the lesson is ending")
	}
	id, err = unix.SysvShmGet(unix.IPC_PRIVATE, 1, unix.IPC_CREAT|0o600)
	if err != nil {
		return 0, false, lesson.Failed("shmget(IPC_PRIVATE, 1, IPC_CREAT|0600)", err, "see 02-shmget")
	}
	if _, index := splitID(id); seen[index] {
		c.kept = id
		return id, true, nil
	} else {
		seen[index] = true
	}
	if _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); err != nil {
		return 0, false, lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_RMID, NULL)", id), err, "")
	}
	return id, false, nil
}

// removeKept removes the segment the loop kept.
func (c *churn) removeKept() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kept < 0 {
		return nil
	}
	_, err := unix.SysvShmCtl(c.kept, unix.IPC_RMID, nil)
	if err == nil {
		c.kept = -1
	}
	return err
}

// stop ends the loop for good and removes the kept segment, if any.
func (c *churn) stop() error {
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	return c.removeKept()
}
