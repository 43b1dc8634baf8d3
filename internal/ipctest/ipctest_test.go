//go:build linux

package ipctest

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
)

func TestMain(m *testing.M) {
	Helper("exit-with", func(args []string) int {
		code, _ := strconv.Atoi(args[0])
		fmt.Println("exiting with", code)
		return code
	})
	Helper("attach-and-write", func(args []string) int {
		id, _ := strconv.Atoi(args[0])
		b, err := unix.SysvShmAttach(id, 0, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		copy(b, args[1])
		fmt.Println("written")
		return 0
	})
	Helper("create-and-leave", func(args []string) int {
		id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 16, unix.IPC_CREAT|0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(id)
		return 0
	})
	Helper("steps", lesson.Entry("steps", "usage: steps [-step]", threeSteps))
	Main(m, nil)
}

// threeSteps is a lesson with three steps, which creates a segment in step 1 and
// removes it on every way out.
func threeSteps(l *lesson.Lesson, args []string) error {
	if err := l.Parse(args); err != nil {
		return err
	}
	l.Step("Create")
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 16, unix.IPC_CREAT|0o600)
	if err != nil {
		return lesson.Failed("shmget", err, "")
	}
	l.Cleanup("remove it", func() error { _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); return err })
	l.Result("id %d", id)
	l.Step("Look")
	l.Step("End")
	return nil
}

func TestHelperExitCodes(t *testing.T) {
	for _, code := range []int{0, 1, 7} {
		r := RunHelper(t, "exit-with", strconv.Itoa(code))
		assert.Equal(t, code, r.ExitCode)
		assert.Equal(t, fmt.Sprintf("exiting with %d\n", code), r.Stdout)
	}
}

func TestHelperSeesSegment(t *testing.T) {
	NoLeaks(t)
	id := NewSegment(t, 64, 0o600)
	b := Attach(t, id, 0)
	p := StartHelper(t, "attach-and-write", strconv.Itoa(id), "hello")
	p.Expect(t, "written", 5*time.Second)
	require.Equal(t, 0, p.Wait(t).ExitCode)
	assert.Equal(t, "hello", string(b[:5]))
}

func TestLeakedFindsNewSegment(t *testing.T) {
	before, err := snapshot()
	require.NoError(t, err)
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 16, unix.IPC_CREAT|0o600)
	require.NoError(t, err)
	leaks, err := leaked(before)
	require.NoError(t, err)
	require.Len(t, leaks, 1)
	assert.Equal(t, id, leaks[0].id)
	leaks[0].remove()
	leaks, err = leaked(before)
	require.NoError(t, err)
	assert.Empty(t, leaks, "remove must delete the leaked segment")
}

func TestUnusedKey(t *testing.T) {
	key, path := UnusedKey(t)
	assert.NotZero(t, key)
	assert.FileExists(t, path)
}

// The leak check counts segments made by the test run's processes, and only those:
// a program outside the run (here: the helper started without the pid log in its
// environment) may create segments meanwhile without being blamed or removed.
func TestLeakedCountsOnlyTheTestRunsObjects(t *testing.T) {
	before, err := snapshot()
	require.NoError(t, err)

	inside := RunHelper(t, "create-and-leave")
	require.Equal(t, 0, inside.ExitCode, inside.Stderr)
	insideID, err := strconv.Atoi(strings.TrimSpace(inside.Stdout))
	require.NoError(t, err)
	defer unix.SysvShmCtl(insideID, unix.IPC_RMID, nil)

	cmd := exec.Command(os.Args[0])
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envPidFile+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, envHelper+"=create-and-leave")
	out, err := cmd.Output()
	require.NoError(t, err)
	outsideID, err := strconv.Atoi(strings.TrimSpace(string(out)))
	require.NoError(t, err)
	defer unix.SysvShmCtl(outsideID, unix.IPC_RMID, nil)

	leaks, err := leaked(before)
	require.NoError(t, err)
	var ids []int
	for _, o := range leaks {
		ids = append(ids, o.id)
	}
	assert.Contains(t, ids, insideID, "a segment created by a helper of this run is a leak")
	assert.NotContains(t, ids, outsideID, "a segment created by an unrelated process is not ours")
}

// recorder is a testing.TB that records whether an assertion failed, to test the
// assertion helpers themselves. Only the methods assert calls are implemented.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }

func TestAssertOneLineError(t *testing.T) {
	tests := []struct {
		name     string
		r        Result
		exit     int
		substr   string
		wantPass bool
	}{
		{"a failed call", Result{ExitCode: 1, Stderr: "x: shmget: EINVAL\n"}, 1, "EINVAL", true},
		{"a usage error", Result{ExitCode: 2, Stderr: "x: bad flag (run with -h for usage)\n"}, 2, "bad flag", true},
		{"a usage error without the hint", Result{ExitCode: 2, Stderr: "x: bad flag\n"}, 2, "bad flag", false},
		{"another exit status", Result{ExitCode: 1, Stderr: "x: shmget: EINVAL\n"}, 2, "EINVAL", false},
		{"another message", Result{ExitCode: 1, Stderr: "x: shmget: EINVAL\n"}, 1, "EACCES", false},
		{"two lines", Result{ExitCode: 1, Stderr: "x: shmget: EINVAL\nmore\n"}, 1, "EINVAL", false},
		{"no newline", Result{ExitCode: 1, Stderr: "x: shmget: EINVAL"}, 1, "EINVAL", false},
		{"a panic trace", Result{ExitCode: 2, Stderr: "panic: EINVAL goroutine 1 [running] (run with -h for usage)\n"}, 2, "EINVAL", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			passed := AssertOneLineError(rec, tt.r, tt.exit, tt.substr)
			assert.Equal(t, tt.wantPass, passed)
			assert.Equal(t, !tt.wantPass, rec.failed, "a failed check fails the test")
		})
	}
}

func TestAssertUsage(t *testing.T) {
	usage := Result{Stdout: "usage: x [-step]\n\nFlags:\n  -step\n"}
	tests := []struct {
		name     string
		r        Result
		want     []string
		wantPass bool
	}{
		{"the usage", usage, []string{"usage: x", "-step"}, true},
		{"a flag missing", usage, []string{"usage: x", "-size"}, false},
		{"exit 2", Result{ExitCode: 2, Stdout: usage.Stdout}, []string{"usage: x"}, false},
		{"something on stderr", Result{Stdout: usage.Stdout, Stderr: "warning\n"}, []string{"usage: x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			assert.Equal(t, tt.wantPass, AssertUsage(rec, tt.r, tt.want...))
			assert.Equal(t, !tt.wantPass, rec.failed)
		})
	}
}

func TestStepToAndInterrupt(t *testing.T) {
	NoLeaks(t)
	p := StartHelper(t, "steps", "-step")
	p.StepTo(t, 2)
	out := p.Stdout()
	assert.Contains(t, out, "== 2. Look ==", "paused before step 2")
	assert.NotContains(t, out, "== 3.", "not beyond it")
	m := regexp.MustCompile(`-> id (\d+)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	id, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	_, exists, err := procsysv.FindShm(id)
	require.NoError(t, err)
	require.True(t, exists, "step 1 ran: segment %d exists", id)

	r := p.Interrupt(t)

	assert.Equal(t, lesson.ExitInterrupted, r.ExitCode, "SIGINT, not end of input, ended it")
	assert.Contains(t, r.Stderr, "interrupt: cleaning up")
	assert.NotContains(t, r.Stdout, "== 3.")
	_, exists, err = procsysv.FindShm(id)
	require.NoError(t, err)
	assert.False(t, exists, "the cleanup removed segment %d", id)
}
