//go:build linux

package lesson

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/procsysv"
)

const testUsage = "usage: demo [-step] [-fail MODE]"

// demo is a tiny lesson: it creates a segment, registers its removal, and then
// ends the way -fail says. With the first argument "child" it plays the child of
// child_test.go instead, as lessons dispatch on a role.
func demo(l *Lesson, args []string) error {
	if len(args) > 0 && args[0] == roleChild {
		return demoChild(l, args[1:])
	}
	fail := l.Flags.String("fail", "", "how to end: call, panic, block, read, read-detach, signal-self, signal-self-then-end, two-signals-while-cleaning-up, signal-late, signal-late-unmarked, signal-while-making, signal-while-making-unkept, no-signal, or nothing")
	if err := l.Parse(args); err != nil {
		return err
	}
	l.Step("Create a segment")
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 64, unix.IPC_CREAT|0o600)
	if err != nil {
		return Failed("shmget(IPC_PRIVATE, 64, IPC_CREAT|0600)", err, "")
	}
	l.Cleanup(fmt.Sprintf("remove segment %d", id), func() error {
		_, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil)
		return err
	})
	l.Result("id %d", id)
	l.Step("The end")
	switch *fail {
	case "call":
		_, err := unix.SysvShmGet(unix.IPC_PRIVATE, 0, unix.IPC_CREAT|0o600)
		return Failed("shmget(IPC_PRIVATE, 0, IPC_CREAT|0600)", err, "size 0 cannot create a segment")
	case "panic":
		panic("boom")
	case "block":
		time.Sleep(time.Minute)
	case "read", "read-detach":
		return readUntilSignalled(l, id, *fail == "read-detach")
	case "signal-self":
		// A signal on its way while the program fails, as when Ctrl-C reaches a
		// process and its peer at once and the peer's cleanup makes this one fail.
		_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
		return errors.New("the peer is gone")
	case "signal-self-then-end":
		// A signal that arrives as the program ends well: it must not be lost.
		_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
		return nil
	case "two-signals-while-cleaning-up":
		// Two signals while the program's own cleanups run at its end: the handler
		// takes the first and waits for the cleanups; the second waits in the
		// channel. Neither may keep the program from exiting.
		l.Cleanup("a cleanup that two signals interrupt", func() error {
			for i := 0; i < 2; i++ {
				_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
				time.Sleep(100 * time.Millisecond)
			}
			return nil
		})
		return nil
	case "signal-late", "signal-late-unmarked":
		// The signal comes long after SignalGrace, as on a busy machine.
		time.AfterFunc(600*time.Millisecond, func() { _ = syscall.Kill(os.Getpid(), syscall.SIGINT) })
		if *fail == "signal-late-unmarked" {
			return errors.New("the peer is gone")
		}
		return SignalMayFollow(errors.New("the peer is gone"), 10*time.Second)
	case "signal-while-making", "signal-while-making-unkept":
		// A signal arrives while a second segment is being made, before its undo is
		// registered (as when shmget is slow to return): Keep's cleanup must still
		// remove it. Without Keep, the handler runs the cleanups meanwhile.
		var second int
		makeSecond := func() (func() error, error) {
			var err error
			second, err = unix.SysvShmGet(unix.IPC_PRIVATE, 64, unix.IPC_CREAT|0o600)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(l.Out, "second %d\n", second)
			_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
			time.Sleep(300 * time.Millisecond)
			return func() error { _, err := unix.SysvShmCtl(second, unix.IPC_RMID, nil); return err }, nil
		}
		if *fail == "signal-while-making-unkept" {
			undo, err := makeSecond()
			if err != nil {
				return err
			}
			l.Cleanup("remove the second segment", undo)
			return nil
		}
		return l.Keep("remove the second segment", makeSecond)
	case "no-signal":
		return SignalMayFollow(errors.New("the peer is gone"), 300*time.Millisecond)
	}
	return nil
}

