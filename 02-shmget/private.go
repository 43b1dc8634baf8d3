//go:build linux

// IPC_PRIVATE: a new segment every time, usable by any process that is given its id.

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/reexec"
	"github.com/learn-sysv/shm-course/internal/shm"
)

func private(l *lesson.Lesson, size int) error {
	l.Step("IPC_PRIVATE: a new segment, not a private one")
	flg := unix.IPC_CREAT | 0o600
	id, err := createSegment(l, ftok.Private, size, flg)
	if err != nil {
		return lesson.Failed(shmgetCall(ftok.Private, size, flg), err, whyCreateFailed(err, size))
	}
	l.Result("id %d, key 0x00000000", id)
	l.Say("IPC_PRIVATE (key 0) means \"always create a new segment\": no other process can")
	l.Say("find it by key, but any process that learns the id and passes the permission")
	l.Say("check can attach it. Here a second process gets the id on its command line.")
	l.Look("ipcs -m    # key 0x00000000, shmid %d", id)

	b, _, err := attach(l, id, 0)
	if err != nil {
		return lesson.Failed(fmt.Sprintf("shmat(%d, NULL, 0)", id), err, "")
	}
	sent := fmt.Sprintf("hello from pid %d", os.Getpid())
	write(b, sent)
	l.Result("attached at %#x; wrote %q into segment %d", shm.Addr(b), sent, id)

	cmd, err := reexec.Command(roleAttach, strconv.Itoa(id))
	if err != nil {
		return err
	}
	l.Call("start: %s %s %d   (this program again, as a separate process)", filepath.Base(cmd.Path), roleAttach, id)
	child, err := lesson.StartChild(l, cmd)
	if err != nil {
		return err
	}
	if _, err := child.Await(tellWrote); err != nil {
		return err
	}
	l.Result("segment %d now holds %q", id, message(b))
	if err := child.Finish(); err != nil {
		return fmt.Errorf("the second process failed: %v", err)
	}
	return nil
}
