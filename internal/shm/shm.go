//go:build linux

// Package shm holds the few segment operations the lessons share, written once: a
// segment id read from a command line, removing a segment, the address of an
// attachment.
//
// The code is built on Linux only, like the rest of the course.
package shm

import (
	"errors"
	"fmt"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
)

// ParseID parses a segment id given on a command line. shmat and shmctl take a C
// int, so it is parsed as 32 bits: a number too big is refused instead of being
// truncated to another segment's id (2^32+5 would name segment 5). A bad id is a
// usage error (exit status 2).
func ParseID(s string) (int, error) {
	id, err := strconv.ParseInt(s, 10, 32)
	if err != nil || id < 0 {
		return 0, lesson.Usagef("%s is not a segment id: ids are numbers like those in the shmid column of ipcs -m", lesson.Quote(s))
	}
	return int(id), nil
}

// Remove is shmctl(id, IPC_RMID, NULL): it destroys the segment at once if nothing
// is attached, and otherwise marks it, to be destroyed at the last detach.
func Remove(id int) error {
	_, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	return err
}

// RemoveIfThere is Remove for a cleanup: a segment that is gone already (removed by
// the lesson itself, or by the kernel where kernel.shm_rmid_forced is 1) is no error.
func RemoveIfThere(id int) error {
	if err := Remove(id); err != nil && !errors.Is(err, unix.EINVAL) {
		return err
	}
	return nil
}

// Addr is the address of the first byte of an attachment (or of any slice), for
// printing and comparing. It is never turned back into a pointer.
func Addr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// Create is shmget(key, size, flags) for a call that creates a segment (IPC_CREAT
// with IPC_EXCL, or IPC_PRIVATE), with the segment's removal (RemoveIfThere)
// registered as l's cleanup by l.Keep: a SIGINT or SIGTERM at any moment, even while
// shmget is returning, leaves no segment behind. The error is shmget's errno, for
// lesson.Failed. A step may remove the segment itself earlier (Remove); the cleanup
// then finds it gone.
func Create(l *lesson.Lesson, key, size, flags int) (id int, err error) {
	err = l.Keep("remove the segment made here", func() (func() error, error) {
		var err error
		id, err = unix.SysvShmGet(key, size, flags)
		if err != nil {
			return nil, err
		}
		return func() error {
			if err := RemoveIfThere(id); err != nil {
				return fmt.Errorf("segment %d: %w", id, err)
			}
			return nil
		}, nil
	})
	return id, err
}
