//go:build linux

package main

// Another user may not read, change or remove the segment (EACCES, EPERM).

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

// stranger runs this program again as the unprivileged user nobody, which may
// neither read (0640 gives "other" nothing) nor change nor remove our segment.
func (t *tourState) stranger() error {
	l := t.l
	l.Step("Another user: EACCES and EPERM")
	l.Say("IPC_STAT needs read permission (EACCES without it); IPC_SET and IPC_RMID need the")
	l.Say("caller to be the owner or creator, or privileged (EPERM otherwise).")
	if os.Geteuid() != 0 {
		l.Say("Only root can start a process as another user, so this step is skipped. To see it:")
		l.Look("sudo $(command -v go) run ./05-shmctl")
		return nil
	}
	if !reexec.CanRunAs(reexec.Nobody()) {
		l.Say("This process is root in a user namespace (a container, or unshare -r) where the")
		l.Say("user nobody does not exist: there is no other user to start, so this step is skipped.")
		return nil
	}
	cmd, uid, err := commandAsNobody(l, roleStranger, strconv.Itoa(t.id))
	if err != nil {
		return err
	}
	l.Call("a second process, as nobody (uid %d), tries IPC_STAT, IPC_SET and IPC_RMID on %d:", uid, t.id)
	c, err := startChild(l, cmd)
	if err != nil {
		return err
	}
	if err := c.Finish(); err != nil {
		return fmt.Errorf("the process running as nobody (pid %d): %w", c.Pid, err)
	}
	return nil
}

// stranger runs as another user and reports what the kernel lets it do. It acts
// only on its parent's segment, and only as a process that should be refused: its
// IPC_SET asks for the owner and mode the segment already has, so even a success
// would change nothing but the time.
func stranger(l *lesson.Lesson, args []string) error {
	id, err := roleID(roleStranger, args)
	if err != nil {
		return err
	}
	s, err := parentsSegment(id, segSize)
	if err != nil {
		return err
	}
	euid := uint32(os.Geteuid())
	if euid == 0 || euid == s.UID || euid == s.CUID {
		return fmt.Errorf("uid %d owns or created segment %d, or is root: this part of the lesson shows what a stranger may not do", euid, id)
	}
	var ds unix.SysvShmDesc
	_, err = unix.SysvShmCtl(id, unix.IPC_STAT, &ds)
	fmt.Fprintf(l.Out, "uid %d: shmctl(%d, IPC_STAT, &buf): %s\n", euid, id, errText(err))
	ds = unix.SysvShmDesc{}
	ds.Perm.Uid, ds.Perm.Gid, ds.Perm.Mode = s.UID, s.GID, s.Mode&permBits
	_, err = unix.SysvShmCtl(id, unix.IPC_SET, &ds)
	fmt.Fprintf(l.Out, "uid %d: shmctl(%d, IPC_SET, &buf): %s\n", euid, id, errText(err))
	_, err = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	fmt.Fprintf(l.Out, "uid %d: shmctl(%d, IPC_RMID, NULL): %s\n", euid, id, errText(err))
	return nil
}
