//go:build linux

package main

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/reexec"
	"github.com/learn-sysv/shm-course/internal/sem"
)

// The race segment: a counter the adders increment, a count of adders ready, which
// they use to start together, and the id of the lesson's semaphore set, by which an
// adder checks that the set it is handed is the one its lesson made.
const (
	raceCounter = 0  // uint64
	raceReady   = 8  // uint32
	raceSemID   = 12 // uint32
	raceSize    = 16
)

// raceMode is one way to add, with what the lesson says of it.
type raceMode struct {
	name  string
	pause bool
	what  []string
}

// The ways to add, in the order the lesson shows them. A mode with pause gives up
// the CPU between its load and its store once every -every additions.
var raceModes = []raceMode{
	{"unsynchronised", false, []string{
		"load, add 1, store: if the other process stores between this one's load and store,",
		"this one's store overwrites it. Whether that happens depends on the scheduler: on one CPU,",
		"or on a busy machine, the two loops may hardly overlap and nothing is lost.",
	}},
	{"unsynchronised, with a pause", true, []string{
		"the same loop, but once every %[1]d additions the adder sleeps between its load and its",
		"store (nanosleep for 1 µs, which the kernel's timer slack makes 50 µs or more), so the",
		"kernel runs another process exactly there. A scheduler switch here is what loses",
		"updates: what the other adder adds meanwhile, this one's store overwrites. The pause",
		"does not make the bug; it makes the unlucky moment come every time.",
	}},
	{"semaphore", true, []string{
		"semop(%[2]d, {{0, -1, SEM_UNDO}}, 1); load, add 1, store; semop(%[2]d, {{0, +1, SEM_UNDO}}, 1):",
		"one process at a time, with the same pause inside: while one sleeps holding the lock,",
		"the other waits in semop.",
	}},
	{"atomic", false, []string{
		"one atomic add (LOCK XADD on x86-64, LDADD or an LL/SC loop on arm64): no moment between",
		"the load and the store for a switch to fall into.",
	}},
}

