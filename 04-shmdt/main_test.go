//go:build linux

package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
)

func TestMain(m *testing.M) { ipctest.Main(m, lesson.Entry(name, usage, run)) }

const wait = 10 * time.Second

// stat is IPC_STAT on segment id.
func stat(t *testing.T, id int) unix.SysvShmDesc {
	t.Helper()
	var ds unix.SysvShmDesc
	_, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds)
	require.NoError(t, err, "IPC_STAT on segment %d", id)
	return ds
}

func exists(t *testing.T, id int) bool {
	t.Helper()
	_, ok, err := procsysv.FindShm(id)
	require.NoError(t, err)
	return ok
}

// kernelSecondsBefore returns the kernel's idea of the current second. The kernel
// stamps shm_dtime with ktime_get_real_seconds(), a coarse clock updated once per
// tick, which can still show the previous second just after time.Now() has moved on;
// CLOCK_REALTIME_COARSE reads that same clock, so later stamps are never earlier.
func kernelSecondsBefore() int64 {
	var now unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_REALTIME_COARSE, &now); err != nil {
		return time.Now().Unix() - 1
	}
	return int64(now.Sec)
}

func TestDetachDropsNattchAndSetsDtime(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 4096, 0o600)
	start := kernelSecondsBefore()
	b, err := unix.SysvShmAttach(id, 0, 0)
	require.NoError(t, err)
	copy(b, "kept")

	before := stat(t, id)
	require.NoError(t, unix.SysvShmDetach(b))
	after := stat(t, id)

	assert.EqualValues(t, 1, before.Nattch)
	assert.EqualValues(t, 0, before.Dtime, "never detached yet")
	assert.EqualValues(t, 0, after.Nattch)
	assert.GreaterOrEqual(t, int64(after.Dtime), start, "shm_dtime is set to the time of the detach")
	assert.EqualValues(t, os.Getpid(), after.Lpid, "shm_lpid is the detaching process")

	assert.True(t, exists(t, id), "shmdt never destroys the segment")
	again := ipctest.Attach(t, id, unix.SHM_RDONLY)
	assert.Equal(t, "kept", string(again[:4]), "and the bytes stay")
}

func TestDetachNeedsTheSliceThatStartsAtTheAttachAddress(t *testing.T) {
	page := os.Getpagesize()
	tests := []struct {
		name    string
		slice   func(b []byte) []byte
		wantErr error
	}{
		{"b[10:] is not page-aligned", func(b []byte) []byte { return b[10:] }, unix.EINVAL},
		{"b[page:] is aligned but no attachment starts there", func(b []byte) []byte { return b[page:] }, unix.EINVAL},
		{"b[:0] is empty: x/sys refuses it", func(b []byte) []byte { return b[:0] }, unix.EINVAL},
		{"nil", func([]byte) []byte { return nil }, unix.EINVAL},
		{"b[:10] starts at the attach address: only that counts", func(b []byte) []byte { return b[:10] }, nil},
		{"b itself", func(b []byte) []byte { return b }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			id := ipctest.NewSegment(t, 2*page, 0o600)
			b, err := unix.SysvShmAttach(id, 0, 0)
			require.NoError(t, err)

			err = unix.SysvShmDetach(tt.slice(b))

			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				assert.EqualValues(t, 1, stat(t, id).Nattch, "a failed shmdt leaves the attachment")
				require.NoError(t, unix.SysvShmDetach(b))
				return
			}
			assert.NoError(t, err)
			assert.EqualValues(t, 0, stat(t, id).Nattch, "the whole attachment is gone")
			assert.ErrorIs(t, unix.SysvShmDetach(b), unix.EINVAL, "detaching twice: nothing is attached there")
		})
	}
}

func TestExitDetaches(t *testing.T) {
	tests := []struct {
		name string
		end  func(t *testing.T, p *ipctest.Proc)
	}{
		{"returns from main", func(t *testing.T, p *ipctest.Proc) { require.NoError(t, p.Stdin.Close()) }},
		{"killed by SIGKILL", func(t *testing.T, p *ipctest.Proc) { p.Signal(t, syscall.SIGKILL) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			id := ipctest.NewSegment(t, 4096, 0o600)
			start := kernelSecondsBefore()
			p := ipctest.StartProgram(t, roleAttachAndExit, strconv.Itoa(id))
			p.Expect(t, "exiting without shmdt", wait)
			attached := stat(t, id)

			tt.end(t, p)
			p.Wait(t)
			gone := stat(t, id)

			assert.EqualValues(t, 1, attached.Nattch)
			assert.EqualValues(t, p.Pid(), attached.Lpid)
			assert.EqualValues(t, 0, gone.Nattch, "the kernel detached the segment when the process ended")
			assert.EqualValues(t, p.Pid(), gone.Lpid, "the detach at exit is the child's")
			assert.GreaterOrEqual(t, int64(gone.Dtime), start)
		})
	}
}

