//go:build linux

// Command 02-shmget shows how shmget(2) creates a System V shared memory segment
// or finds an existing one, and every way it says no.
//
//	C:  int shmget(key_t key, size_t size, int shmflg);
//	Go: id, err := unix.SysvShmGet(key, size, flag)
//
// The program creates a segment from an ftok key with IPC_CREAT|IPC_EXCL, meets
// EEXIST, ENOENT and EINVAL for real, compares the size asked for with the pages
// the kernel counts, shows memory arriving only when pages are touched, ENOMEM and
// SHM_NORESERVE, SHM_HUGETLB, hands an IPC_PRIVATE segment to a second process by
// its id, and shows the permission bits at work (execute included), run as root by
// a process it starts as the user nobody. Everything it creates it removes, however
// it ends. Read README.md beside it; tour() below is the table of contents.
package main

import (
	"github.com/learn-sysv/shm-course/internal/lesson"
)

const name = "02-shmget"

const usage = `usage: go run ./02-shmget [-step] [-size BYTES] [-mode OCTAL]

Creates a System V shared memory segment with shmget(2) and shows: IPC_CREAT|IPC_EXCL
and EEXIST, opening with size 0, ENOENT without IPC_CREAT, EINVAL for size 0 and for
a size larger than the segment, the size asked for against the pages the kernel
counts, a zero-filled new segment, memory arriving only when a page is touched,
ENOMEM and SHM_NORESERVE (sizes chosen from this machine's memory), SHM_HUGETLB, an
IPC_PRIVATE segment used by a second process that was given its id, and the
permission bits, execute included, tested by a process running as nobody (as root)
or by this one. Everything created is removed at the end, also on error or Ctrl-C.`

func main() { lesson.Main(name, usage, run) }

// maxSize caps -size: the lesson reads every byte of the segment it creates, and
// it should stay harmless on a shared machine. The kernel's own limit is SHMMAX.
const maxSize = 64 << 20

func run(l *lesson.Lesson, args []string) error {
	if handled, err := roles.Dispatch(l, args); handled {
		return err
	}
	size := l.Flags.Int("size", 100, "segment size in bytes, 1 to 64 MiB (0 shows EINVAL); the kernel counts whole pages")
	modeFlag := l.Flags.String("mode", "0600", "permission bits of the segment, octal, at most 0777; the owner digit binds you too: without 6 in it the lesson's own calls fail with EACCES (root passes: CAP_IPC_OWNER)")
	if err := l.Parse(args); err != nil {
		return err
	}
	if l.Flags.NArg() > 0 {
		return lesson.Usagef("unexpected argument %s: this lesson takes only flags", lesson.Quote(l.Flags.Arg(0)))
	}
	mode, err := parseMode(*modeFlag)
	if err != nil {
		return err
	}
	if *size < 0 || *size > maxSize {
		return lesson.Usagef("-size %d: give 1 to %d bytes (0 to see shmget refuse it with EINVAL)", *size, maxSize)
	}
	return tour(l, *size, mode)
}

// tour is the lesson: each call is one numbered step (or two), in the file its
// comment names.
func tour(l *lesson.Lesson, size, mode int) error {
	limits(l)                       // limits.go
	key, keyFile, err := makeKey(l) // create.go, like every step up to sizes
	if err != nil {
		return err
	}
	id, err := create(l, key, size, mode)
	if err != nil {
		return err
	}
	if err := createAgain(l, key, size, mode, id); err != nil {
		return err
	}
	if err := open(l, key, size, id); err != nil {
		return err
	}
	if err := missing(l, keyFile, mode); err != nil {
		return err
	}
	b, err := sizes(l, id, size, mode) // sizes.go
	if err != nil {
		return err
	}
	zeroFilled(l, b)         // sizes.go
	big, err := untouched(l) // memory.go
	if err != nil {
		return err
	}
	if err := touch(l, big); err != nil { // memory.go
		return err
	}
	noReserve, err := overcommit(l) // memory.go
	if err != nil {
		return err
	}
	if err := noReserveRisk(l, noReserve); err != nil { // memory.go
		return err
	}
	if err := hugePages(l); err != nil { // memory.go
		return err
	}
	if err := private(l, size); err != nil { // private.go
		return err
	}
	nobody, err := permissions(l, key, mode) // permissions.go
	if err != nil {
		return err
	}
	if err := execute(l, keyFile, nobody); err != nil { // execute.go
		return err
	}
	outlive(l, id) // outlive.go
	return nil
}