// readUntilSignalled attaches segment id and reads it in a loop until a signal ends
// the process. The attachment is released by CleanupOnReturn, or with detachToo by
// a plain Cleanup, as the course did before CleanupOnReturn existed. A cleanup that
// runs after it takes 200 ms, so that the reading loop certainly runs on after the
// detach if the detach runs on the signal.
func readUntilSignalled(l *Lesson, id int, detachToo bool) error {
	l.Cleanup("a slow cleanup", func() error { time.Sleep(200 * time.Millisecond); return nil })
	b, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		return Failed(fmt.Sprintf("shmat(%d, NULL, 0)", id), err, "")
	}
	detach := func() error { return unix.SysvShmDetach(b) }
	if detachToo {
		l.Cleanup("detach", detach)
	} else {
		l.CleanupOnReturn("detach", detach)
	}
	l.Result("reading")
	// The segment is zero-filled: the loop runs until something ends the process.
	// (A load whose value is unused is compiled away; this one decides the loop.)
	word := (*uint32)(unsafe.Pointer(&b[0]))
	for atomic.LoadUint32(word) != 0xffffffff {
	}
	return nil
}

func TestMain(m *testing.M) {
	ipctest.Alongside() // private segments only
	ipctest.Main(m, Entry("demo", testUsage, demo))
}

func run(args []string, stdin string) (status int, stdout, stderr string) {
	var out, errb bytes.Buffer
	status = Run("demo", testUsage, demo, args, strings.NewReader(stdin), &out, &errb)
	return status, out.String(), errb.String()
}

func TestRunExitStatusesAndMessages(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStatus int
		wantOut    string
		wantErr    string
	}{
		{"success", nil, ExitOK, "== 2. The end ==", ""},
		{"help", []string{"-h"}, ExitOK, testUsage, ""},
		{"unknown flag", []string{"-nope"}, ExitUsage, "", "demo: flag provided but not defined: -nope (run with -h for usage)\n"},
		{"failed call", []string{"-fail", "call"}, ExitFailed, "",
			"demo: shmget(IPC_PRIVATE, 0, IPC_CREAT|0600): EINVAL (invalid argument): size 0 cannot create a segment\n"},
		{"panic", []string{"-fail", "panic"}, ExitFailed, "", "demo: internal error: boom\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t) // the segment is removed on every way out
			status, stdout, stderr := run(tt.args, "")
			assert.Equal(t, tt.wantStatus, status)
			assert.Contains(t, stdout, tt.wantOut)
			assert.Equal(t, tt.wantErr, stderr, "errors are one line; success prints nothing on stderr")
		})
	}
}

