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
			p := ipctest.StartHelper(t, "under-strace", append([]string{tt.syscall, "delay_exit=400000"}, tt.args(key)...)...)
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

// A signal to the launcher while it starts a child: the child must not be left
// running. The start is held up on purpose: strace holds each child's execve for
// 400 ms, and the launcher's fork (a vfork: it returns once the child has exec'd)
// with it; SIGTERM comes in the middle. The launcher that registered a child only
// once its start had returned left it running until -wait ran out (5 s here);
// lesson.Keep makes the signal's cleanups wait for the start, then stop the child.
// And SIGTERM at random moments of the start-up, without strace: every time, the
// launcher's one line, and nothing left.
func TestSignalWhileStartingTheChildren(t *testing.T) {
	t.Parallel()
	t.Run("held up", func(t *testing.T) {
		t.Parallel()
		requireStrace(t)
		for _, starting := range []string{"consumer", "producer"} {
			t.Run(starting, func(t *testing.T) {
				t.Parallel()
				_, key := testKey(t)
				args := append([]string{"execve", "delay_enter=400000"}, longStream("semring", key)...)
				p := ipctest.StartHelper(t, "under-strace", append(args, "-wait", "5s")...)
				if starting == "consumer" {
					p.Expect(t, "Start a consumer and a producer", 20*time.Second)
				} else {
					p.Expect(t, "started the consumer, pid", 20*time.Second)
				}
				launcher := tracee(t, p.Pid())
				time.Sleep(150 * time.Millisecond) // inside the child's held execve
				kids := childrenOf(launcher)
				require.NotEmpty(t, kids, "the launcher is starting a child")
				require.NoError(t, syscall.Kill(launcher, syscall.SIGTERM))
				signalled := time.Now()
				// The check is that no child outlives the launcher: one left running
				// would soon get its parent-death signal (TestKill9OfTheLauncher),
				// which hides the mistake from a check made later.
				for alive(launcher) {
					time.Sleep(time.Millisecond)
				}
				for _, kid := range kids {
					assert.False(t, alive(kid), "child %d outlived the launcher", kid)
				}
				r := p.Wait(t) // strace ends when the launcher and every child have
				assert.Less(t, time.Since(signalled), 2*time.Second, "the launcher and its children end within 2 s")
				assert.Equal(t, 143, r.ExitCode, "stderr: %s", r.Stderr)
				assert.Equal(t, cleaningUp(syscall.SIGTERM)+"\n", withoutStrace(r.Stderr), "the launcher's one line")
			})
		}
	})
	for i := range 30 {
		delay := time.Duration(i) * time.Millisecond
		t.Run(fmt.Sprintf("at %v", delay), func(t *testing.T) {
			t.Parallel()
			_, key := testKey(t)
			p := ipctest.StartProgramInGroup(t, append(longStream("semring", key), "-wait", "5s")...)
			p.Expect(t, "Start a consumer and a producer", 10*time.Second)
			time.Sleep(delay)
			p.Signal(t, syscall.SIGTERM)
			r := p.Wait(t)
			assert.Equal(t, 143, r.ExitCode, "stderr: %s", r.Stderr)
			assert.Equal(t, cleaningUp(syscall.SIGTERM)+"\n", r.Stderr, "the launcher's one line")
			assert.Equal(t, unix.ESRCH, syscall.Kill(-p.Pid(), 0), "no process of the launcher's group is left")
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

// helperUnderStrace runs this package's program (args[2:]) under strace, which
// injects args[1] into every args[0] system call of it and of its children
// (delay_exit=400000: the call's return is held back for 400 ms). strace exits with
// the program's status once it and its children have ended.
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
		"-e", "inject=" + args[0] + ":" + args[1], exe}, args[2:]...)
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

// childrenOf lists the children of process pid, started by any of its threads.
func childrenOf(pid int) []int {
	var kids []int
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, task := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
		for _, f := range strings.Fields(string(b)) {
			if kid, err := strconv.Atoi(f); err == nil {
				kids = append(kids, kid)
			}
		}
	}
	return kids
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}
