//go:build linux

package main

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// segmentSize is two pages, so that b[pageSize:] is page-aligned yet not the start.
var segmentSize = 2 * pageSize

// create is step 1: the segment the lesson attaches and detaches (lesson 02).
func (t *tour) create() error {
	l := t.l
	l.Step("Create a segment (lesson 02)")
	id, err := createSegment(l, segmentSize)
	if err != nil {
		return err
	}
	t.id = id
	if err := sayStat(l, id); err != nil {
		return err
	}
	l.Say("shm_atime and shm_dtime are 0: never attached, never detached.")
	return nil
}

// attachAndStat is step 2: attach, and see nattch, lpid and atime change.
func (t *tour) attachAndStat() error {
	l := t.l
	l.Step("Attach it (lesson 03)")
	b, err := attach(l, t.id, 0)
	if err != nil {
		return err
	}
	l.Result("mapped at %#x", shm.Addr(b))
	text := "still here after detach"
	l.Call("copy(b, %q)", text)
	copy(b, text)
	if err := sayStat(l, t.id); err != nil {
		return err
	}
	l.Look("ipcs -m -i %d", t.id)
	t.attached = b
	return nil
}

// createSegment is shmget(IPC_PRIVATE, size, IPC_CREAT|IPC_EXCL|0600), narrated,
// with its removal registered as a cleanup together with the call (shm.Create), so
// that not even a signal while shmget returns leaves the segment behind.
func createSegment(l *lesson.Lesson, size int) (int, error) {
	call := fmt.Sprintf("shmget(IPC_PRIVATE, %d, IPC_CREAT|IPC_EXCL|0600)", size)
	l.Call("%s", call)
	id, err := shm.Create(l, unix.IPC_PRIVATE, size, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	if err != nil {
		return 0, lesson.Failed(call, err, "")
	}
	l.Result("id %d", id)
	return id, nil
}
