//go:build linux

package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/learn-sysv/shm-course/internal/lesson"
)

// exitDetaches is step 6: a child attaches and exits without shmdt (runAttachAndExit).
func (t *tour) exitDetaches() error {
	l := t.l
	l.Step("Exit detaches: a child attaches and exits without shmdt")
	p, err := startRole(l, nil, roleAttachAndExit, strconv.Itoa(t.id))
	if err != nil {
		return err
	}
	if _, err := p.Await("READY"); err != nil {
		return err
	}
	before, err := stat(t.id)
	if err != nil {
		return err
	}
	sayDesc(l, before)
	if err := p.Finish(); err != nil {
		return fmt.Errorf("the child (pid %d): %w", p.Pid, err)
	}
	l.Result("child %d has exited", p.Pid)
	after, err := stat(t.id)
	if err != nil {
		return err
	}
	sayDesc(l, after)
	l.Say("The kernel detached it at exit, as if by shmdt: nattch %d -> %d, dtime now, lpid the", before.Nattch, after.Nattch)
	l.Say("child. The same happens when a process is killed, even by SIGKILL.")
	return nil
}

// runAttachAndExit attaches the segment, tells the parent READY and exits without
// shmdt once the parent closes its standard input.
func runAttachAndExit(l *lesson.Lesson, args []string) error {
	if _, err := attachParents(l, args, 0); err != nil {
		return err
	}
	l.Say("waiting; then exiting without shmdt")
	l.Tell("READY")
	_, _ = io.Copy(io.Discard, l.In) // the parent closes our stdin when it has looked
	return nil
}