func TestCleanupsRunNewestFirstAndOnce(t *testing.T) {
	var order []string
	status := Run("demo", "", func(l *Lesson, args []string) error {
		l.Cleanup("first", func() error { order = append(order, "first"); return nil })
		l.Cleanup("second", func() error { order = append(order, "second"); return errors.New("already gone") })
		return nil
	}, nil, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	assert.Equal(t, ExitOK, status)
	assert.Equal(t, []string{"second", "first"}, order)
}

func TestStepWaitsForEnter(t *testing.T) {
	ipctest.NoLeaks(t)
	p := ipctest.StartProgram(t, "-step")
	p.Expect(t, "== 1. Create a segment ==", 5*time.Second)
	time.Sleep(50 * time.Millisecond)
	assert.NotContains(t, p.Stdout(), "-> id", "the step must not run before Enter")
	_, err := p.Stdin.Write([]byte("\n"))
	require.NoError(t, err)
	p.Expect(t, "-> id", 5*time.Second)
	_, err = p.Stdin.Write([]byte("\n"))
	require.NoError(t, err)
	assert.Equal(t, ExitOK, p.Wait(t).ExitCode)
}

func TestSignalsRunCleanups(t *testing.T) {
	tests := []struct {
		sig        syscall.Signal
		wantStatus int
	}{
		{syscall.SIGINT, ExitInterrupted},
		{syscall.SIGTERM, ExitTerminated},
		{syscall.SIGHUP, ExitHangup}, // the terminal closed
	}
	for _, tt := range tests {
		t.Run(tt.sig.String(), func(t *testing.T) {
			ipctest.NeedSignal(t, tt.sig)
			ipctest.NoLeaks(t)
			p := ipctest.StartProgram(t, "-fail", "block")
			line := p.Expect(t, "-> id ", 5*time.Second)
			id, err := strconv.Atoi(strings.TrimPrefix(line, "-> id "))
			require.NoError(t, err)
			p.Expect(t, "== 2. The end ==", 5*time.Second)

			p.Signal(t, tt.sig)
			r := p.Wait(t)
			assert.Equal(t, tt.wantStatus, r.ExitCode)
			assert.Equal(t, fmt.Sprintf("demo: %v: cleaning up and exiting\n", tt.sig), r.Stderr,
				"one line and nothing else (no blank line before it: stderr is not a terminal)")
			_, exists, err := procsysv.FindShm(id)
			require.NoError(t, err)
			assert.False(t, exists, "segment %d must be removed by the cleanup", id)
		})
	}
}

// A signal is handled while the program's goroutine goes on running. Detaching
// the memory it reads under it is a fault that kills the process with a trace
// (exit status 2); CleanupOnReturn leaves the attachment to the exit.
func TestSignalLeavesMemoryMapped(t *testing.T) {
	tests := []struct {
		fail       string
		wantStatus int
	}{
		{"read", ExitInterrupted},
		{"read-detach", 2}, // why CleanupOnReturn exists: the Go runtime's fatal fault
	}
	for _, tt := range tests {
		t.Run(tt.fail, func(t *testing.T) {
			ipctest.NoLeaks(t)
			p := ipctest.StartProgram(t, "-fail", tt.fail)
			p.Expect(t, "-> reading", 5*time.Second)
			p.Signal(t, syscall.SIGINT)
			r := p.Wait(t)
			assert.Equal(t, tt.wantStatus, r.ExitCode, "stderr: %s", r.Stderr)
			if tt.wantStatus == ExitInterrupted {
				assert.Equal(t, "demo: interrupt: cleaning up and exiting\n", r.Stderr)
			} else {
				assert.Contains(t, r.Stderr, "unexpected fault address")
				// The trace came before the segment's removal: remove it here.
				m := regexp.MustCompile(`-> id (\d+)`).FindStringSubmatch(r.Stdout)
				require.NotNil(t, m)
				id, _ := strconv.Atoi(m[1])
				_, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
			}
		})
	}
}

// A failure while a signal is on its way is the signal's: exit 130 and its one
// line, not the failure's exit 1 and message (before SignalGrace, the program's
// error usually won the race and the signal was lost).
func TestSignalWinsOverAFailure(t *testing.T) {
	for i := 0; i < 10; i++ {
		ipctest.NoLeaks(t)
		r := ipctest.RunProgram(t, "-fail", "signal-self")
		assert.Equal(t, ExitInterrupted, r.ExitCode, "run %d: stderr: %s", i, r.Stderr)
		assert.Equal(t, "demo: interrupt: cleaning up and exiting\n", r.Stderr, "run %d", i)
	}
}

// A signal that arrives while the program is ending (its handler has not yet run)
// is still the exit: 130 and the one line, never exit 0 as if nothing had come.
func TestSignalAsTheProgramEndsIsNotLost(t *testing.T) {
	for i := 0; i < 20; i++ {
		ipctest.NoLeaks(t)
		r := ipctest.RunProgram(t, "-fail", "signal-self-then-end")
		assert.Equal(t, ExitInterrupted, r.ExitCode, "run %d: stderr: %s", i, r.Stderr)
		assert.Equal(t, "demo: interrupt: cleaning up and exiting\n", r.Stderr, "run %d", i)
	}
}

// Two signals that come while the program cleans up at its end (Ctrl-C pressed
// twice as a lesson finishes) end it like one: exit 130 and one line. (The handler
// used to block, handing the first back into a channel the second had filled, and
// the program waited for it for ever.)
func TestTwoSignalsAsTheProgramEnds(t *testing.T) {
	ipctest.NoLeaks(t)
	r := ipctest.RunProgram(t, "-fail", "two-signals-while-cleaning-up")
	assert.Equal(t, ExitInterrupted, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Equal(t, "demo: interrupt: cleaning up and exiting\n", r.Stderr)
}

// Keep: a signal that comes while something is being made, before its undo is
// registered, still finds the undo, and the thing is removed. The same program with
// the undo registered just after (Cleanup) leaves the segment behind.
func TestKeepLeavesNoWindowForASignal(t *testing.T) {
	for _, tt := range []struct {
		fail    string
		removed bool
	}{
		{"signal-while-making", true},
		{"signal-while-making-unkept", false},
	} {
		t.Run(tt.fail, func(t *testing.T) {
			r := ipctest.RunProgram(t, "-fail", tt.fail)
			assert.Equal(t, ExitTerminated, r.ExitCode, "stderr: %s", r.Stderr)
			assert.Equal(t, "demo: terminated: cleaning up and exiting\n", r.Stderr)
			m := regexp.MustCompile(`(?m)^second (\d+)$`).FindStringSubmatch(r.Stdout)
			require.NotNil(t, m, "stdout: %s", r.Stdout)
			id, _ := strconv.Atoi(m[1])
			_, err := unix.SysvShmCtl(id, unix.IPC_STAT, &unix.SysvShmDesc{})
			if tt.removed {
				assert.Error(t, err, "segment %d is removed", id)
				return
			}
			assert.NoError(t, err, "without Keep, segment %d is left", id)
			_, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
		})
	}
}

// SignalMayFollow: a failure so marked waits for a signal as long as it says, and
// the signal wins when it comes, however late; when none comes, the failure is
// reported once the wait is over. An unmarked failure waits SignalGrace only.
func TestSignalMayFollow(t *testing.T) {
	tests := []struct {
		fail       string
		wantStatus int
		wantStderr string
		minTime    time.Duration
	}{
		{"signal-late", ExitInterrupted, "demo: interrupt: cleaning up and exiting\n", 600 * time.Millisecond},
		{"signal-late-unmarked", ExitFailed, "demo: the peer is gone\n", 0},
		{"no-signal", ExitFailed, "demo: the peer is gone\n", 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.fail, func(t *testing.T) {
			ipctest.NoLeaks(t)
			start := time.Now()
			r := ipctest.RunProgram(t, "-fail", tt.fail)
			assert.Equal(t, tt.wantStatus, r.ExitCode, "stderr: %s", r.Stderr)
			assert.Equal(t, tt.wantStderr, r.Stderr)
			assert.GreaterOrEqual(t, time.Since(start), tt.minTime)
		})
	}
	err := SignalMayFollow(fmt.Errorf("sending: %w", unix.EIDRM), time.Second)
	assert.EqualError(t, err, "sending: identifier removed")
	assert.ErrorIs(t, err, unix.EIDRM)
	assert.NoError(t, SignalMayFollow(nil, time.Second))
}

// CleanupOnReturn's cleanups run in order with the others when the program returns.
func TestCleanupOnReturnRunsOnReturn(t *testing.T) {
	var order []string
	status := Run("demo", "", func(l *Lesson, args []string) error {
		l.Cleanup("first", func() error { order = append(order, "first"); return nil })
		l.CleanupOnReturn("second", func() error { order = append(order, "second"); return nil })
		l.Cleanup("third", func() error { order = append(order, "third"); return nil })
		return errors.New("failed")
	}, nil, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	assert.Equal(t, ExitFailed, status)
	assert.Equal(t, []string{"third", "second", "first"}, order)
}

func TestErrnoText(t *testing.T) {
	assert.Equal(t, "EEXIST (file exists)", ErrnoText(fmt.Errorf("wrapped: %w", unix.EEXIST)))
	assert.Equal(t, "ENOENT", Errno(unix.ENOENT))
	assert.Equal(t, "", Errno(errors.New("plain")))
	assert.Equal(t, "plain", ErrnoText(errors.New("plain")))
}

// TestEntryIgnoresSIGPIPE: the program that Entry runs (as Main, and as the tests
// start it) whose standard output nobody reads any more writes on, fails to write,
// and ends as usual with its segment removed, instead of dying of SIGPIPE with the
// segment left behind.
func TestEntryIgnoresSIGPIPE(t *testing.T) {
	ipctest.NoLeaks(t)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	require.NoError(t, r.Close()) // nobody reads: a write gets EPIPE, or SIGPIPE
	defer w.Close()
	// ipctest.Main has set the environment so that this test binary, run again,
	// runs the program (demo) through Entry.
	cmd := exec.Command(os.Args[0])
	cmd.Stdout = w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	require.NoError(t, err, "the program's exit; stderr: %q", stderr.String())
	assert.Equal(t, "", stderr.String(), "the whole of stderr")
}
