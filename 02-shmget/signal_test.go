//go:build linux

package main

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/reexec"
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

// As root the lesson copies its executable into a directory nobody may enter, to run
// a process as nobody. A signal while the copy is being made (strace holds up the
// chmod of its directory, just after mkdir) removes it too.
func TestSignalWhileCopyingForNobodyLeavesNoCopy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root may start a process as nobody, for which the lesson copies its executable: run the tests as root to see this")
	}
	if uid, gid := reexec.Nobody(); !reexec.CanRunAs(uid, gid) {
		t.Skip("the user nobody does not exist in this user namespace: the lesson starts no process as nobody here")
	}
	r := ipctest.RunProgramWithSlowSyscall(t, "fchmodat", 200*time.Millisecond, syscall.SIGTERM)
	r.AssertSignalLeftNothing(t, name, syscall.SIGTERM)
}
