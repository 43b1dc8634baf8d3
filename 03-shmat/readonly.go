//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// readOnly is step 6: attach with SHM_RDONLY and write through it, recovering the
// fault.
func (t *tour) readOnly() error {
	l := t.l
	l.Step("Attach read-only (SHM_RDONLY) and write through it")
	ro, err := attach(l, t.id, unix.SHM_RDONLY)
	if err != nil {
		return err
	}
	t.ro = ro
	l.Result("mapped at %#x; /proc/self/maps: %s", shm.Addr(ro), mapsLine(shm.Addr(ro)))
	h, err := headerIn(ro)
	if err != nil {
		return err
	}
	l.Result("reading works: message %q", message(ro, h))
	l.Say("r--s: the page tables allow reads only. SHM_RDONLY needs read permission on the")
	l.Say("segment; without it shmat needs read and write. There is no write-only attach.")
	l.Say("Go cannot tell: SysvShmAttach returns a []byte either way.")
	l.Call("debug.SetPanicOnFault(true); ro[0] = 'X'")
	err = lesson.RecoverFault(func() { ro[0] = 'X' })
	var fault *lesson.FaultError
	if !errors.As(err, &fault) {
		return fmt.Errorf("a write through the read-only attachment did not fault (%v)", err)
	}
	l.Result("recovered a panic: %v, at %#x%s", fault.Msg, fault.Addr, sameAddr(fault.Addr, shm.Addr(ro), "the read-only mapping's start"))
	l.Result("the byte is still %#x, the magic's first byte", t.first[0])
	l.Say("Go words every unexpected memory fault this way, nil pointer or not: the address")
	l.Say("tells you what happened. %#x is no nil pointer: it is the start of", fault.Addr)
	l.Say("a mapping that forbids writing. The CPU refused the write and the kernel sent")
	l.Say("SIGSEGV (code SEGV_ACCERR). With SetPanicOnFault(true) the Go runtime turns that")
	l.Say("fault into a panic this goroutine can recover. It covers only the calling goroutine;")
	l.Say("restore it afterwards.")
	return sayNattch(l, t.id, "two read-write attachments and one read-only")
}

// faultWithoutRecover is step 7: the same write in a child that did not ask for a
// panic (runReadOnlyWriter, children.go).
func (t *tour) faultWithoutRecover() error {
	l := t.l
	l.Step("The same write without SetPanicOnFault, in a child process")
	l.Call("%s %s %d    (attaches SHM_RDONLY and writes)", name, roleReadOnlyWriter, t.id)
	var stderr bytes.Buffer
	p, err := startRole(l, &stderr, roleReadOnlyWriter, strconv.Itoa(t.id))
	if err != nil {
		return err
	}
	err = p.Finish()
	var exit *lesson.ExitError
	if !errors.As(err, &exit) || exit.Status != 2 {
		return fmt.Errorf("the child should have died with exit status 2, got %v (stderr: %q)", err, lesson.FirstLines(stderr.String(), 3))
	}
	l.Result("the child died: exit status %d. The first lines of its stderr:", exit.Status)
	l.Excerpt(stderr.String(), 3)
	l.Say("An unexpected fault is fatal in Go: the runtime prints the fault address, 'fatal")
	l.Say("error: fault' and every goroutine's stack, and exits with status 2. recover()")
	l.Say("cannot catch it; only SetPanicOnFault, set before the fault, turns it into a panic.")
	return sayNattch(l, t.id, "the dead child's attachment went with it")
}

// sameAddr says how the address a fault reported compares with the one the lesson
// touched: runtime/debug calls Addr best-effort, so the lesson checks before it says so.
func sameAddr(got, want uintptr, what string) string {
	if got == want {
		return " = " + what
	}
	return fmt.Sprintf(", not %#x (%s): Addr is best-effort", want, what)
}
