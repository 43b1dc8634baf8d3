//go:build linux

package main

import (
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/reexec"
	"github.com/learn-sysv/shm-course/internal/sem"
)

// The race segment: a counter the adders increment, and a count of adders ready,
// which they use to start together.
const (
	raceCounter = 0 // uint64
	raceReady   = 8 // uint32
	raceSize    = 16
)

// The ways to add, in the order the lesson shows them.
var raceModes = []struct{ name, what string }{
	{"unsynchronised", "load, add 1, store: the other process can update in between, and the store overwrites it"},
	{"semaphore", "semop(-1, SEM_UNDO); load, add 1, store; semop(+1, SEM_UNDO): one at a time"},
	{"atomic", "one atomic add (LOCK XADD on x86-64) on the shared counter"},
}

func race(l *lesson.Lesson, args []string) error {
	n := l.Flags.Int("n", 200000, "additions per process")
	if err := l.Parse(args); err != nil {
		return err
	}
	if *n < 1 {
		return lesson.Usagef("-n %d: want at least 1", *n)
	}
	l.Step("Create a segment with a counter and a semaphore to protect it")
	l.Call("shmget(IPC_PRIVATE, %d, IPC_CREAT|0600)", raceSize)
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, raceSize, unix.IPC_CREAT|0o600)
	if err != nil {
		return lesson.Failed(fmt.Sprintf("shmget(IPC_PRIVATE, %d, IPC_CREAT|0600)", raceSize), err, "ENOSPC: too many segments")
	}
	l.Cleanup(fmt.Sprintf("remove segment %d", id), func() error { _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); return err })
	l.Result("segment id %d", id)
	seg, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		return lesson.Failed(fmt.Sprintf("shmat(%d, NULL, 0)", id), err, "")
	}
	l.Cleanup("detach the segment", func() error { return unix.SysvShmDetach(seg) })
	l.Call("semget(IPC_PRIVATE, 1, IPC_CREAT|IPC_EXCL|0600); semctl(SETVAL, 1)")
	set, err := sem.Create(ftok.Private, 0o600, 1)
	if err != nil {
		return err
	}
	l.Cleanup(fmt.Sprintf("remove semaphore set %d", set.ID()), set.Remove)
	l.Result("semaphore set id %d, value 1: a lock", set.ID())

	counter := (*uint64)(unsafe.Pointer(&seg[raceCounter]))
	ready := (*uint32)(unsafe.Pointer(&seg[raceReady]))
	for _, mode := range raceModes {
		l.Step("Two processes add 1, %d times each: %s", *n, mode.name)
		l.Say("%s", mode.what)
		atomic.StoreUint64(counter, 0)
		atomic.StoreUint32(ready, 0)
		if err := runAdders(l, mode.name, id, set.ID(), *n); err != nil {
			return err
		}
		total, want := atomic.LoadUint64(counter), uint64(2**n)
		if total == want {
			l.Result("%s: 2 x %d additions gave %d: exact", mode.name, *n, total)
			if mode.name == "unsynchronised" {
				l.Say("No update was lost this time: neither adder stored between the other's load and")
				l.Say("store (with a small -n, or on a busy machine, the two loops may not even run at")
				l.Say("the same time). The bug is still there: run it again, or with a larger -n.")
				l.Say("Correct code must be right in every interleaving, not just in this one.")
			}
		} else {
			l.Result("%s: 2 x %d additions gave %d: %d lost (%.1f%%)", mode.name, *n, total, want-total, 100*float64(want-total)/float64(want))
		}
	}
	return nil
}

// runAdders starts two adder processes and waits for both.
func runAdders(l *lesson.Lesson, mode string, shmid, semid, n int) error {
	var cmds []*exec.Cmd
	for i := 0; i < 2; i++ {
		cmd, err := reexec.Command("race-adder", mode, strconv.Itoa(shmid), strconv.Itoa(semid), strconv.Itoa(n))
		if err != nil {
			return err
		}
		cmd.Stdout, cmd.Stderr = l.Out, l.Err
		if err := cmd.Start(); err != nil {
			return err
		}
		l.Cleanup(fmt.Sprintf("kill adder %d", cmd.Process.Pid), func() error {
			_ = cmd.Process.Kill() // does nothing to one that has been waited for
			return nil
		})
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("adder pid %d: %s", cmd.Process.Pid, describeExit(err))
		}
	}
	return nil
}

// raceAdder is one adder process: race-adder MODE SHMID SEMID N.
func raceAdder(l *lesson.Lesson, args []string) error {
	if len(args) != 4 {
		return lesson.Usagef("race-adder MODE SHMID SEMID N")
	}
	shmid, err1 := strconv.Atoi(args[1])
	semid, err2 := strconv.Atoi(args[2])
	n, err3 := strconv.Atoi(args[3])
	if err := errors.Join(err1, err2, err3); err != nil {
		return lesson.Usagef("race-adder: %v", err)
	}
	seg, err := unix.SysvShmAttach(shmid, 0, 0)
	if err != nil {
		return lesson.Failed(fmt.Sprintf("shmat(%d, NULL, 0)", shmid), err, "")
	}
	defer unix.SysvShmDetach(seg)
	counter := (*uint64)(unsafe.Pointer(&seg[raceCounter]))
	if err := startTogether((*uint32)(unsafe.Pointer(&seg[raceReady]))); err != nil {
		return err
	}
	switch args[0] {
	case "unsynchronised":
		addUnsynchronised(counter, n)
	case "semaphore":
		return addWithSemaphore(counter, sem.FromID(semid), n)
	case "atomic":
		for i := 0; i < n; i++ {
			atomic.AddUint64(counter, 1)
		}
	default:
		return lesson.Usagef("race-adder: unknown mode %q", args[0])
	}
	return nil
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
func addUnsynchronised(counter *uint64, n int) {
	for i := 0; i < n; i++ {
		v := atomic.LoadUint64(counter)
		atomic.StoreUint64(counter, v+1)
	}
}

func addWithSemaphore(counter *uint64, set *sem.Set, n int) error {
	for i := 0; i < n; i++ {
		if err := set.Wait(0, true); err != nil {
			return err
		}
		*counter++ // only one process is here at a time
		if err := set.Post(0, true); err != nil {
			return err
		}
	}
	return nil
}
