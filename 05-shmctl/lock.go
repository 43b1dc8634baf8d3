//go:build linux

package main

// SHM_LOCK and SHM_UNLOCK keep a segment's pages in RAM, and who may call
// them. See shmctl(2).

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/reexec"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// lock locks the segment, shows that locking brings no page into RAM (touching
// does), unlocks it, and has a process with RLIMIT_MEMLOCK 0 show who may do which.
func (t *tourState) lock() error {
	l := t.l
	l.Step("SHM_LOCK and SHM_UNLOCK (Linux only)")
	before := rss(t.id)
	call := fmt.Sprintf("shmctl(%d, SHM_LOCK, NULL)", t.id)
	l.Call("%s", call)
	if _, err := unix.SysvShmCtl(t.id, cmdSHMLock, nil); err != nil {
		// Not fatal: an ordinary user's ulimit -l may be 0, or too small.
		l.Result("%s: needs CAP_IPC_LOCK, or to be the owner or creator with room in RLIMIT_MEMLOCK (ulimit -l is %s)", lesson.ErrnoText(err), memlockLimit())
	} else {
		l.Result("0: from now on the segment's pages stay in RAM; none will be swapped out")
		ds, err := t.stat()
		if err != nil {
			return err
		}
		l.Say("mode %#o has SHM_LOCKED (02000); ipcs -m shows status %q", ds.Perm.Mode, status(uint32(ds.Perm.Mode)))
		l.Say("SHM_LOCK brings no page in: rss (in /proc/sysvipc/shm) was %d bytes before the call", before)
		l.Say("and is %d now, of the %d the segment's pages hold. A page arrives when first touched.", rss(t.id), roundToPage(segSize))
		if roundToPage(segSize) > uint64(os.Getpagesize()) {
			l.Call("mem[%d] = 0    /* touch the last page, after locking, as shmctl(2) says */", segSize-1)
			t.mem[segSize-1] = 0
			l.Result("rss %d: the page arrived when touched, and now stays in RAM until SHM_UNLOCK", rss(t.id))
		} else {
			l.Say("(This machine's pages are %d bytes: the whole segment is the one page step 2 touched.)", os.Getpagesize())
		}
		l.Look("ipcs -m; awk '$2 == %d {print \"rss\", $15}' /proc/sysvipc/shm", t.id)
		call = fmt.Sprintf("shmctl(%d, SHM_UNLOCK, NULL)", t.id)
		l.Call("%s", call)
		if _, err := unix.SysvShmCtl(t.id, cmdSHMUnlock, nil); err != nil {
			return lesson.Failed(call, err, "")
		}
		l.Result("0: swappable again")
	}
	return t.lockRights()
}

// lockRights runs a second process that is neither root nor privileged, with
// RLIMIT_MEMLOCK 0, on a segment it makes itself: SHM_LOCK is refused, SHM_UNLOCK
// is not. As root it runs as nobody; otherwise as you.
func (t *tourState) lockRights() error {
	l := t.l
	l.Say("Who may: a process with CAP_IPC_LOCK (root), or the segment's owner or creator. For")
	l.Say("SHM_LOCK the owner also needs room in RLIMIT_MEMLOCK (ulimit -l): none gives EPERM,")
	l.Say("too little ENOMEM. SHM_UNLOCK needs no room.")
	if os.Geteuid() == 0 && !reexec.CanRunAs(reexec.Nobody()) {
		l.Say("This process is root in a user namespace (a container, or unshare -r) where the")
		l.Say("user nobody does not exist: there is no ordinary user to show it with, so it is skipped.")
		return nil
	}
	cmd, who, err := commandAsOrdinaryUser(l, roleMemlockZero)
	if err != nil {
		return err
	}
	l.Call("a second process, %s, with ulimit -l 0, on a segment of its own:", who)
	c, err := startChild(l, cmd)
	if err != nil {
		return err
	}
	fields, err := c.Await("ID")
	if err != nil {
		return err
	}
	if len(fields) != 1 {
		return fmt.Errorf("the second process (pid %d) said ID %q", c.Pid, fields)
	}
	id, err := strconv.Atoi(fields[0])
	if err != nil {
		return fmt.Errorf("the second process (pid %d) said ID %q", c.Pid, fields[0])
	}
	// Removed by the child; this is for a child killed before it could.
	l.Cleanup(fmt.Sprintf("remove segment %d", id), func() error { return shm.RemoveIfThere(id) })
	if err := c.Finish(); err != nil {
		return fmt.Errorf("the second process (pid %d): %w", c.Pid, err)
	}
	return nil
}

// memlockZero is the second process of the lock step. With RLIMIT_MEMLOCK 0 and no
// privilege, on a segment it creates (and removes) itself, SHM_LOCK is refused and
// SHM_UNLOCK allowed. It tells the parent the id (ID), so that the parent can remove
// the segment should this process be killed before it does.
func memlockZero(l *lesson.Lesson, args []string) error {
	if len(args) != 0 {
		return lesson.Usagef("%s takes no arguments", roleMemlockZero)
	}
	if os.Geteuid() == 0 {
		return fmt.Errorf("running as root, whose CAP_IPC_LOCK allows SHM_LOCK whatever the limit: this part shows an ordinary process")
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		return lesson.Failed("getrlimit(RLIMIT_MEMLOCK)", err, "")
	}
	lim.Cur = 0 // a process may always lower its own soft limit
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		return lesson.Failed("setrlimit(RLIMIT_MEMLOCK, 0)", err, "")
	}
	size := os.Getpagesize()
	call := fmt.Sprintf("shmget(IPC_PRIVATE, %d, IPC_CREAT|0600)", size)
	id, err := shm.Create(l, unix.IPC_PRIVATE, size, unix.IPC_CREAT|0o600)
	if err != nil {
		return lesson.Failed(call, err, "")
	}
	l.Tell("ID", id)
	fmt.Fprintf(l.Out, "uid %d, ulimit -l 0: %s -> id %d, its owner and creator\n", os.Geteuid(), call, id)
	_, err = unix.SysvShmCtl(id, cmdSHMLock, nil)
	fmt.Fprintf(l.Out, "shmctl(%d, SHM_LOCK, NULL): %s\n", id, errText(err))
	_, err = unix.SysvShmCtl(id, cmdSHMUnlock, nil)
	fmt.Fprintf(l.Out, "shmctl(%d, SHM_UNLOCK, NULL): %s\n", id, errText(err))
	_, err = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	fmt.Fprintf(l.Out, "shmctl(%d, IPC_RMID, NULL): %s\n", id, errText(err))
	return nil
}

// rss is the rss column of /proc/sysvipc/shm for segment id: bytes in RAM, or 0.
func rss(id int) uint64 {
	s, _, _ := procsysv.FindShm(id)
	return s.RSS
}

// memlockLimit is RLIMIT_MEMLOCK as ulimit -l prints it.
func memlockLimit() string {
	var lim unix.Rlimit
	switch err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); {
	case err != nil:
		return "unknown"
	case lim.Cur == unix.RLIM_INFINITY:
		return "unlimited"
	}
	return fmt.Sprintf("%d KiB", lim.Cur/1024)
}
