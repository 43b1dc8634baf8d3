//go:build linux

package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

// shmctl(2): SHM_LOCK does not fault pages in; the caller touches them after locking.
func TestSHMLockBringsNoPageIn(t *testing.T) {
	ipctest.NoLeaks(t)
	page := os.Getpagesize()
	id := ipctest.NewSegment(t, 3*page, 0o600)
	mem := ipctest.Attach(t, id, 0)
	mem[0] = 1
	require.EqualValues(t, page, rss(id), "precondition: one page touched, one page in RAM")
	if _, err := unix.SysvShmCtl(id, cmdSHMLock, nil); err != nil {
		t.Skipf("SHM_LOCK: %v (needs CAP_IPC_LOCK or room in RLIMIT_MEMLOCK)", err)
	}
	t.Cleanup(func() { _, _ = unix.SysvShmCtl(id, cmdSHMUnlock, nil) })
	assert.EqualValues(t, page, rss(id), "SHM_LOCK brought no page in")
	mem[2*page] = 1
	assert.EqualValues(t, 2*page, rss(id), "touching a page brings it in")
}

// With RLIMIT_MEMLOCK 0 and no privilege, the owner's SHM_LOCK is refused (EPERM)
// and its SHM_UNLOCK is not: SHM_UNLOCK needs no room in the limit.
func TestMemlockZero(t *testing.T) {
	ipctest.NoLeaks(t)
	ipctest.AsRoleParent(t)
	var r ipctest.Result
	if os.Geteuid() == 0 {
		uid, gid := reexec.Nobody()
		r = ipctest.StartHelperAs(t, uid, gid, helperProgram, roleMemlockZero).Wait(t)
	} else {
		r = ipctest.RunProgram(t, roleMemlockZero)
	}
	require.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Empty(t, r.Stderr)
	assert.Regexp(t, `ulimit -l 0: shmget\(IPC_PRIVATE, \d+, IPC_CREAT\|0600\) -> id \d+`, r.Stdout)
	assert.Regexp(t, `SHM_LOCK, NULL\): EPERM \(operation not permitted\)\n`, r.Stdout)
	assert.Regexp(t, `SHM_UNLOCK, NULL\): 0 \(no error\)\n`, r.Stdout)
	assert.Regexp(t, `IPC_RMID, NULL\): 0 \(no error\)\n`, r.Stdout)
}

// As root the role refuses: CAP_IPC_LOCK would allow SHM_LOCK whatever the limit,
// and the lesson would show something false.
func TestMemlockZeroRefusesRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	ipctest.AsRoleParent(t)
	ipctest.AssertOneLineError(t, ipctest.RunProgram(t, roleMemlockZero), 1, "running as root")
}
