//go:build linux

package main

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// attachAndDetach is the program with an ID: attach an existing segment read-only
// and detach it, showing what changes. It never writes to the segment, and it
// refuses where its detach would destroy it: with kernel.shm_rmid_forced 1, a detach
// that leaves nothing attached destroys the segment.
func attachAndDetach(l *lesson.Lesson, id int) error {
	destroy, err := procsysv.DetachWouldDestroy(id)
	if err != nil {
		return err
	}
	if destroy {
		return fmt.Errorf("segment %d has nothing attached, and kernel.shm_rmid_forced is 1 here: the lesson's detach would destroy it, so it leaves it alone", id)
	}
	l.Step("Segment %d before", id)
	if err := sayStat(l, id); err != nil {
		return err
	}
	l.Step("Attach it read-only")
	b, err := attach(l, id, unix.SHM_RDONLY)
	if err != nil {
		return err
	}
	l.Result("mapped at %#x, %d bytes", shm.Addr(b), len(b))
	if err := sayStat(l, id); err != nil {
		return err
	}
	l.Step("Detach it")
	if err := detach(l, b); err != nil {
		return err
	}
	return sayStat(l, id)
}
