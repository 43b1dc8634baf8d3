//go:build linux

package lesson

import (
	"bytes"
	"errors"
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
	fail := l.Flags.String("fail", "", "how to end: call, panic, block, or nothing")
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
	}
	return nil
}

func TestMain(m *testing.M) { ipctest.Main(m, Entry("demo", testUsage, demo)) }

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
	}
	for _, tt := range tests {
		t.Run(tt.sig.String(), func(t *testing.T) {
			ipctest.NoLeaks(t)
			p := ipctest.StartProgram(t, "-fail", "block")
			line := p.Expect(t, "-> id ", 5*time.Second)
			id, err := strconv.Atoi(strings.TrimPrefix(line, "-> id "))
			require.NoError(t, err)
			p.Expect(t, "== 2. The end ==", 5*time.Second)

			p.Signal(t, tt.sig)
			r := p.Wait(t)
			assert.Equal(t, tt.wantStatus, r.ExitCode)
			assert.Contains(t, r.Stderr, "cleaning up and exiting")
			_, exists, err := procsysv.FindShm(id)
			require.NoError(t, err)
			assert.False(t, exists, "segment %d must be removed by the cleanup", id)
		})
	}
}

func TestErrnoText(t *testing.T) {
	assert.Equal(t, "EEXIST (file exists)", ErrnoText(fmt.Errorf("wrapped: %w", unix.EEXIST)))
	assert.Equal(t, "ENOENT", Errno(unix.ENOENT))
	assert.Equal(t, "", Errno(errors.New("plain")))
	assert.Equal(t, "plain", ErrnoText(errors.New("plain")))
}
