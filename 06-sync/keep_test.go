//go:build linux

package main

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

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/procsysv"
)

// A signal while a system call that creates an object is under way: the object
// must be removed all the same. Between the call's return and the registration of
// its cleanup there are only a few instructions, so the test widens that moment:
// strace holds the call's return back for 400 ms (-e inject=SYSCALL:delay_exit),
// and SIGTERM comes in the middle. Code that registered the cleanup after the call
// left the object behind every time; lesson.Keep makes the signal's cleanups wait
// for the call, then remove what it made.
func TestSignalWhileCreatingLeavesNothing(t *testing.T) {
	t.Parallel()
	requireStrace(t)
	tests := []struct {
		name    string
		syscall string
		args    func(key string) []string
		before  string // the narration printed just before the call
	}{
		{"race segment", "shmget", func(string) []string { return []string{"race", "-n", "10"} }, "shmget(IPC_PRIVATE"},
		{"stream segment", "shmget", func(key string) []string { return []string{"consumer", "-key", key, "-wait", "5s"} }, "shmget(" + "0x"},
		{"stream semaphore set", "semget", func(key string) []string { return []string{"consumer", "-key", key, "-wait", "5s"} }, "semget(" + "0x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, key := testKey(t) // for the stream; its check finds what is left under it
			p := ipctest.StartHelper(t, "under-strace", append([]string{tt.syscall}, tt.args(key)...)...)
			p.Expect(t, tt.before, 20*time.Second)
			pid := tracee(t, p.Pid())
			time.Sleep(150 * time.Millisecond) // inside the call's 400 ms
			require.NoError(t, syscall.Kill(pid, syscall.SIGTERM))
			r := p.Wait(t)
			assert.Equal(t, 143, r.ExitCode, "stderr: %s", r.Stderr)
			assert.Equal(t, cleaningUp(syscall.SIGTERM)+"\n", withoutStrace(r.Stderr), "the program's standard error")
			// The race's segment is private (no key): find it by its creator. (Its
			// semaphore set records no creator pid; the stream's, under the key, shows
			// that semget is covered.)
			segs, err := procsysv.ReadShm()
			require.NoError(t, err)
			for _, s := range segs {
				if s.CPID == pid {
					assert.Fail(t, "a segment is left", "segment %d, created by pid %d (removed now)", s.ID, pid)
					_, _ = unix.SysvShmCtl(s.ID, unix.IPC_RMID, nil)
				}
			}
		})
	}
}

// requireStrace skips the test where strace cannot trace a child (not installed,
// or ptrace forbidden, as in some containers).
func requireStrace(t *testing.T) {
	t.Helper()
	if err := exec.Command("strace", "-f", "-qq", "-o", "/dev/null", "true").Run(); err != nil {
		t.Skipf("strace cannot trace here (%v): install strace to run this test", err)
	}
}

// helperUnderStrace runs this package's program (args[1:]) under strace, with the
// return of every args[0] system call held back for 400 ms. strace exits with the
// program's status.
func helperUnderStrace(args []string) int {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SHMCOURSE_TEST_HELPER=") {
			env = append(env, kv)
		}
	}
	env = append(env, "SHMCOURSE_TEST_PROGRAM=1") // ipctest.Main: run the program
	exe, err := os.Executable()
	if err != nil {
		return 1
	}
	strace, err := exec.LookPath("strace")
	if err != nil {
		return 1
	}
	argv := append([]string{"strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=" + args[0],
		"-e", "inject=" + args[0] + ":delay_exit=400000", exe}, args[1:]...)
	_ = syscall.Exec(strace, argv, env)
	return 1
}

// tracee is the pid of strace's child: the program.
func tracee(t *testing.T, stracePid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", stracePid, stracePid))
	require.NoError(t, err)
	f := strings.Fields(string(b))
	require.Len(t, f, 1, "strace (pid %d) has one child", stracePid)
	pid, err := strconv.Atoi(f[0])
	require.NoError(t, err)
	return pid
}

// withoutStrace is stderr without strace's own lines ("strace: ..."), which it
// prints when a process exits while a call is held back.
func withoutStrace(stderr string) string {
	var keep []string
	for _, line := range strings.SplitAfter(stderr, "\n") {
		if !strings.HasPrefix(line, "strace: ") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "")
}
