//go:build linux

package main

// The first steps: a segment of our own, made the way lessons 01 to 03 teach, with a
// message in it for the second process to read at the end.

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// create makes a key with ftok from a file of our own and a new segment for it.
func (t *tourState) create() error {
	l := t.l
	l.Step("Create a segment to control")
	var path string
	err := l.Keep("remove the key file", func() (func() error, error) {
		f, err := os.CreateTemp("", "05-shmctl-key-")
		if err != nil {
			return nil, err
		}
		path = f.Name()
		return func() error { return os.Remove(path) }, f.Close()
	})
	if err != nil {
		return err
	}

	// Another segment may already use the key ftok gives; try the next project id.
	for proj := 'C'; proj <= 'Z'; proj++ {
		if t.key, err = ftok.Ftok(path, int(proj)); err != nil {
			return err
		}
		call := fmt.Sprintf("shmget(%v, %d, IPC_CREAT|IPC_EXCL|%#o)", t.key, segSize, segMode)
		l.Call("ftok(%q, '%c') = %v", path, proj, t.key)
		l.Call("%s", call)
		t.id, err = shm.Create(l, int(t.key), segSize, unix.IPC_CREAT|unix.IPC_EXCL|segMode)
		if errors.Is(err, unix.EEXIST) {
			l.Result("%s: that key is taken; trying the next project id", lesson.ErrnoText(err))
			continue
		}
		if err != nil {
			return lesson.Failed(call, err, "see 02-shmget for what causes it")
		}
		l.Result("id %d", t.id)
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
	l.Call("%s", call)
	mem, err := unix.SysvShmAttach(t.id, 0, 0)
	if err != nil {
		return lesson.Failed(call, err, "")
	}
	t.mem = mem
	msg := fmt.Sprintf("hello from pid %d", os.Getpid())
	copy(mem, msg)
	l.Result("attached at %p; wrote %q", &mem[0], msg)
	return nil
}

// detach detaches our attachment, if we still have it. It is no cleanup: exit
// detaches, and a cleanup run on a signal must not take memory from a running step.
func (t *tourState) detach() error {
	if t.mem == nil {
		return nil
	}
	err := unix.SysvShmDetach(t.mem)
	t.mem = nil
	return err
}
