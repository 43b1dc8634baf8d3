//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// createAndLeave is step 11: a child creates a segment, writes in it and exits
// without detaching or removing it (runCreateAndLeave).
func (t *tour) createAndLeave() error {
	l := t.l
	l.Step("A child creates a segment and exits")
	p, err := startRole(l, nil, roleCreateAndLeave)
	if err != nil {
		return err
	}
	fields, err := p.Await("CREATED")
	if err != nil {
		return err
	}
	if len(fields) != 1 {
		return fmt.Errorf("the child (pid %d) said CREATED %q, not a segment id", p.Pid, fields)
	}
	id, err := strconv.Atoi(fields[0])
	if err != nil {
		return fmt.Errorf("the child (pid %d) said CREATED %q, not a segment id", p.Pid, fields[0])
	}
	// Ours to remove from now on, whatever happens; then the child may go.
	l.Cleanup(fmt.Sprintf("remove segment %d", id), func() error { return shm.RemoveIfThere(id) })
	t.left = id
	if err := p.Send("go"); err != nil {
		return err
	}
	if err := p.Finish(); err != nil {
		return fmt.Errorf("the child (pid %d): %w", p.Pid, err)
	}
	l.Result("child %d has exited without shmdt or IPC_RMID", p.Pid)
	if t.forced {
		l.Look("ipcs -m -p    (with -step, look now: is segment %d still there?)", id)
		return nil
	}
	l.Look("ipcs -m -p    (with -step, look now: segment %d, nattch 0, its cpid gone)", id)
	return nil
}

// outlives is step 12: the segment the child left is still there; the lesson reads
// it and removes it. With kernel.shm_rmid_forced 1 it is gone instead.
func (t *tour) outlives() error {
	l := t.l
	id := t.left
	l.Step("The segment outlives the process that made it")
	s, ok, err := procsysv.FindShm(id)
	if err != nil {
		return err
	}
	if !ok && t.forced {
		l.Result("/proc/sysvipc/shm has no segment %d", id)
		l.Say("kernel.shm_rmid_forced is 1: the child's exit detached its attachment, nothing was")
		l.Say("left attached, and the kernel destroyed the segment. That is what the setting is")
		l.Say("for: no segment outlives its users. With the default, 0, it would still be here,")
		l.Say("nattch 0, its creator gone, until someone removed it.")
		return nil
	}
	if !ok {
		return fmt.Errorf("segment %d is gone: someone removed it (ipcrm?)", id)
	}
	l.Result("/proc/sysvipc/shm: id %d, size %d, cpid %d, lpid %d, nattch %d", s.ID, s.Size, s.CPID, s.LPID, s.Nattch)
	l.Say("Its creator (cpid %d) is gone, nothing is attached, and it stays: until someone", s.CPID)
	l.Say("removes it, the machine reboots or its IPC namespace ends (a container stops).")
	l.Say("With IPC_PRIVATE there is no key to find it by: only its id, which ipcs -m lists.")
	l.Look("ipcs -m -i %d    (or: ipcs -m -p, which shows cpid and lpid)", id)
	b, err := attach(l, id, unix.SHM_RDONLY)
	if err != nil {
		return err
	}
	l.Result("the bytes outlived their writer too: %q", strings.TrimRight(string(b[:64]), "\x00"))
	if err := detach(l, b); err != nil {
		return err
	}

	l.Call("shmctl(%d, IPC_RMID, NULL)    (what ipcrm -m %d does)", id, id)
	if err := shm.Remove(id); err != nil {
		return lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_RMID, NULL)", id), err, "")
	}
	_, ok, err = procsysv.FindShm(id)
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("segment %d is still listed after IPC_RMID", id)
	}
	l.Result("segment %d is gone from /proc/sysvipc/shm: IPC_RMID with nothing attached destroys at once", id)
	l.Say("From a shell: ipcrm -m ID removes by id, ipcrm -M KEY by key. Remove only")
	l.Say("segments you know are yours; another program may be about to attach one.")
	return nil
}

// runCreateAndLeave creates a segment, writes in it and exits without detaching or
// removing it, once the parent has taken charge of removing it (the word "go").
func runCreateAndLeave(l *lesson.Lesson, args []string) error {
	if len(args) != 0 {
		return lesson.Usagef("this role takes no arguments, got %q", args)
	}
	const call = "shmget(IPC_PRIVATE, 4096, IPC_CREAT|IPC_EXCL|0600)"
	l.Call("%s", call)
	// Until the parent takes charge of it, the segment is ours to remove: on an
	// error, or on the SIGTERM with which the parent's cleanup ends this process if
	// the parent is interrupted before it has registered its own removal.
	var id int
	var handedOver atomic.Bool
	err := l.Keep("remove the segment unless the parent has taken it over", func() (func() error, error) {
		var err error
		id, err = unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
		return func() error {
			if handedOver.Load() {
				return nil
			}
			return shm.RemoveIfThere(id)
		}, err
	})
	if err != nil {
		return lesson.Failed(call, err, "")
	}
	b, err := attach(l, id, 0)
	if err != nil {
		return err
	}
	text := fmt.Sprintf("left here by pid %d", os.Getpid())
	l.Call("copy(b, %q)", text)
	copy(b, text)
	l.Result("created segment %d", id)
	l.Tell("CREATED", id)
	if _, err := bufio.NewReader(l.In).ReadString('\n'); err != nil {
		// The parent is gone before it could take the segment over: do not leak it
		// (the cleanup removes it).
		return fmt.Errorf("the parent went away; removed segment %d", id)
	}
	handedOver.Store(true)
	l.Say("exiting without shmdt or IPC_RMID")
	return nil
}
