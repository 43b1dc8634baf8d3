//go:build linux

// Command 05-shmctl inspects, changes and removes a System V shared memory segment
// with shmctl(2):
//
//	int shmctl(int shmid, int cmd, struct shmid_ds *buf);
//	func unix.SysvShmCtl(id, cmd int, desc *unix.SysvShmDesc) (int, error)
//
// Run it with `go run ./05-shmctl` from the repository root; see README.md. This
// file is the table of contents: each step is a function in the file named beside it.
package main

import (
	"strings"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
)

const name = "05-shmctl"

const usage = `
usage: go run ./05-shmctl [-step]                the tour: one segment through shmctl(2)
       go run ./05-shmctl [-step] -id ID         IPC_STAT of an existing segment, nothing else
       go run ./05-shmctl [-step] alternatives   where System V stops: the same exchange
                                                 done four other ways, and when to use which

The tour creates a segment of its own and takes it through shmctl(2): IPC_STAT
printed like "ipcs -m -i", IPC_SET changing the mode, what another user may not
do (EACCES, EPERM), SHM_LOCK and SHM_UNLOCK, the system limits (IPC_INFO,
SHM_INFO, SHM_STAT), how ids are made and kernel.shm_next_id (in a private IPC
namespace), the errors, and IPC_RMID while attached: key 0, status "dest",
ENOENT by key, a second process attaching by id, destruction at the last detach.

-id ID shows an existing segment with IPC_STAT only: it never changes or removes
a segment it did not create. List ids with: ipcs -m

alternatives passes a message and a reply between two processes through System V
shared memory, POSIX shared memory (/dev/shm), a memfd sent over a Unix socket
(with seals), a memfd inherited by the child, and MAP_SHARED|MAP_ANONYMOUS across
fork (in C, where gcc exists); then compares them.

Everything the program creates is removed when it ends, however it ends (Ctrl-C
and kill -TERM included). Flags come first: go run ./05-shmctl -step alternatives.
`

// The parts this program plays as its own second process (reexec.Command(role,
// ...)), each in the file named beside it. lesson.Roles runs one only when this
// lesson started it; typed by hand, a role is a usage error.
const (
	rolePeer        = "peer"         // rmid.go: attaches the marked segment by id, detaches when told
	roleStranger    = "stranger"     // stranger.go: as nobody, tries what only the owner may do
	roleMemlockZero = "memlock-zero" // lock.go: with ulimit -l 0, SHM_LOCK and SHM_UNLOCK its own segment
	roleNextID      = "next-id"      // nextid.go: in a private IPC namespace, writes shm_next_id
	roleAltSysV     = "alt-sysv"     // alt_sysv.go: attaches by id and answers
	roleAltPosix    = "alt-posix"    // alt_posix.go: opens /dev/shm/NAME, maps it and answers
	roleAltMemfd    = "alt-memfd"    // alt_memfd.go: receives a memfd over a socket and answers
	roleAltInherit  = "alt-inherit"  // alt_memfd.go: maps the memfd it inherited and answers
)

var roles lesson.Roles

func init() {
	roles = lesson.Roles{
		rolePeer:        peer,
		roleStranger:    stranger,
		roleMemlockZero: memlockZero,
		roleNextID:      nextIDRole,
		roleAltSysV:     altSysV,
		roleAltPosix:    altPosix,
		roleAltMemfd:    altMemfd,
		roleAltInherit:  altInherit,
	}
}

const (
	segSize = 5000  // not a multiple of the page size, on purpose: see IPC_STAT
	segMode = 0o600 // rw for the owner only
)

func main() { lesson.Main(name, usage, run) }

func run(l *lesson.Lesson, args []string) error {
	if handled, err := roles.Dispatch(l, args); handled {
		return err
	}
	idArg := l.Flags.String("id", "", "show the existing segment `ID` with IPC_STAT only (never changes or removes it)")
	if err := l.Parse(args); err != nil {
		return shortUsage(err)
	}
	words, err := l.Args() // a flag after the words is refused: flags come first
	if err != nil {
		return err
	}
	switch {
	case len(words) > 0 && words[0] == "alternatives":
		if len(words) > 1 && strings.HasPrefix(words[1], "-") { // -h: l.Args knows only the lesson's flags
			flag := words[1]
			if len(flag) > 20 || strings.ContainsAny(flag, " \t\"'") {
				flag = lesson.Quote(flag)
			}
			return lesson.Usagef("%s comes after the arguments, where it is not read as a flag: flags come first (go run ./%s %s alternatives)",
				flag, name, flag)
		}
		if len(words) > 1 {
			return lesson.Usagef("unexpected argument %s after alternatives", lesson.Quote(words[1]))
		}
		if flagGiven(l.Flags, "id") {
			return lesson.Usagef("-id and alternatives do not go together: give one")
		}
		return alternatives(l) // alternatives.go
	case len(words) > 0:
		return lesson.Usagef("unexpected argument %s: give -id ID, or the word alternatives, or nothing", lesson.Quote(words[0]))
	case flagGiven(l.Flags, "id"):
		id, err := parseID("-id", *idArg)
		if err != nil {
			return err
		}
		return inspect(l, id) // inspect.go
	}
	return tour(l)
}

// tour is the lesson: one segment of our own, through its whole life.
func tour(l *lesson.Lesson) error {
	t := &tourState{l: l, index: -1}
	for _, step := range []func() error{
		t.create,          // create.go: ftok and shmget (lessons 01 and 02)
		t.attach,          // create.go: shmat, and a message for later (lesson 03)
		t.ipcStat,         // stat.go: IPC_STAT, printed like ipcs -m -i
		t.ipcSet,          // stat.go: IPC_SET changes owner, group and 9 mode bits, nothing else
		t.stranger,        // stranger.go: another user gets EACCES and EPERM
		t.lock,            // lock.go: SHM_LOCK and SHM_UNLOCK, and who may
		t.limits,          // limits.go: IPC_INFO, SHM_INFO, SHM_STAT
		t.howIDsAreMade,   // ids.go: an id is a sequence number and a slot; a stale id gives EINVAL
		t.nextID,          // nextid.go: kernel.shm_next_id, written in a private IPC namespace
		t.provokeErrors,   // errors.go: EINVAL and EFAULT on purpose
		t.rmid,            // rmid.go: IPC_RMID while attached marks the segment
		t.keyIsFree,       // rmid.go: its key finds nothing; a new segment may take it
		t.attachAfterRmid, // rmid.go: a second process attaches it by id anyway (Linux)
		t.lastDetach,      // rmid.go: the last detach destroys it
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// tourState is what the steps of the tour share.
type tourState struct {
	l     *lesson.Lesson
	key   ftok.Key
	id    int
	index int    // the slot SHM_STAT found it in (limits.go), or -1
	mem   []byte // our attachment; nil once detached
	peer  *child // the second process, once started
	// forked is the pid of step 9's process if its start copied our attachment (a
	// fork, not a vfork): it is then lpid, though it never called shmat (nextid.go).
	forked int
}