func TestExecDetaches(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 4096, 0o600)
	p := ipctest.StartProgram(t, roleAttachAndExec, strconv.Itoa(id))
	p.Expect(t, "waiting for the word to exec", wait)
	require.EqualValues(t, 1, stat(t, id).Nattch)

	_, err := p.Stdin.Write([]byte("exec\n"))
	require.NoError(t, err)
	line := p.Expect(t, "after exec", wait)

	assert.Contains(t, line, fmt.Sprintf("pid %d,", p.Pid()), "the same process")
	select {
	case <-p.Done():
		t.Fatal("the child should still be running")
	default:
	}
	assert.EqualValues(t, 0, stat(t, id).Nattch, "exec detached the segment from the still-running process")
	r := p.Wait(t)
	assert.Equal(t, 0, r.ExitCode, r.Stderr)
}

func TestTouchAfterDetachFaults(t *testing.T) {
	tests := []struct {
		role   string
		exit   int
		stdout []string
		stderr []string
	}{
		{roleTouchRecovering, 0, []string{"recovered a panic: runtime error: invalid memory address", "at %s: the detached address"}, nil},
		{roleTouchFatal, 2, nil, []string{"unexpected fault address %s", "fatal error: fault", "code=0x1 addr=%s"}},
	}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			ipctest.NoLeaks(t)
			id := ipctest.NewSegment(t, 4096, 0o600)

			r := ipctest.RunProgram(t, tt.role, strconv.Itoa(id))

			assert.Equal(t, tt.exit, r.ExitCode, r.Stderr)
			m := regexp.MustCompile(`mapped at (0x[0-9a-f]+)`).FindStringSubmatch(r.Stdout)
			require.NotNil(t, m)
			detached := m[1] // the fault must be at the address that was detached
			for _, s := range tt.stdout {
				assert.Contains(t, r.Stdout, strings.ReplaceAll(s, "%s", detached))
			}
			for _, s := range tt.stderr {
				assert.Contains(t, r.Stderr, strings.ReplaceAll(s, "%s", detached))
			}
			assert.NotContains(t, r.Stdout, "without a fault")
		})
	}
}

func TestSegmentOutlivesItsCreator(t *testing.T) {
	ipctest.NoLeaks(t)
	p := ipctest.StartProgram(t, roleCreateAndLeave)
	line := p.Expect(t, "created segment", wait)
	id, err := strconv.Atoi(line[strings.LastIndex(line, " ")+1:])
	require.NoError(t, err)
	t.Cleanup(func() { _ = removeIfThere(id) })
	_, err = p.Stdin.Write([]byte("go\n"))
	require.NoError(t, err)
	r := p.Wait(t)
	require.Equal(t, 0, r.ExitCode, r.Stderr)

	s, ok, err := procsysv.FindShm(id)
	require.NoError(t, err)
	require.True(t, ok, "the segment is still listed after its creator exited")
	assert.Equal(t, p.Pid(), s.CPID)
	assert.Equal(t, 0, s.Nattch)
	assert.NoDirExists(t, fmt.Sprintf("/proc/%d", p.Pid()), "the creator is gone")
	b, err := unix.SysvShmAttach(id, 0, unix.SHM_RDONLY)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("left here by pid %d", p.Pid()), strings.TrimRight(string(b[:64]), "\x00"))
	require.NoError(t, unix.SysvShmDetach(b))

	require.NoError(t, remove(id)) // what ipcrm -m ID does
	assert.False(t, exists(t, id), "IPC_RMID with nothing attached destroys it at once")
}

func TestCreatorRemovesItsSegmentIfTheParentGoesAway(t *testing.T) {
	ipctest.NoLeaks(t)
	p := ipctest.StartProgram(t, roleCreateAndLeave)
	line := p.Expect(t, "created segment", wait)
	id, err := strconv.Atoi(line[strings.LastIndex(line, " ")+1:])
	require.NoError(t, err)

	r := p.Wait(t) // closes stdin without "go": the parent went away

	assert.Equal(t, 1, r.ExitCode)
	assert.Contains(t, r.Stderr, fmt.Sprintf("removed segment %d", id))
	assert.False(t, exists(t, id))
}

