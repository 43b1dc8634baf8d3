//go:build linux

// The last step: a segment outlives the process that made it.

package main

import (
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

func outlive(l *lesson.Lesson, id int) {
	l.Step("Segments outlive their processes")
	l.Say("A segment stays until someone removes it with shmctl(IPC_RMID) or the machine")
	l.Say("reboots, even after every process that used it has exited (unless")
	l.Say("/proc/sys/kernel/shm_rmid_forced is 1, see proc(5)):")
	if reexec.CanRunAs(reexec.Nobody()) {
		l.Say("the second process and the one that ran as nobody are gone, the segments they")
		l.Say("used are not. List segments and remove a leftover of yours:")
	} else {
		l.Say("the second process of the IPC_PRIVATE step has exited, its segment has not.")
		l.Say("List segments and remove a leftover of yours:")
	}
	l.Look("ipcs -m")
	l.Look("ipcrm -m %d", id)
	l.Say("This program removes everything it made as it ends (also on an error or Ctrl-C).")
	l.Say("Next: go run ./03-shmat, attaching a segment from two processes.")
}
