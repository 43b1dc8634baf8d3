//go:build linux

package main

import (
	"bufio"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// flagOff is the uint32 step 12 polls: the first 4 bytes of the lab.
const flagOff = labOff

// patience is how long step 12's plain loop may take to see the flag.
const patience = time.Second

// pollingTrap is step 12. A second process (runWaiter) polls a flag in the segment
// in two goroutines: one with plain reads, one with atomic.LoadUint32. This process
// sets the flag; each goroutine reports whether and when it saw it.
func (t *tour) pollingTrap() error {
	l := t.l
	l.Step("Go trap: a flag polled without sync/atomic")
	flag := (*uint32)(unsafe.Pointer(&t.first[flagOff]))
	atomic.StoreUint32(flag, 0)
	l.Call("%s %s %d    (polls the flag at offset %d: once with plain reads, once with atomic.LoadUint32)", name, roleWaiter, t.id, flagOff)
	p, err := startRole(l, nil, roleWaiter, strconv.Itoa(t.id))
	if err != nil {
		return err
	}
	if _, err := p.Await("READY"); err != nil {
		return err
	}
	l.Call("atomic.StoreUint32(flag, 1)    (this process, through %#x)", shm.Addr(t.first)+flagOff)
	atomic.StoreUint32(flag, 1)
	if err := p.Send("SET"); err != nil {
		return err
	}
	plain, err := p.Await("PLAIN")
	if err != nil {
		return err
	}
	atomicSaw, err := p.Await("ATOMIC")
	if err != nil {
		return err
	}
	if err := p.Finish(); err != nil {
		return fmt.Errorf("the waiter (pid %d): %w", p.Pid, err)
	}
	if len(atomicSaw) == 0 || atomicSaw[0] != "saw" {
		return fmt.Errorf("the waiter's atomic loop did not see the flag: %q", atomicSaw)
	}
	l.Result("atomic.LoadUint32 saw the flag")
	switch {
	case len(plain) > 0 && plain[0] == "missed":
		l.Result("the plain loop never saw it: after %v the goroutine was still spinning", patience)
		l.Say("The plain loop looked once, found 0, and went on polling: `for *flag == 0 {}`. With")
		l.Say("no write in between, the compiler may assume the second read gives what the first")
		l.Say("did. %s merged them: the loop reads memory no more and jumps to itself.", runtime.Version())
		l.Say("It may: a plain read of memory that another goroutine or process writes is a data")
		l.Say("race, and Go promises nothing for one. sync/atomic is what tells the compiler (and")
		l.Say("the CPU) that the value can change: every atomic.Load is a real read, ordered with")
		l.Say("the other atomics. So the course reads shared flags with sync/atomic, always.")
		l.Look("go build -o /dev/null -gcflags=-S ./03-shmat 2>&1 | grep -A14 '^main.waitPlain STEXT' | grep -v DATA")
		l.Say("(the loop is the last two instructions: a no-op, and a JMP back to it; the hex line")
		l.Say("after them is the function's machine code, ending 90 eb fd: the no-op, the jump back)")
	case len(plain) > 1 && plain[0] == "saw" && plain[1] == "first":
		l.Result("the plain loop saw the flag at its first look: it was set before the loop began (run again)")
		l.Say("A plain read of memory another process writes is a data race; Go promises nothing")
		l.Say("for one. The course reads shared flags with sync/atomic, always.")
	default:
		l.Result("the plain loop saw it too, this time")
		if raceEnabled {
			l.Say("This program is built with -race, which puts a call before every read: the")
			l.Say("compiler cannot merge them then. Built without -race, %s merges the loop's", runtime.Version())
			l.Say("read with the first look, and the plain loop never sees the flag.")
		} else {
			l.Say("This compiler read memory on every pass. Nothing promises that: a plain read of")
			l.Say("memory another process writes is a data race, and Go promises nothing for one.")
		}
		l.Say("The course reads shared flags with sync/atomic, always.")
	}
	return nil
}

// waitPlain waits for *flag to become non-zero with plain reads: the mistake. It
// looks once, then polls. It reports how many times it polled and whether the first
// look already saw the flag. noinline keeps it the same wherever it is called, so
// that what -gcflags=-S shows is what runs.
//
//go:noinline
func waitPlain(flag *uint32) (spins uint64, first bool) {
	if *flag != 0 {
		return 0, true
	}
	for *flag == 0 {
		spins++
	}
	return spins, false
}

// waitAtomic is waitPlain with atomic.LoadUint32: every read is a real one.
//
//go:noinline
func waitAtomic(flag *uint32) (spins uint64, first bool) {
	if atomic.LoadUint32(flag) != 0 {
		return 0, true
	}
	for atomic.LoadUint32(flag) == 0 {
		spins++
	}
	return spins, false
}

// runWaiter is the second process of step 12: two goroutines wait for the flag,
// one with waitPlain and one with waitAtomic. Once the parent says it set the flag
// (SET on standard input), each gets `patience` to see it; the waiter tells the
// parent the outcome of each (PLAIN, then ATOMIC) and exits. A goroutine still
// spinning ends with the process, whose exit also detaches the segment.
func runWaiter(l *lesson.Lesson, args []string) error {
	b, err := attachParents(l, args, 0)
	if err != nil {
		return err
	}
	flag := (*uint32)(unsafe.Pointer(&b[flagOff]))
	type outcome struct {
		spins uint64
		first bool
	}
	plain, atomicDone := make(chan outcome, 1), make(chan outcome, 1)
	var looking sync.WaitGroup
	looking.Add(2)
	go func() { looking.Done(); n, f := waitPlain(flag); plain <- outcome{n, f} }()
	go func() { looking.Done(); n, f := waitAtomic(flag); atomicDone <- outcome{n, f} }()
	looking.Wait()
	l.Say("two goroutines are polling the flag at offset %d: waitPlain and waitAtomic", flagOff)
	l.Tell("READY")
	if _, err := bufio.NewReader(l.In).ReadString('\n'); err != nil {
		return fmt.Errorf("the parent went away before setting the flag")
	}
	got := map[string]outcome{}
	deadline := time.NewTimer(patience)
	defer deadline.Stop()
	for waiting := true; waiting && len(got) < 2; {
		select {
		case o := <-plain:
			got["waitPlain"] = o
		case o := <-atomicDone:
			got["waitAtomic"] = o
		case <-deadline.C:
			waiting = false
		}
	}
	for _, w := range []struct{ verb, fn string }{{"PLAIN", "waitPlain"}, {"ATOMIC", "waitAtomic"}} {
		o, saw := got[w.fn]
		if !saw {
			l.Result("%s has not seen the flag after %v", w.fn, patience)
			l.Tell(w.verb, "missed")
			continue
		}
		when := "loop"
		if o.first {
			when = "first"
		}
		l.Result("%s saw the flag after %d polls", w.fn, o.spins)
		l.Tell(w.verb, "saw", when, o.spins)
	}
	l.Say("exiting; exit detaches the segment")
	return nil
}
