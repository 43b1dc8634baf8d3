//go:build linux

package main

// The calls every step makes, each narrated before it is made, and the bookkeeping
// that removes what the lesson created however it ends.

import (
	"bytes"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// shmget narrates the call, then makes it.
func shmget(l *lesson.Lesson, key ftok.Key, size, flg int) (int, error) {
	l.Call("%s", shmgetCall(key, size, flg))
	return unix.SysvShmGet(int(key), size, flg)
}

// createSegment narrates a shmget that may create a segment (IPC_CREAT), makes it,
// and registers the IPC_RMID that removes the segment when the lesson ends, however
// it ends: shm.Create registers it together with the call, so that even a signal
// while shmget returns leaves nothing. A step may remove the segment sooner
// (removeNow).
func createSegment(l *lesson.Lesson, key ftok.Key, size, flg int) (int, error) {
	l.Call("%s", shmgetCall(key, size, flg))
	return shm.Create(l, int(key), size, flg)
}

// attach narrates shmat(id, NULL, flags), makes it, and registers the detach,
// which it also returns, to run once. The error is the kernel's, for the caller to
// explain.
func attach(l *lesson.Lesson, id, flags int) (b []byte, detach func() error, err error) {
	l.Call("shmat(%d, NULL, %s)", id, attachFlags(flags))
	b, err = unix.SysvShmAttach(id, 0, flags)
	if err != nil {
		return nil, nil, err
	}
	detach = once(func() error { return unix.SysvShmDetach(b) })
	l.CleanupOnReturn(fmt.Sprintf("detach segment %d", id), detach)
	return b, detach, nil
}

// attachFlags spells shmat's flags as C would.
func attachFlags(flags int) string {
	switch flags {
	case 0:
		return "0"
	case unix.SHM_RDONLY:
		return "SHM_RDONLY"
	case shmExec:
		return "SHM_EXEC"
	}
	return fmt.Sprintf("%#o", flags)
}

// ipcStat narrates shmctl(id, IPC_STAT, &ds), makes it and returns ds: the
// segment's shmid_ds, as ipcs -m -i shows it. (Not stat(2): that is for files.)
func ipcStat(l *lesson.Lesson, id int) (unix.SysvShmDesc, error) {
	l.Call("shmctl(%d, IPC_STAT, &ds)", id)
	var ds unix.SysvShmDesc
	_, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds)
	return ds, err
}

// once returns a function that runs fn the first time it is called and returns
// fn's result every time: a cleanup the lesson may also run early, from the main
// goroutine or the signal handler's.
func once(fn func() error) func() error {
	var (
		o   sync.Once
		err error
	)
	return func() error {
		o.Do(func() { err = fn() })
		return err
	}
}

// message is what a process wrote into a segment: text ending in a NUL byte.
func message(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// write puts s into the segment as message reads it.
func write(b []byte, s string) {
	n := copy(b, s)
	if n < len(b) {
		b[n] = 0
	}
}