func TestProgram(t *testing.T) {
	ipctest.NoLeaks(t)
	r := ipctest.RunProgram(t)
	require.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Empty(t, r.Stderr)

	for _, want := range []string{
		"shm_nattch 0, shm_lpid 0, shm_atime 0 (never), shm_dtime 0 (never)",
		`attached again at`,
		`"still here after detach"`,
		"SysvShmDetach(b[10:])",
		"SysvShmDetach(b[:10])",
		"-> 0 (success): the whole attachment is gone",
		"-> EINVAL (invalid argument): nothing is attached at",
		"recovered a panic",
		"the second child died: exit status 2",
		"| unexpected fault address",
		"after exec: pid",
		"exiting without shmdt or IPC_RMID",
		"the bytes outlived their writer too",
	} {
		assert.Contains(t, r.Stdout, want)
	}
	// Three wrong slices, three EINVALs.
	assert.Equal(t, 3, strings.Count(r.Stdout, "    (address ")-1, "three wrong slices and one right one")
	assert.GreaterOrEqual(t, strings.Count(r.Stdout, "-> EINVAL (invalid argument)"), 4)

	m := regexp.MustCompile(`/proc/sysvipc/shm: id (\d+), size 4096, cpid (\d+), lpid \d+, nattch 0`).FindStringSubmatch(r.Stdout)
	require.NotNil(t, m, "the lesson shows the segment its child left, with nattch 0")
	assert.Contains(t, r.Stdout, fmt.Sprintf("segment %s is gone from /proc/sysvipc/shm", m[1]))
	assert.Contains(t, r.Stdout, fmt.Sprintf("[pid %s] -> created segment %s", m[2], m[1]), "created by the child that exited")
}

func TestAttachAndDetachAnExistingSegment(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 100, 0o600)

	r := ipctest.RunProgram(t, strconv.Itoa(id))

	require.Equal(t, 0, r.ExitCode, r.Stderr)
	nattch := regexp.MustCompile(`shm_nattch (\d+)`).FindAllStringSubmatch(r.Stdout, -1)
	require.Len(t, nattch, 3)
	assert.Equal(t, []string{"0", "1", "0"}, []string{nattch[0][1], nattch[1][1], nattch[2][1]})
	assert.Contains(t, r.Stdout, "shm_dtime 0 (never)", "before")
	ds := stat(t, id)
	assert.NotZero(t, ds.Dtime, "the program's detach set shm_dtime")
	assert.EqualValues(t, 0, ds.Nattch)
}

func TestBadInput(t *testing.T) {
	ipctest.NoLeaks(t)
	gone := ipctest.NewSegment(t, 4096, 0o600)
	require.NoError(t, remove(gone))
	// shmid is a C int: 2^32 more than a live segment's id must not name that segment.
	live := ipctest.NewSegment(t, 4096, 0o600)
	tooBig := strconv.Itoa(live + 1<<32)

	tests := []struct {
		args   []string
		exit   int
		stderr string
	}{
		{[]string{"-nope"}, lesson.ExitUsage, "flag provided but not defined: -nope"},
		{[]string{"abc"}, lesson.ExitUsage, `"abc" is not a segment id`},
		{[]string{"1", "2"}, lesson.ExitUsage, "too many arguments"},
		{[]string{tooBig}, lesson.ExitUsage, fmt.Sprintf("%q is not a segment id", tooBig)},
		{[]string{roleAttachAndExit}, lesson.ExitUsage, "this role takes one segment id"},
		{[]string{roleTouchFatal, "x"}, lesson.ExitUsage, `"x" is not a segment id`},
		{[]string{strconv.Itoa(gone)}, lesson.ExitFailed, fmt.Sprintf("shmctl(%d, IPC_STAT): EINVAL (invalid argument): no segment has id %d", gone, gone)},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ipctest.AssertOneLineError(t, ipctest.RunProgram(t, tt.args...), tt.exit, tt.stderr)
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	ipctest.AssertUsage(t, ipctest.RunProgram(t, "-h"), "usage: go run ./04-shmdt", "-step")
}

func TestCtrlCDuringStepRemovesEverything(t *testing.T) {
	tests := []struct {
		name   string
		stopAt int // the step whose prompt gets the SIGINT
	}{
		{"after creating the segment", 2},
		{"after a child left a segment behind", 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			p := ipctest.StartProgram(t, "-step")
			p.StepTo(t, tt.stopAt)
			var ids []int
			for _, m := range regexp.MustCompile(`(?:-> id|created segment) (\d+)`).FindAllStringSubmatch(p.Stdout(), -1) {
				id, err := strconv.Atoi(m[1])
				require.NoError(t, err)
				require.True(t, exists(t, id), "segment %d exists before Ctrl-C", id)
				ids = append(ids, id)
			}
			require.NotEmpty(t, ids)

			r := p.Interrupt(t)

			assert.Equal(t, lesson.ExitInterrupted, r.ExitCode)
			for _, id := range ids {
				assert.False(t, exists(t, id), "segment %d removed on Ctrl-C", id)
			}
		})
	}
}

func Example_when() {
	fmt.Println(when(0))
	// Output: 0 (never)
}
