//go:build linux

package main

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// wrongSlices is step 4: which slices SysvShmDetach accepts. Only one that starts
// at the attach address, because that address is all shmdt receives.
func (t *tour) wrongSlices() error {
	l := t.l
	l.Step("Which slice to give SysvShmDetach")
	b, err := attach(l, t.id, 0)
	if err != nil {
		return err
	}
	l.Result("mapped at %#x, %d bytes", shm.Addr(b), len(b))
	l.Say("SysvShmDetach(b) calls shmdt(&b[0]): the address of the first byte, nothing else.")
	for _, c := range []struct {
		expr  string
		slice []byte
		why   string
	}{
		{"b[10:]", b[10:], "not page-aligned"},
		{fmt.Sprintf("b[%d:]", pageSize), b[pageSize:], "page-aligned, but no attachment starts there"},
		{"b[:0]", b[:0], "empty: x/sys returns EINVAL itself, with no system call"},
	} {
		l.Call("SysvShmDetach(%s)    (address %s: %s)", c.expr, sliceAddr(c.slice), c.why)
		l.Result("%s", errText(unix.SysvShmDetach(c.slice)))
	}
	if err := sayStat(l, t.id); err != nil {
		return err
	}
	l.Say("A failed shmdt changes nothing: the attachment is still there.")
	l.Call("SysvShmDetach(b[:10])    (address %#x: the start; the length is never passed)", shm.Addr(b))
	if err := unix.SysvShmDetach(b[:10]); err != nil {
		return lesson.Failed(fmt.Sprintf("shmdt(%#x)", shm.Addr(b)), err, "")
	}
	l.Result("0 (success): the whole attachment is gone")
	l.Call("SysvShmDetach(b)    (again)")
	l.Result("%s: nothing is attached at %#x any more", errText(unix.SysvShmDetach(b)), shm.Addr(b))
	l.Say("Detach once, with the slice SysvShmAttach returned, then forget it (b = nil).")
	l.Say("A second detach is worse than EINVAL if a new attachment has reused the address:")
	l.Say("it would detach that one.")
	return sayStat(l, t.id)
}
