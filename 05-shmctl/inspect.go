//go:build linux

package main

// The -id mode: IPC_STAT of an existing segment, and nothing else.

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
)

// inspect is the -id mode: IPC_STAT of someone's segment, nothing else.
func inspect(l *lesson.Lesson, id int) error {
	l.Step("IPC_STAT segment %d", id)
	call := fmt.Sprintf("shmctl(%d, IPC_STAT, &buf)", id)
	l.Call("%s", call)
	ds, err := stat(id)
	if err != nil {
		return lesson.Failed(call, err, whyStatFailed(err, id))
	}
	l.Result("0: the kernel copied the segment's struct shmid_ds into buf")
	showStat(l, id, &ds)
	l.Look("ipcs -m -i %d", id)
	showProcLine(l, id)
	if ds.Perm.Mode&shmDest != 0 {
		l.Say("Status dest: someone called IPC_RMID; it is destroyed when its %d attachment(s) detach.", ds.Nattch)
	}
	return nil
}

func whyStatFailed(err error, id int) string {
	switch {
	case errors.Is(err, unix.EINVAL):
		return fmt.Sprintf("no segment has id %d (list them with ipcs -m)", id)
	case errors.Is(err, unix.EACCES):
		return "its mode does not give you read permission, which IPC_STAT needs (ipcs -m shows its owner and perms)"
	case errors.Is(err, unix.EIDRM):
		return "the segment was being destroyed at that moment"
	}
	return ""
}
