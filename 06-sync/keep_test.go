//go:build linux

package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
)

// A signal while a system call that creates an object is under way: the object
// must be removed all the same. Between the call's return and the registration of
// its cleanup there are only a few instructions, so the test widens that moment:
// strace holds the call's return back (ipctest.RunProgramWithSlowSyscall), and
// SIGTERM comes while it is held. Code that registered the cleanup after the call
// left the object behind every time; lesson.Keep makes the signal's cleanups wait
// for the call, then remove what it made.
func TestSignalWhileCreatingLeavesNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		syscall string
		args    []string
	}{
		{"race segment", "shmget", []string{"race", "-n", "10"}},
		{"stream segment", "shmget", []string{"consumer", "-key", streamKey, "-wait", "5s"}},
		{"stream semaphore set", "semget", []string{"consumer", "-key", streamKey, "-wait", "5s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			run := ipctest.RunProgramWithSlowSyscall(t, tt.syscall, slowCall, syscall.SIGTERM, tt.args...)
			run.AssertSignalLeftNothing(t, name, syscall.SIGTERM)
		})
	}
}

// slowCall is how long strace holds up a call in these tests: long enough for the
// test to see the call under way and signal, however busy the machine.
const slowCall = 200 * time.Millisecond

// streamKey is the stream's key under strace: the run has an IPC namespace of its
// own, so no other object can hold it.
const streamKey = "0x5106c0de"

// A signal to the launcher while it starts a child: the child must not be left
// running. The start is held up on purpose: strace holds each child's execve
// before it runs, and the launcher's fork (a vfork: it returns once the child has
// exec'd) with it; SIGTERM comes in the middle. The launcher that registered a
// child only once its start had returned left it running until -wait ran out (5 s
// here); lesson.Keep makes the signal's cleanups wait for the start, then stop the
// child. And SIGTERM at random moments of the start-up, without strace: every
// time, the launcher's one line, and nothing left.
func TestSignalWhileStartingTheChildren(t *testing.T) {
	t.Parallel()
	t.Run("held up", func(t *testing.T) {
		t.Parallel()
		for _, starting := range []string{"consumer", "producer"} {
			t.Run(starting, func(t *testing.T) {
				t.Parallel()
				p := ipctest.StartProgramWithSlowSyscall(t, "execve", slowCall, append(longStream("semring", streamKey), "-wait", "5s")...)
				if starting == "consumer" {
					p.Expect(t, "Start a consumer and a producer", 20*time.Second)
				} else {
					p.Expect(t, "started the consumer, pid", 20*time.Second)
				}
				launcher := p.Program(t)
				p.ChildInSyscall(t) // the start under way
				kids := ipctest.ChildrenOf(launcher)
				require.NoError(t, syscall.Kill(launcher, syscall.SIGTERM))
				signalled := time.Now()
				// The check is that no child outlives the launcher: one left running
				// would soon get its parent-death signal (TestKill9OfTheLauncher),
				// which hides the mistake from a check made later.
				for ipctest.Alive(launcher) {
					time.Sleep(time.Millisecond)
				}
				for _, kid := range kids {
					assert.False(t, ipctest.Alive(kid), "child %d outlived the launcher", kid)
				}
				run := p.Wait(t) // strace ends when the launcher and every child have
				assert.Less(t, time.Since(signalled), 2*time.Second, "the launcher and its children end within 2 s")
				run.AssertSignalLeftNothing(t, name, syscall.SIGTERM)
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

// A program under strace ends with the test that started it, even when that test's
// process dies at once (kill -9 of the test run): the shell in front of strace gets
// its parent-death signal, strace gets SIGKILL when the shell goes, and the program,
// whose parent strace is, SIGTERM, on which it cleans up. (strace blocks the fatal
// signals and would trace on alone: a stream of 2,000,000,000 messages ran on at a
// full CPU in a namespace that ipcs cannot see.) Here the shell gets SIGKILL.
func TestUnderStraceEndsWithTheTests(t *testing.T) {
	t.Parallel()
	if !ipctest.StraceEndsWithTheTests() {
		t.Skip("no setpriv with --pdeathsig (util-linux 2.33 or later): strace cannot be tied to the tests")
	}
	_, key := testKey(t)
	p := ipctest.StartProgramWithSlowSyscall(t, "execve", slowCall, longStream("semring", key)...)
	p.Expect(t, "started the producer, pid", 20*time.Second)
	launcher := p.Program(t)
	strace := ipctest.ChildrenOf(p.Pid())
	kids := ipctest.ChildrenOf(launcher)
	require.NotEmpty(t, kids, "the launcher's children")
	require.NoError(t, syscall.Kill(p.Pid(), syscall.SIGKILL))
	killed := time.Now()
	for _, pid := range append(append(strace, launcher), kids...) {
		for ipctest.Alive(pid) && time.Since(killed) < 5*time.Second {
			time.Sleep(10 * time.Millisecond)
		}
		if !assert.False(t, ipctest.Alive(pid), "pid %d (%s) still runs 5 s after the shell in front of strace died", pid, comm(pid)) {
			_ = syscall.Kill(pid, syscall.SIGKILL) // so that the shell's output ends
		}
	}
	p.Proc.Wait(t)
}

// comm is the name of process pid's command.
func comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}
