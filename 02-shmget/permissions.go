//go:build linux

// The permission bits at work, tried by a process running as another user.

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/reexec"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// permissions shows the permission bits at work. Run as root, it starts a process
// as the user nobody to try them, and returns it still running: the execute step
// asks it for more.
func permissions(l *lesson.Lesson, key ftok.Key, mode int) (*lesson.Child, error) {
	l.Step("Permission bits, tested by another user")
	l.Say("Each octal digit is one class, owner/group/others: read 4 + write 2 + execute 1.")
	l.Say("6 = 4+2 is read and write; 7 = 4+2+1 adds execute (the next step shows that the")
	l.Say("kernel checks it too). So 0644 is rw-r--r--: the owner reads and writes, everyone")
	l.Say("else reads.")
	modes := []int{0o600, 0o644, 0o666}
	if !isShown(mode) {
		modes = append(modes, mode)
	}
	var ids []string
	for _, m := range modes {
		id, err := labelledSegment(l, m)
		if err != nil {
			return nil, err
		}
		ids = append(ids, strconv.Itoa(id))
	}
	if u, err := umask(); err == nil {
		l.Say("This process's umask is %04o, yet the modes are exactly as asked (were umask", u)
		l.Say("applied, 0666 would have become %04o): umask is for files, not System V objects.", 0o666&^u)
	}

	if os.Geteuid() != 0 {
		l.Say("To see another user refused, a process must start one as that user, which only")
		l.Say("root may do. You are uid %d, so this part is skipped. To see it:", os.Geteuid())
		l.Look("go build -o /tmp/02-shmget ./02-shmget && sudo /tmp/02-shmget; rm /tmp/02-shmget")
		explainYourMode(l, mode)
		return nil, nil
	}
	uid, gid := reexec.Nobody()
	if !reexec.CanRunAs(uid, gid) {
		l.Say("To see another user refused, a process must start one as that user. This process")
		l.Say("is root in a user namespace (a container, or unshare -r) where the user nobody")
		l.Say("(uid %d) does not exist, so this part is skipped. Run the lesson outside it to see it.", uid)
		explainYourMode(l, mode)
		return nil, nil
	}
	args := append([]string{roleTry, key.String()}, ids...)
	// CommandAs copies this program where nobody can run it, and removes the copy
	// on every way out, Ctrl-C included.
	cmd, err := lesson.CommandAs(l, uid, gid, args...)
	if err != nil {
		return nil, err
	}
	l.Say("Root passes every check (CAP_IPC_OWNER), so a second process runs as nobody")
	l.Say("(uid %d). It opens the segment of step 3 (key %v, mode %04o) by its", uid, key, mode)
	l.Say("key, then tries to attach each segment above read-write and read-only")
	l.Say("(SHM_RDONLY):")
	l.Call("start: %s %s   (as uid %d, gid %d)", filepath.Base(cmd.Path), strings.Join(args, " "), uid, gid)
	nobody, err := lesson.StartChild(l, cmd)
	if err != nil {
		return nil, err
	}
	if _, err := nobody.Await(tellTried); err != nil {
		return nil, fmt.Errorf("the process running as nobody failed: %v", err)
	}
	l.Say("shmget checks only the permissions asked for in shmflg: with 0 it finds any")
	l.Say("segment, and the refusal comes at shmat. 0600: others have no bits, EACCES both")
	l.Say("ways. 0644: others may read, so only the SHM_RDONLY attach works. 0666: anyone")
	l.Say("on the machine may write, which is rarely what you want; prefer 0600 and share")
	l.Say("with other users on purpose.")
	explainYourMode(l, mode)
	return nobody, nil
}

// labelledSegment creates an IPC_PRIVATE segment with mode m for the permission
// step and writes into it what it is, so that whoever attaches it can say.
func labelledSegment(l *lesson.Lesson, m int) (int, error) {
	flg := unix.IPC_CREAT | m
	l.Call("%s; shmat; write its label; shmctl(IPC_STAT)", shmgetCall(ftok.Private, 64, flg))
	id, err := shm.Create(l, unix.IPC_PRIVATE, 64, flg)
	if err != nil {
		return 0, lesson.Failed(shmgetCall(ftok.Private, 64, flg), err, whyCreateFailed(err, 64))
	}
	b, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		return 0, lesson.Failed(fmt.Sprintf("shmat(%d, NULL, 0)", id), err, "")
	}
	write(b, fmt.Sprintf("segment %d, mode %04o", id, m))
	if err := unix.SysvShmDetach(b); err != nil {
		return 0, lesson.Failed(fmt.Sprintf("shmdt(%#x)", shm.Addr(b)), err, "")
	}
	var ds unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds); err != nil {
		return 0, lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_STAT, &ds)", id), err, "")
	}
	l.Result("id %d: mode %04o (%s), owner uid %d", id, ds.Perm.Mode&0o777, rwx(int(ds.Perm.Mode)), ds.Perm.Uid)
	return id, nil
}
