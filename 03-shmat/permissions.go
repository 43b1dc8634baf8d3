//go:build linux

package main

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/caps"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/reexec"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// permissions is step 10: EACCES. As root, a child running as nobody tries (root
// itself passes every check); otherwise a segment of our own that we may only read.
func (t *tour) permissions() error {
	l := t.l
	l.Step("Permission: EACCES")
	if os.Geteuid() != 0 || !caps.HasOverIPC(unix.CAP_IPC_OWNER) {
		// Not root, or root whose CAP_IPC_OWNER does not count here (a container
		// without it; unshare -r without --ipc): the kernel checks our bits too.
		return t.ownReadOnlySegment()
	}
	uid, gid := reexec.Nobody()
	if !reexec.CanRunAs(uid, gid) {
		l.Say("This process is root in a user namespace (a container, or unshare -r) where the")
		l.Say("user nobody (uid %d) does not exist, and root passes every check (CAP_IPC_OWNER):", uid)
		l.Say("there is no one here to be refused. Run the lesson as an ordinary user to see EACCES.")
		return nil
	}
	open, err := createQuietly(l, 0o644)
	if err != nil {
		return err
	}
	release, err := t.keepAlive(open)
	if err != nil {
		return err
	}
	// The child runs a copy of this program that nobody may run, removed when the
	// lesson ends, however it ends.
	cmd, err := lesson.CommandAs(l, uid, gid, roleOtherUser, strconv.Itoa(t.id), strconv.Itoa(open))
	if err != nil {
		return err
	}
	l.Say("Root passes every check (CAP_IPC_OWNER), so a child running as nobody (uid %d) tries:", uid)
	l.Say("segment %d has mode 0600, segment %d mode 0644.", t.id, open)
	p, err := lesson.StartChild(l, cmd)
	if err != nil {
		return err
	}
	if err := p.Finish(); err != nil {
		return fmt.Errorf("the child running as nobody: %w", err)
	}
	l.Say("The bits of the class that applies to you count: owner if you own it, else group,")
	l.Say("else other. SHM_RDONLY needs read; read-write needs read and write.")
	return release()
}

// ownReadOnlySegment shows EACCES without root: our own segment with mode 0400.
func (t *tour) ownReadOnlySegment() error {
	l := t.l
	id, err := createQuietly(l, 0o400)
	if err != nil {
		return err
	}
	release, err := t.keepAlive(id)
	if err != nil {
		return err
	}
	l.Say("Segment %d is ours, with mode 0400: the owner may read, nobody may write.", id)
	tryAttach(l, id, 0, unix.SHM_RDONLY, "read-only: allowed")
	tryAttach(l, id, 0, 0, "read-write: refused")
	if os.Geteuid() == 0 {
		l.Say("This process is uid 0, yet it was refused: its CAP_IPC_OWNER does not count here")
		l.Say("(a user namespace without an IPC namespace of its own, as unshare -r makes, or a")
		l.Say("container that dropped the capability), so the kernel checks its bits like anyone's.")
	} else {
		l.Say("Run as root and root passes every check (CAP_IPC_OWNER); the lesson then starts a")
		l.Say("child as the user nobody instead. To see it: go build -o /tmp/03-shmat ./03-shmat && sudo /tmp/03-shmat")
	}
	return release()
}

// createQuietly creates a small extra segment with mode and registers its removal.
func createQuietly(l *lesson.Lesson, mode int) (int, error) {
	call := fmt.Sprintf("shmget(IPC_PRIVATE, 4096, IPC_CREAT|IPC_EXCL|%#o)", mode)
	l.Call("%s", call)
	id, err := shm.Create(l, unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|unix.IPC_EXCL|mode)
	if err != nil {
		return 0, lesson.Failed(call, err, whyShmget(err))
	}
	l.Result("id %d", id)
	return id, nil
}
