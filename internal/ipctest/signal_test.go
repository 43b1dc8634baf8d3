//go:build linux

package ipctest

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/sem"
)

// envHold makes TestHoldObjectsUntilSignalled run: it is the test run that
// TestSignalRemovesTheRunsObjects starts and signals.
const envHold = "SHMCOURSE_IPCTEST_HOLD"

// TestHoldObjectsUntilSignalled is not a test of its own: run by
// TestSignalRemovesTheRunsObjects in a test binary of its own, it creates what a
// test run holds when Ctrl-C comes — a segment of its own (NewSegment), a segment
// made by a helper process that is still running, a semaphore set, a set that no
// operation names the run's (ClaimSet), a temporary directory — prints their ids
// and its path and waits to be signalled.
func TestHoldObjectsUntilSignalled(t *testing.T) {
	if os.Getenv(envHold) == "" {
		t.Skip("run by TestSignalRemovesTheRunsObjects")
	}
	own := NewSegment(t, 64, 0o600)
	helper := StartHelper(t, "create-and-wait")
	helperSeg := helper.Expect(t, "", Timeout)
	set, err := sem.Create(0, 0o600, 0) // IPC_PRIVATE; Create makes one operation on it
	require.NoError(t, err)
	t.Cleanup(func() { _ = set.Remove() })
	untouched, _, errno := unix.Syscall(unix.SYS_SEMGET, unix.IPC_PRIVATE, 1, unix.IPC_CREAT|0o600)
	require.Zero(t, errno)
	ClaimSet(int(untouched))
	t.Cleanup(func() { _ = sem.FromID(int(untouched)).Remove() })
	fmt.Printf("HOLDING %d %s %d %d %d %s\n", own, helperSeg, set.ID(), untouched, helper.Pid(), t.TempDir())
	time.Sleep(2 * Timeout) // the signal ends the process long before this
}

// Ctrl-C or SIGTERM in the middle of a test run stops its processes, removes every
// segment and semaphore set the run created and its temporary files, prints one line
// and exits 130 or 143: sent to the run's first process (its supervisor) alone, or,
// as Ctrl-C in a terminal does, to its whole process group.
// In the shared cases the run is started in this test's namespace
// (SHMCOURSE_TEST_NAMESPACE=off; it need not wait for the lock, which this run
// holds or does not need), so that this test can look at its objects afterwards.
// In the others it makes a namespace of its own, which goes with its last process,
// so only the line and the exit status tell what was removed.
func TestSignalRemovesTheRunsObjects(t *testing.T) {
	for _, tc := range []struct {
		name         string
		sig          syscall.Signal
		exit         int
		ownNamespace bool
		group        bool
	}{
		{"interrupt", syscall.SIGINT, 130, false, false},
		{"terminated", syscall.SIGTERM, 143, false, false},
		{"interrupt to the process group", syscall.SIGINT, 130, false, true},
		{"interrupt to a run in its own namespace", syscall.SIGINT, 130, true, false},
		{"terminated to a run in its own namespace", syscall.SIGTERM, 143, true, false},
		{"interrupt to the process group of a run in its own namespace", syscall.SIGINT, 130, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			NoLeaks(t)
			cmd := exec.Command(os.Args[0], "-test.run=^TestHoldObjectsUntilSignalled$")
			cmd.Env = append(withoutHelper(), envHold+"=1")
			if tc.ownNamespace {
				if !insideOwnNamespace() {
					t.Skip("this test run has no namespace of its own (the kernel refused one, or SHMCOURSE_TEST_NAMESPACE=off), so neither would the run it starts")
				}
			} else {
				cmd.Env = append(cmd.Env, envNamespace+"=off")
			}
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: tc.group}
			p := start(t, cmd, "a test run holding objects")
			fields := strings.Fields(p.Expect(t, "HOLDING", Timeout))
			require.Len(t, fields, 7, p.Stdout())
			ids := atoiAll(t, fields[1:6])
			tempDir := fields[6]
			require.DirExists(t, tempDir)
			shm1, shm2, set, untouched, helperPid := ids[0], ids[1], ids[2], ids[3], ids[4]
			if !tc.ownNamespace {
				t.Cleanup(func() { // only if the run failed to
					_, _ = unix.SysvShmCtl(shm1, unix.IPC_RMID, nil)
					_, _ = unix.SysvShmCtl(shm2, unix.IPC_RMID, nil)
					_ = sem.FromID(set).Remove()
					_ = sem.FromID(untouched).Remove()
				})
				for _, id := range []int{shm1, shm2} {
					_, exists, err := procsysv.FindShm(id)
					require.NoError(t, err)
					require.True(t, exists, "segment %d exists before the signal", id)
				}
				for _, id := range []int{set, untouched} {
					_, err := sem.FromID(id).Stat()
					require.NoError(t, err, "semaphore set %d exists before the signal", id)
				}
			}

			if tc.group {
				p.SignalGroup(t, tc.sig)
			} else {
				p.Signal(t, tc.sig)
			}
			r := p.Wait(t)

			assert.Equal(t, tc.exit, r.ExitCode)
			assert.Equal(t, fmt.Sprintf("ipctest: %s: stopped the tests and removed the 4 System V object(s) they had created\n", tc.sig), r.Stderr)
			assert.Equal(t, strings.Join(fields, " ")+"\n", r.Stdout, "nothing else on stdout")
			// Stopped, and reaped by the run before it exited.
			assert.Equal(t, syscall.ESRCH, syscall.Kill(helperPid, 0), "the helper process was stopped")
			assert.NoDirExists(t, tempDir, "t.TempDir's directory was removed")
			if tc.ownNamespace {
				return
			}
			for _, id := range []int{shm1, shm2} {
				_, exists, err := procsysv.FindShm(id)
				require.NoError(t, err)
				assert.False(t, exists, "segment %d was removed", id)
			}
			for _, id := range []int{set, untouched} {
				_, err := sem.FromID(id).Stat()
				assert.ErrorIs(t, err, unix.EINVAL, "semaphore set %d was removed", id)
			}
		})
	}
}

func atoiAll(t *testing.T, fields []string) []int {
	t.Helper()
	var ns []int
	for _, f := range fields {
		n, err := strconv.Atoi(f)
		require.NoError(t, err)
		ns = append(ns, n)
	}
	return ns
}
