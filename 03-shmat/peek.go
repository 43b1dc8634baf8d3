//go:build linux

package main

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// peek is the program with an ID: attach an existing segment read-only, show its
// first bytes, detach. It never writes to the segment, and it refuses where its
// detach could destroy it: with kernel.shm_rmid_forced 1, a detach that leaves
// nothing attached destroys the segment.
func peek(l *lesson.Lesson, id int) error {
	destroy, err := procsysv.DetachWouldDestroy(id)
	if err != nil {
		return err
	}
	if destroy {
		return fmt.Errorf("segment %d has nothing attached, and kernel.shm_rmid_forced is 1 here: detaching after the peek would destroy it, so the lesson leaves it alone", id)
	}
	l.Step("Attach segment %d read-only", id)
	b, err := attach(l, id, unix.SHM_RDONLY)
	if err != nil {
		return err
	}
	l.Result("mapped at %#x, %d bytes", shm.Addr(b), len(b))
	if err := sayNattch(l, id, "ours included"); err != nil {
		return err
	}
	l.Step("Read its first bytes")
	for _, line := range lesson.FirstLines(hexDump(b, 64), 4) {
		l.Say("%s", line)
	}
	l.Step("Detach")
	l.Call("shmdt(%#x)", shm.Addr(b))
	if err := unix.SysvShmDetach(b); err != nil {
		return lesson.Failed(fmt.Sprintf("shmdt(%#x)", shm.Addr(b)), err, "")
	}
	return sayNattch(l, id, "ours is gone")
}
