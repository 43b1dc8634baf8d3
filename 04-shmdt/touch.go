//go:build linux

package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// touchAfterDetach is step 5: two children touch their slice after detaching it,
// one with SetPanicOnFault (runTouchRecovering), one without (runTouchFatal).
func (t *tour) touchAfterDetach() error {
	l := t.l
	l.Step("Touch the slice after detaching it")
	l.Say("The slice still holds the old address, but the mapping behind it is gone. Done in")
	l.Say("child processes, because in a busy process that range may already be reused.")
	p, err := startRole(l, nil, roleTouchRecovering, strconv.Itoa(t.id))
	if err != nil {
		return err
	}
	detached, err := awaitAddr(p)
	if err != nil {
		return err
	}
	if err := p.Finish(); err != nil {
		return fmt.Errorf("the child that recovers: %w", err)
	}
	l.Say("Go words every unexpected memory fault as \"invalid memory address or nil pointer")
	l.Say("dereference\". The address tells what happened: %#x is no nil pointer;", detached)
	l.Say("it is where the child's attachment was until its shmdt.")
	var stderr strings.Builder
	p, err = startRole(l, &stderr, roleTouchFatal, strconv.Itoa(t.id))
	if err != nil {
		return err
	}
	err = p.Finish()
	var exit *lesson.ExitError
	if !errors.As(err, &exit) || exit.Status != 2 {
		return fmt.Errorf("the child without SetPanicOnFault should die with exit status 2, got %v (stderr: %q)", err, lesson.FirstLines(stderr.String(), 3))
	}
	l.Result("the second child died: exit status %d. The first lines of its stderr:", exit.Status)
	l.Excerpt(stderr.String(), 3)
	l.Say("code=0x1 is SEGV_MAPERR: no mapping at that address at all (a read-only")
	l.Say("attachment gives code=0x2, SEGV_ACCERR, lesson 03). If something else had been")
	l.Say("mapped there since, there would be no fault: the read would return other data,")
	l.Say("a write would corrupt it. So after SysvShmDetach(b), set b = nil.")
	return nil
}

// awaitAddr waits for a child's ADDR and returns the address.
func awaitAddr(p *lesson.Child) (uintptr, error) {
	fields, err := p.Await("ADDR")
	if err != nil {
		return 0, err
	}
	if len(fields) != 1 {
		return 0, fmt.Errorf("the child (pid %d) said ADDR %q", p.Pid, fields)
	}
	a, err := strconv.ParseUint(fields[0], 0, 64)
	if err != nil {
		return 0, fmt.Errorf("the child (pid %d) said ADDR %q, not an address", p.Pid, fields[0])
	}
	return uintptr(a), nil
}

// attachThenDetach attaches the segment its parent named and detaches it, keeping
// the slice: the mistake the touch roles make on purpose. It tells the parent the
// address (ADDR).
func attachThenDetach(l *lesson.Lesson, args []string) ([]byte, error) {
	b, err := attachParents(l, args, 0)
	if err != nil {
		return nil, err
	}
	l.Tell("ADDR", fmt.Sprintf("%#x", shm.Addr(b)))
	return b, detach(l, b)
}

// runTouchRecovering reads the slice after detaching it, with SetPanicOnFault.
func runTouchRecovering(l *lesson.Lesson, args []string) error {
	b, err := attachThenDetach(l, args)
	if err != nil {
		return err
	}
	l.Call("debug.SetPanicOnFault(true); read b[0]")
	var v byte
	err = lesson.RecoverFault(func() { v = b[0] })
	var fault *lesson.FaultError
	if errors.As(err, &fault) {
		if fault.Addr != shm.Addr(b) {
			l.Result("recovered a panic: %s, at %#x, not the detached %#x (Addr is best-effort)", fault.Msg, fault.Addr, shm.Addr(b))
			return nil
		}
		l.Result("recovered a panic: %s, at %#x: the detached address", fault.Msg, fault.Addr)
		return nil
	}
	l.Result("read %#x without a fault: something else is mapped at %#x now", v, shm.Addr(b))
	return nil
}

// runTouchFatal reads the slice after detaching it, without SetPanicOnFault: the
// Go runtime ends the process (exit status 2).
func runTouchFatal(l *lesson.Lesson, args []string) error {
	b, err := attachThenDetach(l, args)
	if err != nil {
		return err
	}
	l.Call("read b[0]    (no SetPanicOnFault)")
	l.Result("read %#x without a fault: something else is mapped at %#x now", b[0], shm.Addr(b))
	return nil
}
