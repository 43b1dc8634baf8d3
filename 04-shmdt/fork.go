//go:build linux

package main

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/learn-sysv/shm-course/internal/lesson"
)

// forkC is c/fork.c, the C program step 8 compiles and runs.
//
//go:embed c/fork.c
var forkC string

// forkExecExit is step 8: a small C program (c/fork.c) attaches the segment, forks,
// lets its child exec, and exits. Go cannot show fork: a Go program is many threads,
// and a forked copy would hold only one of them, so it never forks without exec.
// Where gcc is missing, the step says what it would show and goes on.
func (t *tour) forkExecExit() error {
	l := t.l
	l.Step("Fork inherits, exec and exit detach: a C program")
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		l.Say("gcc is not installed, so this step is skipped. It compiles c/fork.c, a small C")
		l.Say("program: Go cannot fork a running program safely (it is many threads, and a forked")
		l.Say("child would hold only one of them). The C program attaches the segment and forks")
		l.Say("(nattch goes up: the child inherits the attachment), its child execs (nattch goes")
		l.Say("down), and it exits without shmdt (down again). Install gcc (sudo apt-get install")
		l.Say("gcc) and run the lesson again to see it.")
		return nil
	}
	bin, err := buildFork(l, gcc)
	if err != nil {
		return err
	}
	l.Call("%s %d    (the C program, started by this one)", bin, t.id)
	p, err := lesson.StartChild(l, exec.Command(bin, strconv.Itoa(t.id)))
	if err != nil {
		return err
	}
	if _, err := p.Await("ATTACHED"); err != nil {
		return err
	}
	attached, err := stat(t.id)
	if err != nil {
		return err
	}
	sayDesc(l, attached)

	if err := p.Send("fork"); err != nil {
		return err
	}
	fields, err := p.Await("FORKED")
	if err != nil {
		return err
	}
	if len(fields) != 1 {
		return fmt.Errorf("the C program (pid %d) said FORKED %q, not a pid", p.Pid, fields)
	}
	child := fields[0]
	forked, err := stat(t.id)
	if err != nil {
		return err
	}
	sayDesc(l, forked)
	l.Say("fork(2) copied the C program's address space, attachment included: nattch %d -> %d", attached.Nattch, forked.Nattch)
	l.Say("from one shmat. It counts as an attach by the forking process: lpid is %d, the", forked.Lpid)
	l.Say("parent, and shm_atime is now.")
	l.Look("ipcs -m -i %d    (nattch, lpid, att_time)", t.id)

	if err := p.Send("exec"); err != nil {
		return err
	}
	if _, err := p.Await("EXECED"); err != nil {
		return err
	}
	execed, err := stat(t.id)
	if err != nil {
		return err
	}
	sayDesc(l, execed)
	l.Say("The child (pid %s) called execve(2): a new program, no attachment. nattch %d -> %d,", child, forked.Nattch, execed.Nattch)
	l.Say("lpid %d, the child: the detach was its own.", execed.Lpid)

	if err := p.Send("exit"); err != nil {
		return err
	}
	if err := p.Finish(); err != nil {
		return fmt.Errorf("the C program (pid %d): %w", p.Pid, err)
	}
	exited, err := stat(t.id)
	if err != nil {
		return err
	}
	sayDesc(l, exited)
	l.Say("The C program exited without shmdt: nattch %d -> %d, lpid %d. Exit detaches every", execed.Nattch, exited.Nattch, exited.Lpid)
	l.Say("attachment, exec too; fork adds one for the child.")
	return nil
}

// buildFork writes c/fork.c into a fresh directory and compiles it with gcc; the
// directory is removed when the lesson ends.
func buildFork(l *lesson.Lesson, gcc string) (string, error) {
	dir, err := lesson.MkdirTemp(l, "shm-course-fork-")
	if err != nil {
		return "", err
	}
	src, bin := filepath.Join(dir, "fork.c"), filepath.Join(dir, "fork")
	if err := os.WriteFile(src, []byte(forkC), 0o600); err != nil {
		return "", err
	}
	l.Call("gcc -O2 -Wall -o %s %s    (c/fork.c, built into this program)", bin, src)
	if out, err := lesson.BuildC(l, gcc, dir, src, bin); err != nil {
		return "", fmt.Errorf("gcc could not compile c/fork.c (%v): %s", err, lesson.FirstLines(string(out), 1))
	}
	return bin, nil
}
