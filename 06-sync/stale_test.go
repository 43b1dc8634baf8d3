//go:build linux

package main

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
)

// A producer killed with SIGKILL while it waits for a consumer leaves its segment
// and semaphore set behind (nobody else had attached, so nothing removed them). The
// next run must find them stale and remove them, not wait on them.
func TestStaleObjectsFromACrashAreRemoved(t *testing.T) {
	t.Parallel()
	_, key := testKey(t)
	crashed := ipctest.StartProgram(t, "producer", "-key", key)
	crashed.Expect(t, "waiting up to", 10*time.Second)
	crashed.Signal(t, syscall.SIGKILL)
	crashed.Wait(t)

	r := ipctest.RunProgram(t, "-key", key, "-messages", "100")
	require.Equal(t, 0, r.ExitCode, "stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	assert.Empty(t, r.Stderr)
	assert.Contains(t, r.Stdout, fmt.Sprintf("producer pid %d and consumer pid 0 are all gone", crashed.Pid()))
	assertVerified(t, r.Stdout, 100)
}

// A creator that died before publishing the header leaves a zero-filled segment.
func TestNeverInitialisedSegmentIsRemoved(t *testing.T) {
	t.Parallel()
	_, key := testKey(t)
	left := ipctest.RunHelper(t, "leave-segment", key)
	require.Equal(t, 0, left.ExitCode, left.Stderr)
	r := ipctest.RunProgram(t, "-key", key, "-messages", "100")
	require.Equal(t, 0, r.ExitCode, "stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	assert.Empty(t, r.Stderr)
	assert.Contains(t, r.Stdout, "was never initialised and its creator")
	assertVerified(t, r.Stdout, 100)
}

// A semaphore set without a segment, from a dead process: removed.
func TestStaleSetIsRemoved(t *testing.T) {
	t.Parallel()
	_, key := testKey(t)
	left := ipctest.RunHelper(t, "leave-set", key, "2")
	require.Equal(t, 0, left.ExitCode, left.Stderr)
	r := ipctest.RunProgram(t, "-key", key, "-messages", "100")
	require.Equal(t, 0, r.ExitCode, "stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	assert.Empty(t, r.Stderr)
	assert.Contains(t, r.Stdout, "a crashed run's leftover; removing it")
	assertVerified(t, r.Stdout, 100)
}

// Objects under the key that are not this lesson's are not touched: the program
// says what they are and which ipcrm command removes them.
func TestForeignObjectsAreReported(t *testing.T) {
	t.Parallel()
	t.Run("segment", func(t *testing.T) {
		t.Parallel()
		k, key := testKey(t)
		id, err := unix.SysvShmGet(int(k), 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
		require.NoError(t, err)
		t.Cleanup(func() { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
		b := ipctest.Attach(t, id, 0)
		copy(b, "JUNK")
		r := ipctest.RunProgram(t, "consumer", "-key", key, "-wait", "2s")
		ipctest.AssertOneLineError(t, r, 1, fmt.Sprintf("remove it with 'ipcrm -m %d'", id))
		assert.Equal(t, "JUNK", string(b[:4]), "the foreign segment is left alone")
	})
	t.Run("semaphore set", func(t *testing.T) {
		t.Parallel()
		_, key := testKey(t)
		left := ipctest.RunHelper(t, "leave-set", key, "5")
		require.Equal(t, 0, left.ExitCode, left.Stderr)
		id, _ := strconv.Atoi(strings.TrimSpace(left.Stdout))
		t.Cleanup(func() { _, _, _ = unix.Syscall(unix.SYS_SEMCTL, uintptr(id), 0, unix.IPC_RMID) })
		r := ipctest.RunProgram(t, "producer", "-key", key, "-wait", "2s")
		ipctest.AssertOneLineError(t, r, 1, fmt.Sprintf("remove it with 'ipcrm -s %d'", id))
	})
}

// A second producer while one is running is refused, and the run goes on.
func TestSecondProducerIsRefused(t *testing.T) {
	t.Parallel()
	_, key := testKey(t)
	first := ipctest.StartProgram(t, "producer", "-key", key, "-messages", "10", "-wait", "20s")
	first.Expect(t, "waiting up to", 10*time.Second)
	r := ipctest.RunProgram(t, "producer", "-key", key, "-wait", "2s")
	ipctest.AssertOneLineError(t, r, 1, fmt.Sprintf("the producer role is taken by pid %d", first.Pid()))
	c := ipctest.RunProgram(t, "consumer", "-key", key)
	assert.Equal(t, 0, c.ExitCode, c.Stderr)
	assert.Empty(t, c.Stderr)
	assertVerified(t, c.Stdout, 10)
	rf := first.Wait(t)
	assert.Equal(t, 0, rf.ExitCode)
	assert.Empty(t, rf.Stderr)
}

// A refused producer writes nothing into the header: not its pid, and not its
// largest message either. The waiting producer's max message (5000 bytes) must
// survive a refused one of 8 bytes, or the consumer takes a 28-byte buffer and
// the first 5000-byte message fails the run.
func TestRefusedProducerLeavesMaxMessage(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"semring", "fast"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			_, key := testKey(t)
			first := ipctest.StartProgram(t, "producer", "-transport", transport, "-key", key, "-messages", "10", "-size", "5000", "-wait", "20s")
			first.Expect(t, "waiting up to", 10*time.Second)
			r := ipctest.RunProgram(t, "producer", "-transport", transport, "-key", key, "-size", "8", "-wait", "2s")
			ipctest.AssertOneLineError(t, r, 1, fmt.Sprintf("the producer role is taken by pid %d", first.Pid()))
			c := ipctest.RunProgram(t, "consumer", "-transport", transport, "-key", key)
			assert.Equal(t, 0, c.ExitCode, c.Stderr)
			assert.Empty(t, c.Stderr)
			assertVerified(t, c.Stdout, 10)
			assert.Contains(t, c.Stdout, "-> bytes: 50000\n")
			rf := first.Wait(t)
			assert.Equal(t, 0, rf.ExitCode)
			assert.Empty(t, rf.Stderr)
		})
	}
}
