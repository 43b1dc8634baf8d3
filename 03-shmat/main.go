//go:build linux

// Command 03-shmat maps one System V shared memory segment into two processes:
// different addresses, the same bytes. It attaches read-only and faults on a write,
// counts attachments with shm_nattch, lays out a pointer-free header, shows the
// errors shmat gives and why SHMLBA exists, and four traps a Go program falls into
// with shared memory. Read README.md beside it; the Linux man page is shmop(2).
package main

import (
	"fmt"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

const name = "03-shmat"

const usage = `
usage: go run ./03-shmat [-step] [-size BYTES]
       go run ./03-shmat [-step] ID

shmat(2) maps a System V shared memory segment into the calling process
(Linux man page: shmop(2)). Flags go before the arguments.

Without ID: create a segment; attach it twice in this process and once in a
second process (addresses, shared bytes, shm_nattch); keep a pointer-free
header in it; attach it read-only and write (the fault recovered with
debug.SetPanicOnFault, and fatal without it); show EINVAL, SHMLBA and SHM_RND,
and EACCES. Then four Go traps, each with a second process: append to the
attached slice, a flag polled without sync/atomic, the race detector blind to
the segment, and a pointer stored in it. Everything it creates is removed,
also on error and Ctrl-C.

With ID: attach that existing segment read-only, show where it landed and its
first bytes, and detach. The segment is not changed. (ipcs -m lists ids.)
`

func main() { lesson.Main(name, usage, run) }

func run(l *lesson.Lesson, args []string) error {
	// A second process is this program again, with its role as the first argument
	// (children.go); typed by hand, a role is refused.
	if handled, err := roles.Dispatch(l, args); handled {
		return err
	}
	size := l.Flags.Int("size", 4096, fmt.Sprintf("size of the segment in bytes (at least %d: the header, two messages and the Go-trap steps' 64 bytes)", minSize))
	if err := l.Parse(args); err != nil {
		return err
	}
	rest, err := l.Args()
	if err != nil {
		return err
	}
	switch len(rest) {
	case 0:
		if *size < minSize {
			return lesson.Usagef("-size %d is too small: the lesson's layout needs at least %d bytes", *size, minSize)
		}
		return runTour(l, *size)
	case 1:
		id, err := shm.ParseID(rest[0])
		if err != nil {
			return err
		}
		return peek(l, id)
	default:
		return lesson.Usagef("too many arguments %q: give at most one segment id", rest)
	}
}

// tour is one run of the lesson: the segment it made and its attachments here.
type tour struct {
	l      *lesson.Lesson
	size   int
	forced bool // kernel.shm_rmid_forced is 1: the last detach destroys a segment (forced.go)
	id     int  // the segment every step attaches

	first, second, ro []byte // this process's attachments of it
}

// runTour is the lesson. Each line is one or two numbered steps, in the file named
// in its comment.
func runTour(l *lesson.Lesson, size int) error {
	t := &tour{l: l, size: size, forced: rmidForced(l)} // forced.go
	for _, step := range []func() error{
		t.create,              // attach.go        1. a segment to attach
		t.attachTwice,         // attach.go        2-3. attach it, twice, in this process
		t.layOut,              // layout.go        4. a pointer-free header, offsets instead of addresses
		t.shareWithChild,      // second.go        5. a second process attaches the same segment
		t.readOnly,            // readonly.go      6. SHM_RDONLY, and a write through it recovered
		t.faultWithoutRecover, // readonly.go      7. the same write without recovery: fatal
		t.addressErrors,       // einval.go        8. EINVAL: a removed id, a bad address
		t.shmlba,              // shmlba.go        9. SHMLBA and SHM_RND, and why they exist
		t.permissions,         // permissions.go   10. EACCES
		t.appendTrap,          // append.go        11. Go trap: append to the attached slice
		t.pollingTrap,         // polling.go       12. Go trap: a flag polled without sync/atomic
		t.raceDetector,        // racedetector.go  13. Go trap: the race detector cannot see the segment
		t.pointerTrap,         // pointers.go      14. Go trap: a pointer stored in the segment
		t.detachAll,           // detach.go        15. detach and remove
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}
