//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
)

// execDetaches is step 7: the same process runs a new program, and the attachment
// is gone (runAttachAndExec, then runAfterExec in the same process).
func (t *tour) execDetaches() error {
	l := t.l
	l.Step("Exec detaches: the same process runs a new program")
	p, err := startRole(l, nil, roleAttachAndExec, strconv.Itoa(t.id))
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
	if err := p.Send("exec"); err != nil {
		return err
	}
	fields, err := p.Await("EXECED")
	if err != nil {
		return err
	}
	if len(fields) != 1 || fields[0] != strconv.Itoa(p.Pid) {
		return fmt.Errorf("the child (pid %d) said EXECED %q: its pid should not change across exec", p.Pid, fields)
	}
	after, err := stat(t.id)
	if err != nil {
		return err
	}
	sayDesc(l, after)
	l.Say("Process %d is still running, but execve(2) replaced its address space, and the", p.Pid)
	l.Say("attachment with it: nattch %d -> %d, lpid %d, dtime now. (fork(2) is the opposite:", before.Nattch, after.Nattch, after.Lpid)
	l.Say("the child inherits every attachment. Go never forks without exec, which is why")
	l.Say("lesson 03's child attached by id; step 8 forks in C.)")
	if err := p.Finish(); err != nil {
		return fmt.Errorf("the child (pid %d): %w", p.Pid, err)
	}
	return nil
}

// runAttachAndExec attaches the segment, tells the parent READY, waits for the word
// "exec", and execs this program again as roleAfterExec, without shmdt.
func runAttachAndExec(l *lesson.Lesson, args []string) error {
	if _, err := attachParents(l, args, 0); err != nil {
		return err
	}
	l.Say("pid %d, waiting for the word to exec", os.Getpid())
	l.Tell("READY")
	if _, err := bufio.NewReader(l.In).ReadString('\n'); err != nil {
		return errors.New("the parent went away before saying exec")
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	l.Call("execve(%s, [%s %s])    (no shmdt)", exe, name, roleAfterExec)
	err = unix.Exec(exe, []string{exe, roleAfterExec}, os.Environ())
	return lesson.Failed("execve", err, "") // Exec returns only on failure
}

// runAfterExec is the program the exec starts, in the same process: it has no
// attachment. It tells the parent EXECED with its pid (the same as before the exec)
// and waits for the end of its standard input.
func runAfterExec(l *lesson.Lesson, _ []string) error {
	l.Result("after exec: pid %d, the same process, a fresh program that never attached", os.Getpid())
	l.Tell("EXECED", os.Getpid())
	_, _ = io.Copy(io.Discard, l.In)
	return nil
}