func race(l *lesson.Lesson, args []string) error {
	n := l.Flags.Int("n", 200000, "additions per process")
	every := l.Flags.Int("every", 100, "in the runs with a pause, sleep between the load and the store once every N additions")
	if err := l.Parse(args); err != nil {
		return err
	}
	if err := noArguments(l); err != nil {
		return err
	}
	switch {
	case *n < 1 || *n > math.MaxInt32:
		return lesson.Usagef("-n %d: want 1 to %d", *n, math.MaxInt32)
	case *every < 1 || *every > math.MaxInt32:
		return lesson.Usagef("-every %d: want 1 to %d", *every, math.MaxInt32)
	}
	l.Step("Create a segment with a counter and a semaphore to protect it")
	l.Call("shmget(IPC_PRIVATE, %d, IPC_CREAT|0600)", raceSize)
	// Made and its removal registered in one step (lesson.Keep): a signal that comes
	// while shmget runs waits for it, then removes what it made.
	var id int
	err := l.Keep("remove the race segment", func() (func() error, error) {
		var err error
		id, err = unix.SysvShmGet(unix.IPC_PRIVATE, raceSize, unix.IPC_CREAT|0o600)
		return func() error { _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); return err }, err
	})
	if err != nil {
		return lesson.Failed(fmt.Sprintf("shmget(IPC_PRIVATE, %d, IPC_CREAT|0600)", raceSize), err, "ENOSPC: too many segments (SHMMNI); ENOMEM: no memory")
	}
	l.Result("segment id %d", id)
	l.Call("shmat(%d, NULL, 0)", id)
	seg, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		return lesson.Failed(fmt.Sprintf("shmat(%d, NULL, 0)", id), err, "")
	}
	l.CleanupOnReturn("detach the segment", func() error { return unix.SysvShmDetach(seg) })
	l.Call("semget(IPC_PRIVATE, 1, IPC_CREAT|IPC_EXCL|0600), semctl(id, 0, SETVAL, 1)")
	var set *sem.Set
	err = l.Keep("remove the race semaphore set", func() (func() error, error) {
		var err error
		set, err = sem.Create(ftok.Private, 0o600, 1)
		return func() error { return set.Remove() }, err
	})
	if err != nil {
		return err // it names the call that failed and why
	}
	l.Result("semaphore set id %d, value 1: a lock", set.ID())
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&seg[raceSemID])), uint32(set.ID()))

	counter := (*uint64)(unsafe.Pointer(&seg[raceCounter]))
	ready := (*uint32)(unsafe.Pointer(&seg[raceReady]))
	for _, mode := range raceModes {
		l.Step("Two processes add 1, %d times each: %s", *n, mode.name)
		for _, line := range mode.what {
			if strings.Contains(line, "%[") {
				line = fmt.Sprintf(line, *every, set.ID())
			}
			l.Say("%s", line)
		}
		atomic.StoreUint64(counter, 0)
		atomic.StoreUint32(ready, 0)
		pauseEvery := 0
		if mode.pause {
			pauseEvery = *every
		}
		if err := runAdders(l, mode.name, id, set.ID(), *n, pauseEvery); err != nil {
			return err
		}
		total, want := atomic.LoadUint64(counter), uint64(2**n)
		if total == want {
			l.Result("%s: 2 x %d additions gave %d: exact", mode.name, *n, total)
			if mode.name == "unsynchronised" {
				l.Say("No update was lost this time: neither adder stored between the other's load and")
				l.Say("store. The bug is still there, waiting for a scheduler switch at the wrong moment:")
				l.Say("the next step makes that moment come. Correct code must be right in every")
				l.Say("interleaving, not just in this one.")
			}
		} else {
			l.Result("%s: 2 x %d additions gave %d: %d lost (%.1f%%)", mode.name, *n, total, want-total, 100*float64(want-total)/float64(want))
		}
	}
	return nil
}

// runAdders starts two adder processes and waits for both. lesson.StartChild puts
// each in a process group of its own, so that Ctrl-C reaches this process alone, and
// registers its end: on a signal, this process says its one line, ends the adders
// (SIGTERM, their own lines dropped) and waits for them.
func runAdders(l *lesson.Lesson, mode string, shmid, semid, n, pauseEvery int) error {
	var adders []*lesson.Child
	for i := 0; i < 2; i++ {
		cmd, err := reexec.Command("race-adder", mode, strconv.Itoa(shmid), strconv.Itoa(semid), strconv.Itoa(n), strconv.Itoa(pauseEvery))
		if err != nil {
			return err
		}
		c, err := lesson.StartChild(l, cmd)
		if err != nil {
			return err
		}
		adders = append(adders, c)
	}
	var errs []error
	for _, c := range adders {
		if err := c.Finish(); err != nil {
			errs = append(errs, fmt.Errorf("adder pid %d failed (%v)", c.Pid, err))
		}
	}
	return errors.Join(errs...)
}

