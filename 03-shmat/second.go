//go:build linux

package main

import (
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// shareWithChild is step 5: this program again, as a second process that attaches
// the segment by id, reads the message and writes a reply (runAttacher, children.go).
func (t *tour) shareWithChild() error {
	l := t.l
	l.Step("A second process attaches the same segment")
	l.Call("%s %s %d    (this program again; the id goes on its command line)", name, roleAttacher, t.id)
	l.Say("Go cannot fork without exec, so the child inherits no attachment: it attaches by id.")
	p, err := startRole(l, nil, roleAttacher, strconv.Itoa(t.id))
	if err != nil {
		return err
	}
	fields, err := p.Await("ADDR")
	if err != nil {
		return err
	}
	childAddr, err := parseAddr(fields)
	if err != nil {
		return fmt.Errorf("the child (pid %d): %w", p.Pid, err)
	}
	if _, err := p.Await("READY"); err != nil {
		return err
	}
	if err := sayNattch(l, t.id, "three attachments, two processes"); err != nil {
		return err
	}
	h, err := headerIn(t.first)
	if err != nil {
		return err
	}
	got, want := reply(t.first, h), fmt.Sprintf("hello back from pid %d", p.Pid)
	if got != want {
		return fmt.Errorf("the child's reply should read %q, the segment holds %q", want, got)
	}
	l.Result("reply read through %#x: %q (Writes is now %d)", shm.Addr(t.first), got, atomic.LoadUint64(&h.Writes))
	sayAddresses(l, childAddr, shm.Addr(t.first), shm.Addr(t.second))
	l.Look("ipcs -m -p    (cpid is this process, lpid the last to attach or detach)")
	if err := p.Finish(); err != nil {
		return fmt.Errorf("the child (pid %d): %w", p.Pid, err)
	}
	return sayNattch(l, t.id, "the child detached and exited")
}

// sayAddresses compares the child's address with ours, honestly: different is
// usual, the same is allowed.
func sayAddresses(l *lesson.Lesson, child, first, second uintptr) {
	if child != first && child != second {
		l.Result("the child mapped it at %#x, we at %#x and %#x: different addresses, the same bytes", child, first, second)
		l.Say("Each process has its own address space; the kernel picks a free range in each.")
		l.Say("With address space layout randomisation (/proc/sys/kernel/randomize_va_space) the")
		l.Say("ranges differ from run to run and process to process.")
		return
	}
	l.Result("the child mapped it at %#x, the same address as ours: allowed", child)
	l.Say("Nothing promises different addresses, nor equal ones. Without address space layout")
	l.Say("randomisation (setarch -R, or randomize_va_space 0) two runs of one program often")
	l.Say("get the same one. Never count on either: store offsets.")
}

// parseAddr reads the address a child told (Tell("ADDR", "0x7f...")).
func parseAddr(fields []string) (uintptr, error) {
	if len(fields) != 1 {
		return 0, fmt.Errorf("ADDR should carry one address, got %q", fields)
	}
	v, err := strconv.ParseUint(fields[0], 0, 64)
	if err != nil {
		return 0, fmt.Errorf("ADDR %q is not an address", fields[0])
	}
	return uintptr(v), nil
}
