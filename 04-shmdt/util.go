//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// The calls every step makes, with the lesson's narration and error messages, and
// small helpers.

var pageSize = os.Getpagesize()

// attach is shmat(id, NULL, flags), narrated, with the lesson's error message.
func attach(l *lesson.Lesson, id, flags int) ([]byte, error) {
	call := fmt.Sprintf("shmat(%d, NULL, %s)", id, map[int]string{0: "0", unix.SHM_RDONLY: "SHM_RDONLY"}[flags])
	l.Call("%s", call)
	b, err := unix.SysvShmAttach(id, 0, flags)
	if err != nil {
		return nil, lesson.Failed(call, err, whyShmat(err, id))
	}
	return b, nil
}

// detach is shmdt(&b[0]), which is what unix.SysvShmDetach(b) does, narrated.
func detach(l *lesson.Lesson, b []byte) error {
	l.Call("shmdt(%#x)    (unix.SysvShmDetach(b))", shm.Addr(b))
	if err := unix.SysvShmDetach(b); err != nil {
		return lesson.Failed(fmt.Sprintf("shmdt(%#x)", shm.Addr(b)), err,
			"no attachment starts at that address: pass the slice SysvShmAttach returned, once")
	}
	return nil
}

// stat is IPC_STAT on segment id.
func stat(id int) (unix.SysvShmDesc, error) {
	var ds unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds); err != nil {
		return ds, lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_STAT)", id), err, whyShmat(err, id))
	}
	return ds, nil
}

// sayStat prints the fields of IPC_STAT this lesson is about.
func sayStat(l *lesson.Lesson, id int) error {
	ds, err := stat(id)
	if err != nil {
		return err
	}
	sayDesc(l, ds)
	return nil
}

// sayDesc prints nattch, lpid, atime and dtime of a segment's IPC_STAT.
func sayDesc(l *lesson.Lesson, ds unix.SysvShmDesc) {
	l.Result("shm_nattch %d, shm_lpid %d, shm_atime %s, shm_dtime %s",
		ds.Nattch, ds.Lpid, when(int64(ds.Atime)), when(int64(ds.Dtime)))
}

// when formats a shmid_ds time as ipcs does: a clock time, or "0 (never)".
func when(t int64) string {
	if t == 0 {
		return "0 (never)"
	}
	return time.Unix(t, 0).Format("15:04:05")
}

// sliceAddr is the address SysvShmDetach would pass for b, or "none" for an empty slice.
func sliceAddr(b []byte) string {
	if len(b) == 0 {
		return "none"
	}
	return fmt.Sprintf("%#x", shm.Addr(b))
}

func errText(err error) string {
	if err == nil {
		return "0 (success)"
	}
	return lesson.ErrnoText(err)
}

// joinArgs is a role and its arguments as a command line shows them.
func joinArgs(role string, args []string) string {
	return strings.Join(append([]string{role}, args...), " ")
}

// whyShmat explains the errnos of shmat and IPC_STAT on an id.
func whyShmat(err error, id int) string {
	switch {
	case errors.Is(err, unix.EINVAL):
		return fmt.Sprintf("no segment has id %d (ipcs -m lists them)", id)
	case errors.Is(err, unix.EACCES):
		return "the segment's mode does not let you read it (or, to attach without SHM_RDONLY, read and write it); ipcs -m -i ID shows the mode"
	case errors.Is(err, unix.EIDRM):
		return "the segment was being destroyed at that moment"
	}
	return ""
}
