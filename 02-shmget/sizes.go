//go:build linux

// The size asked for and the pages counted; a new segment is zero-filled.

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

func sizes(l *lesson.Lesson, id, size, mode int) ([]byte, error) {
	l.Step("The size asked for, and the pages the kernel counts")
	ds, err := ipcStat(l, id)
	if errors.Is(err, unix.EACCES) {
		return nil, ownerDenied(fmt.Sprintf("shmctl(%d, IPC_STAT, &ds)", id), err, mode, "IPC_STAT needs read")
	}
	if err != nil {
		return nil, lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_STAT, &ds)", id), err, "")
	}
	l.Result("ds.shm_segsz = %d: the size asked for, which ipcs shows as bytes", ds.Segsz)
	l.Look("ipcs -m -i %d    # or: awk '$2 == %d' /proc/sysvipc/shm (size column)", id, id)

	b, _, err := attach(l, id, 0)
	if errors.Is(err, unix.EACCES) {
		return nil, ownerDenied(fmt.Sprintf("shmat(%d, NULL, 0)", id), err, mode, "a read-write shmat needs read and write")
	}
	if err != nil {
		return nil, lesson.Failed(fmt.Sprintf("shmat(%d, NULL, 0)", id), err, "")
	}
	l.Result("attached at %#x; Go's slice has len %d", shm.Addr(b), len(b))

	page := os.Getpagesize()
	pages := (size + page - 1) / page
	if m, err := findMapping(shm.Addr(b)); err != nil {
		l.Result("could not read /proc/self/maps: %v", err)
	} else {
		l.Result("/proc/self/maps: %s", m.line)
		l.Result("the mapping is %d bytes: %d page(s) of %d", m.size, m.size/uint64(page), page)
	}
	l.Say("The kernel deals in pages: %d bytes take %d page(s) = %d bytes of address space", size, pages, pages*page)
	l.Say("in each process that attaches the segment, and count as %d page(s) against SHMALL.", pages)
	l.Say("shm_segsz and Go's slice keep to %d bytes. Counted is not allocated: no memory", size)
	l.Say("is behind these pages until a process touches them (two steps on).")
	l.Look("grep SYSV /proc/%d/maps    # while the segment is attached (-step pauses here)", os.Getpid())
	return b, nil
}

func zeroFilled(l *lesson.Lesson, b []byte) {
	l.Step("A new segment is zero-filled")
	l.Call("count the bytes of the attachment that are not zero")
	nonzero := len(b) - bytes.Count(b, []byte{0})
	l.Result("%d of its %d bytes are not zero", nonzero, len(b))
	l.Say("The kernel clears a page before anyone can see it, so no process reads what")
	l.Say("another left in that memory. A creator can make zero mean \"not initialised yet\",")
	l.Say("but only with ordering: it fills in the data, then writes a flag (a magic")
	l.Say("number) last, with sync/atomic, and a reader trusts the rest only after an")
	l.Say("atomic load of the flag sees it. Without that, a nonzero byte proves nothing:")
	l.Say("another process may see the creator's writes in another order, or half done.")
	l.Say("03-shmat's writeMessage shows the pattern.")
}
