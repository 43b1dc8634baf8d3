//go:build linux

// Command 05-shmctl inspects, changes and removes a System V shared memory segment
// with shmctl(2):
//
//	int shmctl(int shmid, int cmd, struct shmid_ds *buf);
//	func unix.SysvShmCtl(id, cmd int, desc *unix.SysvShmDesc) (int, error)
//
// Run it with `go run ./05-shmctl` from the repository root; see README.md.
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
)

const name = "05-shmctl"

const usage = `
usage: go run ./05-shmctl [-step] [-id ID]

Without -id: creates a segment of its own and takes it through shmctl(2):
IPC_STAT printed like "ipcs -m -i", IPC_SET changing the mode, what another user
may not do (EACCES, EPERM), SHM_LOCK, the system limits (IPC_INFO, SHM_INFO,
SHM_STAT), the errors, and IPC_RMID while attached: key 0, status "dest", ENOENT
by key, a second process attaching by id, destruction at the last detach.
Everything it creates is removed when it ends, however it ends.

With -id ID: shows an existing segment with IPC_STAT only. It never changes or
removes a segment it did not create. List ids with: ipcs -m
`

// The roles this program plays when it starts itself again (see reexec).
const (
	rolePeer     = "peer"     // attaches a segment by id, detaches when told
	roleStranger = "stranger" // run as nobody: tries IPC_STAT, IPC_SET, IPC_RMID
)

var roles lesson.Roles

func init() { roles = lesson.Roles{rolePeer: peer, roleStranger: stranger} }

const (
	segSize = 5000  // not a multiple of the page size, on purpose: see IPC_STAT
	segMode = 0o600 // rw for the owner only
)

func main() { lesson.Main(name, usage, run) }

func run(l *lesson.Lesson, args []string) error {
	// A second process is this program again, with its role as the first argument;
	// a role runs only when this lesson started it (lesson.Roles).
	if handled, err := roles.Dispatch(l, args); handled {
		return err
	}
	idArg := l.Flags.String("id", "", "show the existing segment `ID` with IPC_STAT only (never changes or removes it)")
	if err := l.Parse(args); err != nil {
		return err
	}
	if l.Flags.NArg() > 0 {
		return lesson.Usagef("unexpected argument %q: the only input is -id ID", l.Flags.Arg(0))
	}
	if !flagGiven(l.Flags, "id") {
		return tour(l)
	}
	// shmctl takes a C int: parse as 32 bits, so that a huge number is refused
	// rather than cut down to some other segment's id.
	id, err := strconv.ParseInt(*idArg, 10, 32)
	if err != nil {
		return lesson.Usagef("-id %q is not a segment id: give a number that fits in a C int, as ipcs -m lists them", *idArg)
	}
	return inspect(l, int(id))
}

// tour is the default run: one segment of our own, through its whole life.
func tour(l *lesson.Lesson) error {
	t := &tourState{l: l}
	for _, step := range []func() error{
		t.create, t.attach, t.ipcStat, t.ipcSet, t.stranger, t.lock,
		t.limits, t.provokeErrors, t.rmid, t.keyIsFree, t.attachAfterRmid, t.lastDetach,
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

type tourState struct {
	l    *lesson.Lesson
	key  ftok.Key
	id   int
	mem  []byte        // our attachment; nil once detached
	peer *lesson.Child // the second process, once started
}

// create makes a key with ftok from a file of our own and a new segment for it.
func (t *tourState) create() error {
	l := t.l
	l.Step("Create a segment to control")
	f, err := os.CreateTemp("", "05-shmctl-key-")
	if err != nil {
		return err
	}
	f.Close()
	path := f.Name()
	l.Cleanup("remove "+path, func() error { return os.Remove(path) })

	// Another segment may already use the key ftok gives; try the next project id.
	for proj := 'C'; proj <= 'Z'; proj++ {
		if t.key, err = ftok.Ftok(path, int(proj)); err != nil {
			return err
		}
		call := fmt.Sprintf("shmget(%v, %d, IPC_CREAT|IPC_EXCL|%#o)", t.key, segSize, segMode)
		l.Call("ftok(%q, '%c') = %v", path, proj, t.key)
		l.Call(call)
		t.id, err = unix.SysvShmGet(int(t.key), segSize, unix.IPC_CREAT|unix.IPC_EXCL|segMode)
		if errors.Is(err, unix.EEXIST) {
			l.Result("%s: that key is taken; trying the next project id", lesson.ErrnoText(err))
			continue
		}
		if err != nil {
			return lesson.Failed(call, err, "see 02-shmget for what causes it")
		}
		id := t.id
		l.Cleanup(fmt.Sprintf("remove segment %d", id), func() error { return removeIfExists(id) })
		l.Result("id %d", id)
		l.Look("ipcs -m")
		return nil
	}
	return errors.New("every key tried is in use by another segment; remove stale ones (ipcs -m, ipcrm -m ID)")
}

// attach maps the segment and writes a message for the second process to read later.
func (t *tourState) attach() error {
	l := t.l
	l.Step("Attach it and write a message")
	call := fmt.Sprintf("shmat(%d, NULL, 0)", t.id)
	l.Call(call)
	mem, err := unix.SysvShmAttach(t.id, 0, 0)
	if err != nil {
		return lesson.Failed(call, err, "")
	}
	t.mem = mem
	l.Cleanup(fmt.Sprintf("detach segment %d", t.id), t.detach)
	msg := fmt.Sprintf("hello from pid %d", os.Getpid())
	copy(mem, msg)
	l.Result("attached at %p; wrote %q", &mem[0], msg)
	return nil
}

// detach detaches our attachment, if we still have it.
func (t *tourState) detach() error {
	if t.mem == nil {
		return nil
	}
	err := unix.SysvShmDetach(t.mem)
	t.mem = nil
	return err
}
