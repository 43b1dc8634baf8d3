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
