//go:build linux

// Command 04-shmdt detaches System V shared memory: shm_nattch drops and shm_dtime
// is set; the slice given to SysvShmDetach must start at the attach address and must
// not be touched afterwards; exit and exec detach on their own and fork inherits; the
// last detach of a segment marked with IPC_RMID destroys it; and a segment nobody
// removes outlives the process that made it. Read README.md beside it; the Linux man
// page is shmop(2).
package main

import (
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

const name = "04-shmdt"

const usage = `
usage: go run ./04-shmdt [-step]
       go run ./04-shmdt [-step] ID

shmdt(2) unmaps a System V shared memory segment from the calling process
(Linux man page: shmop(2)). It destroys the segment only when it is the last
detach of a segment marked with IPC_RMID (or, where kernel.shm_rmid_forced is
1, any detach that leaves nothing attached). Flags go before the arguments.

Without ID: attach and detach a segment, watching shm_nattch and shm_dtime;
show EINVAL for a resliced or empty slice; touch a slice after detaching (in
child processes: once recovered with debug.SetPanicOnFault, once fatal); show
that exit and exec detach and, with a small C program (needs gcc), that fork
inherits; let a last detach destroy a segment marked with IPC_RMID; and let a
child create a segment and exit, so that it stays in ipcs with nattch 0 until
this program removes it. Everything it creates is removed, also on error and
Ctrl-C.

With ID: attach that existing segment read-only and detach it again, showing
shm_nattch and shm_dtime before and after. (ipcs -m lists ids.)
`

func main() { lesson.Main(name, usage, run) }

func run(l *lesson.Lesson, args []string) error {
	// A second process is this program again, with its role as the first argument
	// (children.go); typed by hand, a role is refused.
	if handled, err := roles.Dispatch(l, args); handled {
		return err
	}
	if err := l.Parse(args); err != nil {
		return err
	}
	rest, err := l.Args()
	if err != nil {
		return err
	}
	switch len(rest) {
	case 0:
		return runTour(l)
	case 1:
		id, err := shm.ParseID(rest[0])
		if err != nil {
			return err
		}
		return attachAndDetach(l, id)
	default:
		return lesson.Usagef("too many arguments %q: give at most one segment id", rest)
	}
}

// tour is one run of the lesson: the segment its steps use.
type tour struct {
	l      *lesson.Lesson
	forced bool // kernel.shm_rmid_forced is 1: the last detach destroys a segment (forced.go)
	id     int  // the segment most steps attach and detach

	attached []byte // step 2's attachment, which step 3 detaches
	marked   int    // the segment step 9 marks with IPC_RMID while attached
	markedAt []byte // step 9's attachment of it, whose detach (step 10) destroys it
	left     int    // the segment a child creates and leaves behind (step 11)

	// anchor, with kernel.shm_rmid_forced 1, is an attachment the lesson keeps from
	// step 3 on, so that its segment survives the detaches the steps are about.
	anchor []byte
}

// runTour is the lesson. Each line is one numbered step, in the file named in its
// comment.
func runTour(l *lesson.Lesson) error {
	t := &tour{l: l, forced: rmidForced(l)} // forced.go
	for _, step := range []func() error{
		t.create,             // attach.go    1. a segment
		t.attachAndStat,      // attach.go    2. attach it: nattch 1, atime
		t.detachAndStat,      // detach.go    3. detach it: nattch 0, dtime; the segment stays
		t.wrongSlices,        // slices.go    4. which slice SysvShmDetach accepts
		t.touchAfterDetach,   // touch.go     5. the slice after detaching: a fault
		t.exitDetaches,       // exit.go      6. exit detaches
		t.execDetaches,       // exec.go      7. exec detaches
		t.forkExecExit,       // fork.go      8. fork inherits, exec and exit detach (C)
		t.markWhileAttached,  // destroy.go   9. IPC_RMID while attached marks the segment
		t.lastDetachDestroys, // destroy.go   10. the last detach of a marked segment destroys it
		t.createAndLeave,     // outlive.go   11. a child creates a segment and exits
		t.outlives,           // outlive.go   12. the segment outlives its creator
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}
