//go:build linux

package main

// The parts this program plays as a second process. Go cannot fork, so the lesson
// starts its own executable again (reexec.Command, or reexec.CommandAs for another
// user) with the role's name as the first argument, so that ps shows it. A role is
// internal (lesson.Roles refuses it when typed), and it touches only segments that
// its parent, the lesson, created: it checks each one's creator pid first.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/shm"
)

const (
	roleAttach = "child-attach" // child-attach ID: attach a segment by id, read it, answer
	roleTry    = "child-try"    // child-try KEY ID...: as another user, open KEY and attach each segment; then, told "exec", try the execute bit
)

var roles lesson.Roles

func init() {
	roles = lesson.Roles{roleAttach: childAttach, roleTry: childTry}
}

// The protocol lines a child tells its parent (lesson.Child.Await).
const (
	tellWrote = "WROTE" // child-attach has written its answer into the segment
	tellTried = "TRIED" // child-try has tried every segment it was given
	tellDone  = "DONE"  // child-try has tried the execute bit
	sayExec   = "exec"  // the parent's line to child-try: go on to the execute bit
)

// childAttach is the second process of the IPC_PRIVATE step: it attaches the
// segment whose id it was given, reads it and answers, and stays attached until the
// parent has read the answer (the end of its input).
func childAttach(l *lesson.Lesson, args []string) error {
	if len(args) != 1 {
		return lesson.Usagef("usage: %s ID", roleAttach)
	}
	id, err := shm.ParseID(args[0])
	if err != nil {
		return err
	}
	if err := createdByParent(id); err != nil {
		return err
	}
	l.Call("shmat(%d, NULL, 0)", id)
	b, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		return lesson.Failed(fmt.Sprintf("shmat(%d, NULL, 0)", id), err, "")
	}
	defer unix.SysvShmDetach(b)
	l.Result("attached at %#x; read %q", shm.Addr(b), message(b))
	reply := fmt.Sprintf("hello back from pid %d", os.Getpid())
	write(b, reply)
	l.Result("wrote %q", reply)
	l.Tell(tellWrote)
	_, _ = io.Copy(io.Discard, l.In) // attached until the parent, done reading, closes our input
	return nil
}

// childTry runs as another user. It opens key with shmget, asking first for no
// permissions and then for read and write, and tries to attach each segment
// read-write and read-only, reporting what the kernel says. Then, when its parent
// says so, it tries the execute bit on segments of its own (tryExecute).
func childTry(l *lesson.Lesson, args []string) error {
	if len(args) < 1 {
		return lesson.Usagef("usage: %s KEY ID...", roleTry)
	}
	key, err := parseKey(args[0])
	if err != nil {
		return err
	}
	var ids []int
	for _, arg := range args[1:] {
		id, err := shm.ParseID(arg)
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	if err := keyCreatedByParent(key); err != nil {
		return err
	}
	for _, id := range ids {
		if err := createdByParent(id); err != nil {
			return err
		}
	}

	who := fmt.Sprintf("uid %d:", os.Getuid())
	for _, flg := range []int{0, 0o600} {
		id, err := unix.SysvShmGet(int(key), 0, flg)
		if err != nil {
			l.Result("%s %s: %s", who, shmgetCall(key, 0, flg), lesson.ErrnoText(err))
		} else {
			l.Result("%s %s: id %d", who, shmgetCall(key, 0, flg), id)
		}
	}
	for _, id := range ids {
		if err := tryAttach(l, who, id); err != nil {
			return err
		}
	}
	l.Tell(tellTried)

	in := bufio.NewScanner(l.In)
	if !in.Scan() || in.Text() != sayExec {
		return nil // the parent did not ask for more
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if err := tryExecute(l, who, exe); err != nil {
		return err
	}
	l.Tell(tellDone)
	return nil
}

// tryAttach attaches segment id read-write, then read-only, and says how each went.
func tryAttach(l *lesson.Lesson, who string, id int) error {
	for _, try := range []struct {
		flags int
		name  string
	}{{0, "0"}, {unix.SHM_RDONLY, "SHM_RDONLY"}} {
		b, err := unix.SysvShmAttach(id, 0, try.flags)
		if err != nil {
			l.Result("%s shmat(%d, NULL, %s): %s", who, id, try.name, lesson.ErrnoText(err))
			continue
		}
		got := message(b)
		if try.flags == 0 {
			write(b, "nobody was here")
			l.Result("%s shmat(%d, NULL, %s): attached; read %q, wrote \"nobody was here\"", who, id, try.name, got)
		} else {
			l.Result("%s shmat(%d, NULL, %s): attached; read %q", who, id, try.name, got)
		}
		if err := unix.SysvShmDetach(b); err != nil {
			return lesson.Failed(fmt.Sprintf("shmdt(%#x)", shm.Addr(b)), err, "")
		}
	}
	return nil
}

// parseKey reads a key as ipcs prints it, 0x and 8 hex digits.
func parseKey(s string) (ftok.Key, error) {
	hex, ok := strings.CutPrefix(s, "0x")
	v, err := strconv.ParseUint(hex, 16, 32)
	if !ok || len(hex) != 8 || err != nil {
		return 0, lesson.Usagef("key %s is not 0x and 8 hex digits", lesson.Quote(s))
	}
	return ftok.Key(int32(uint32(v))), nil
}

// createdByParent refuses a segment that the process which started this one did
// not create: a role touches only what its lesson made in this run.
// /proc/sysvipc/shm lists every segment with its creator, for anyone to read, so
// it works also where shmctl(IPC_STAT) would be refused.
func createdByParent(id int) error {
	seg, exists, err := procsysv.FindShm(id)
	if err != nil {
		return err
	}
	if !exists {
		return lesson.Failed(fmt.Sprintf("shmat(%d, ...)", id), unix.EINVAL, "no segment has this id")
	}
	return fromParent(fmt.Sprintf("segment %d", id), seg)
}

// keyCreatedByParent is createdByParent for the segment that key names.
func keyCreatedByParent(key ftok.Key) error {
	list, err := procsysv.ReadShm()
	if err != nil {
		return err
	}
	for _, seg := range list {
		if seg.Key == key && key != ftok.Private {
			return fromParent(fmt.Sprintf("the segment of key %v", key), seg)
		}
	}
	return lesson.Failed(shmgetCall(key, 0, 0), unix.ENOENT, "no segment has this key")
}

func fromParent(what string, seg procsysv.Shm) error {
	if seg.CPID != os.Getppid() {
		return errors.New(what + fmt.Sprintf(" was created by pid %d, not by the lesson that started this process (pid %d): a role touches only what its lesson created", seg.CPID, os.Getppid()))
	}
	return nil
}
