//go:build linux

package main

// The end of a segment: IPC_RMID while attached, the key freed, a second process
// attaching by id anyway, and the last detach.

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/reexec"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// rmid marks the segment for removal while we are still attached.
func (t *tourState) rmid() error {
	l := t.l
	l.Step("IPC_RMID while attached: marked, not destroyed")
	call := fmt.Sprintf("shmctl(%d, IPC_RMID, NULL)", t.id)
	l.Call("%s", call)
	if _, err := unix.SysvShmCtl(t.id, unix.IPC_RMID, nil); err != nil {
		return lesson.Failed(call, err, "")
	}
	l.Result("0")
	ds, err := t.stat()
	if err != nil {
		return err
	}
	showStat(l, t.id, &ds)
	l.Say("The segment still exists: nattch is %d. The kernel set SHM_DEST (01000) in the mode", ds.Nattch)
	l.Say("(%#o) and changed the key to 0x00000000 so that shmget can no longer find it.", ds.Perm.Mode)
	if t.forked != 0 && int(ds.Lpid) == t.forked {
		l.Say("lpid is still %d, step 9's process: its fork copied our attachment and its execve", ds.Lpid)
		l.Say("detached the copy. IPC_RMID changes neither lpid nor the attach and detach times.")
	}
	l.Look("ipcs -m        # key 0x00000000, status %s", status(uint32(ds.Perm.Mode)))
	showProcLine(l, t.id)
	return nil
}

// keyIsFree shows that shmget no longer finds the key, and that it can be reused.
func (t *tourState) keyIsFree() error {
	l := t.l
	l.Step("The key is free: shmget(%v) no longer finds the segment", t.key)
	call := fmt.Sprintf("shmget(%v, 0, 0)", t.key)
	l.Call("%s", call)
	_, err := unix.SysvShmGet(int(t.key), 0, 0)
	if !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("%s: want ENOENT for a marked segment's key, got %s", call, errText(err))
	}
	l.Result("%s: no segment has key %v any more", lesson.ErrnoText(err), t.key)

	call = fmt.Sprintf("shmget(%v, %d, IPC_CREAT|IPC_EXCL|%#o)", t.key, segSize, segMode)
	l.Call("%s", call)
	id2, err := shm.Create(l, int(t.key), segSize, unix.IPC_CREAT|unix.IPC_EXCL|segMode)
	if err != nil {
		return lesson.Failed(call, err, "")
	}
	l.Result("id %d: a new, different segment with the same key (IPC_EXCL did not see the old one)", id2)
	l.Call("shmctl(%d, IPC_RMID, NULL)", id2)
	if _, err := unix.SysvShmCtl(id2, unix.IPC_RMID, nil); err != nil {
		return lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_RMID, NULL)", id2), err, "")
	}
	_, exists, _ := procsysv.FindShm(id2)
	l.Result("0: nobody had it attached, so it was destroyed at once (in /proc/sysvipc/shm: %v)", exists)
	return nil
}

// attachAfterRmid starts a second process that attaches the marked segment by id.
func (t *tourState) attachAfterRmid() error {
	l := t.l
	l.Step("A second process attaches by id after IPC_RMID (Linux only)")
	cmd, err := reexec.Command(rolePeer, strconv.Itoa(t.id))
	if err != nil {
		return err
	}
	// Its end of input is its word to detach and exit (see peer); on Ctrl-C or an
	// error, the cleanup lesson.StartChild registers ends it (SIGTERM) and waits.
	c, err := startChild(l, cmd)
	if err != nil {
		return err
	}
	t.peer = c
	l.Call("second process, pid %d: shmat(%d, NULL, 0)", c.Pid, t.id)
	if _, err := c.Await("ATTACHED"); err != nil {
		return err
	}
	ds, err := t.stat()
	if err != nil {
		return err
	}
	l.Say("nattch is %d. Linux lets a process that knows the id (and has permission) attach a", ds.Nattch)
	l.Say("marked segment; other systems refuse, so portable programs do not rely on it.")
	return nil
}

// lastDetach detaches the second process, then us: the last detach destroys it.
func (t *tourState) lastDetach() error {
	l := t.l
	l.Step("The last detach destroys the segment")
	l.Call("second process: shmdt(addr)")
	if err := t.peer.Send("detach"); err != nil {
		return err
	}
	if _, err := t.peer.Await("DETACHED"); err != nil {
		return err
	}
	if err := t.peer.Finish(); err != nil {
		return fmt.Errorf("the second process (pid %d): %w", t.peer.Pid, err)
	}
	ds, err := t.stat()
	if err != nil {
		return err
	}
	l.Say("nattch %d: still there, because this process is attached", ds.Nattch)

	l.Call("shmdt(%p)", &t.mem[0])
	if err := t.detach(); err != nil {
		return lesson.Failed("shmdt", err, "")
	}
	_, exists, err := procsysv.FindShm(t.id)
	if err != nil {
		return err
	}
	l.Result("0: segment %d in /proc/sysvipc/shm: %v. It is gone.", t.id, exists)
	call := fmt.Sprintf("shmctl(%d, IPC_STAT, &buf)", t.id)
	l.Call("%s", call)
	_, err = stat(t.id)
	l.Result("%s: no segment has that id any more", errText(err))
	l.Say("The robust pattern: call IPC_RMID as soon as every peer has attached. From then on")
	l.Say("the kernel removes the segment when the last process detaches or dies, even after a crash.")
	l.Look("ipcs -m")
	return nil
}

// peer is the second process: it attaches the segment whose id is its argument
// (only the one its parent created), says what it reads, and detaches when a line
// (or end of input) arrives on stdin. It tells the parent ATTACHED and DETACHED.
func peer(l *lesson.Lesson, args []string) error {
	mem, err := attachParents(rolePeer, args, segSize)
	if err != nil {
		return err
	}
	fmt.Fprintf(l.Out, "attached at %p, read %q\n", &mem[0], cString(mem))
	l.Tell("ATTACHED")
	_, _ = bufio.NewReader(l.In).ReadString('\n')
	if err := unix.SysvShmDetach(mem); err != nil {
		return lesson.Failed("shmdt", err, "")
	}
	fmt.Fprintln(l.Out, "detached")
	l.Tell("DETACHED")
	return nil
}
