//go:build linux

package main

import (
	"syscall"
	"testing"
	"time"

	"github.com/learn-sysv/shm-course/internal/ipctest"
)

// A signal that arrives after shmget has made the segment but before it has
// returned, the moment at which no cleanup could yet know the segment's id, still
// leaves nothing: the segment's removal is registered together with its creation
// (lesson.Keep), and the signal's cleanups wait for it. strace holds shmget's return
// up, so that the signal lands there every time.
func TestSignalInsideShmgetLeavesNoSegment(t *testing.T) {
	r := ipctest.RunProgramWithSlowSyscall(t, "shmget", 200*time.Millisecond, syscall.SIGTERM)
	r.AssertSignalLeftNothing(t, name, syscall.SIGTERM)
}

// As root the lesson copies its executable to a directory where nobody may run it
// (/tmp/shm-course-exe-*), to start a process as nobody. A signal while the copy is
// being made (strace holds up the chmod of its directory, just after the mkdir)
// leaves no copy either.
func TestSignalWhileCopyingForNobodyLeavesNoCopy(t *testing.T) {
	ipctest.NeedNobody(t) // the lesson makes the copy only to start a process as nobody
	r := ipctest.RunProgramWithSlowSyscall(t, "fchmodat", 200*time.Millisecond, syscall.SIGTERM)
	r.AssertSignalLeftNothing(t, name, syscall.SIGTERM)
}