// raceAdder is one adder process: race-adder MODE SHMID SEMID N PAUSE-EVERY. Only
// race starts it (see internal in main.go), and it touches only the segment and
// the semaphore set that race made: it checks its arguments, then that its parent
// created the segment, before it attaches, and the set's id against the one race
// stored in the segment before it writes anything.
func raceAdder(l *lesson.Lesson, args []string) error {
	if len(args) != 5 {
		return lesson.Usagef("race-adder MODE SHMID SEMID N PAUSE-EVERY")
	}
	if !slices.ContainsFunc(raceModes, func(m raceMode) bool { return m.name == args[0] }) {
		return lesson.Usagef("race-adder: unknown mode %q", args[0])
	}
	var nums [4]int
	for i, a := range args[1:] {
		v, err := strconv.ParseInt(a, 10, 32) // ids and counts are C ints
		if err != nil || v < 0 {
			return lesson.Usagef("race-adder: %q: want a number from 0 to %d", a, math.MaxInt32)
		}
		nums[i] = int(v)
	}
	shmid, semid, n, pauseEvery := nums[0], nums[1], nums[2], nums[3]
	seg, err := attachRaceSegment(shmid)
	if err != nil {
		return err
	}
	l.CleanupOnReturn("detach the segment", func() error { return unix.SysvShmDetach(seg) })
	if got := atomic.LoadUint32((*uint32)(unsafe.Pointer(&seg[raceSemID]))); int(got) != semid {
		return fmt.Errorf("semaphore set %d is not the one the lesson made (segment %d names set %d): I touch no other", semid, shmid, got)
	}
	counter := (*uint64)(unsafe.Pointer(&seg[raceCounter]))
	if err := startTogether((*uint32)(unsafe.Pointer(&seg[raceReady]))); err != nil {
		return err
	}
	switch args[0] {
	case "unsynchronised", "unsynchronised, with a pause":
		addUnsynchronised(counter, n, pauseEvery)
	case "semaphore":
		return addWithSemaphore(counter, sem.FromID(semid), n, pauseEvery)
	case "atomic":
		for i := 0; i < n; i++ {
			atomic.AddUint64(counter, 1)
		}
	}
	return nil
}

// attachRaceSegment attaches segment id if the process that started this adder
// created it (shm_cpid is our parent's pid: lesson.ParentCreated) with the race's
// size, and refuses any other.
func attachRaceSegment(id int) ([]byte, error) {
	if err := lesson.ParentCreated(id); err != nil {
		return nil, err
	}
	s, ok, err := procsysv.FindShm(id)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, fmt.Errorf("segment %d is gone", id)
	case s.Size != raceSize:
		return nil, fmt.Errorf("segment %d has %d bytes, not the race's %d: I touch no other", id, s.Size, raceSize)
	}
	seg, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		return nil, lesson.Failed(fmt.Sprintf("shmat(%d, NULL, 0)", id), err, "")
	}
	return seg, nil
}

// startTogether counts this adder in and spins until both are in, so the two
// loops overlap instead of one finishing before the other starts.
func startTogether(ready *uint32) error {
	atomic.AddUint32(ready, 1)
	deadline := time.Now().Add(10 * time.Second)
	for atomic.LoadUint32(ready) < 2 {
		if time.Now().After(deadline) {
			return errors.New("the other adder did not start within 10 s")
		}
	}
	return nil
}

// addUnsynchronised is the bug this lesson is about: a load, an add and a store,
// which the other process can interleave with. The load and the store are each
// atomic, which keeps the compiler from keeping the counter in a register for the
// whole loop, and shows that atomic loads and stores do not make the three steps
// one: between this process's load and store, the other's updates are overwritten.
//
// With pauseEvery > 0, once every pauseEvery additions it sleeps between the load
// and the store: that is where a scheduler switch loses the other's updates.
func addUnsynchronised(counter *uint64, n, pauseEvery int) {
	for i := 0; i < n; i++ {
		v := atomic.LoadUint64(counter)
		pauseAt(i, pauseEvery)
		atomic.StoreUint64(counter, v+1)
	}
}

func addWithSemaphore(counter *uint64, set *sem.Set, n, pauseEvery int) error {
	for i := 0; i < n; i++ {
		if err := set.Wait(0, true); err != nil {
			return err // it names the call that failed and why
		}
		v := *counter // only one process is here at a time
		pauseAt(i, pauseEvery)
		*counter = v + 1
		if err := set.Post(0, true); err != nil {
			return err
		}
	}
	return nil
}

// pauseAt gives up the CPU on addition i if it is one of every pauseEvery:
// nanosleep blocks this thread, and the kernel runs another process meanwhile.
func pauseAt(i, pauseEvery int) {
	if pauseEvery > 0 && i%pauseEvery == 0 {
		_ = unix.Nanosleep(&unix.Timespec{Nsec: 1000}, nil)
	}
}
