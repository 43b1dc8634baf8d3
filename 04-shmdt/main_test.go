//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/shm"
)

func TestMain(m *testing.M) {
	// Keys of its own files and private segments, no system-wide count: in the
	// shared namespace it may run beside other packages (see ipctest.Alongside).
	ipctest.Alongside()
	ipctest.Main(m, lesson.Entry(name, usage, run))
}

const wait = 10 * time.Second

// ipcStat is IPC_STAT on segment id.
func ipcStat(t *testing.T, id int) unix.SysvShmDesc {
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

// inLesson runs fn as a lesson program in this process (its children are this
// test binary again, running the program) and returns its narration. The test fails
// if fn fails or writes to standard error.
func inLesson(t *testing.T, fn func(l *lesson.Lesson) error) string {
	t.Helper()
	var out, errOut bytes.Buffer
	status := lesson.Run(name, usage, func(l *lesson.Lesson, _ []string) error { return fn(l) },
		nil, strings.NewReader(""), &out, &errOut)
	require.Equal(t, lesson.ExitOK, status, "stderr: %s\nstdout:\n%s", errOut.String(), out.String())
	assert.Empty(t, errOut.String())
	return out.String()
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

// protocol returns the fields of the first line "@@ VERB ..." in out.
func protocol(t *testing.T, line, verb string) []string {
	t.Helper()
	rest, ok := strings.CutPrefix(line, "@@ "+verb)
	require.True(t, ok, "%q is not a %s line", line, verb)
	return strings.Fields(rest)
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
		"The address tells what happened",
		"the second child died: exit status 2",
		"| unexpected fault address",
		"after exec: pid",
		"== 9. IPC_RMID while attached: the segment is marked, not destroyed ==",
		"== 10. The last detach of a segment marked with IPC_RMID destroys it ==",
		"SHM_DEST (01000) is set",
		"this shmdt destroyed it",
		"exiting without shmdt or IPC_RMID",
		"the bytes outlived their writer too",
	} {
		assert.Contains(t, r.Stdout, want)
	}
	assert.NotContains(t, r.Stdout, "@@ ", "protocol lines are for the parent, not the learner")
	// Three wrong slices, three EINVALs.
	assert.Equal(t, 3, strings.Count(r.Stdout, "    (address ")-1, "three wrong slices and one right one")
	assert.GreaterOrEqual(t, strings.Count(r.Stdout, "-> EINVAL (invalid argument)"), 4)

	m := regexp.MustCompile(`/proc/sysvipc/shm: id (\d+), size 4096, cpid (\d+), lpid \d+, nattch 0`).FindStringSubmatch(r.Stdout)
	require.NotNil(t, m, "the lesson shows the segment its child left, with nattch 0")
	assert.Contains(t, r.Stdout, fmt.Sprintf("segment %s is gone from /proc/sysvipc/shm", m[1]))
	assert.Contains(t, r.Stdout, fmt.Sprintf("[pid %s] -> created segment %s", m[2], m[1]), "created by the child that exited")
}

// TestProgramWithShmRmidForced runs the whole lesson where kernel.shm_rmid_forced is
// 1 (in a private IPC namespace): it says what the setting changes, shows the first
// detach destroying the segment, goes on with an anchor, and shows the child's
// segment gone at its exit. It died at step 3 before.
func TestProgramWithShmRmidForced(t *testing.T) {
	r := ipctest.RunProgramInIPCNamespace(t, map[string]string{"shm_rmid_forced": "1"})

	require.Equal(t, 0, r.ExitCode, "stderr: %s\nstdout:\n%s", r.Stderr, r.Stdout)
	assert.Empty(t, r.Stderr)
	for _, want := range []string{
		"kernel.shm_rmid_forced is 1 in this IPC namespace",
		"EINVAL (invalid argument): segment 0 is gone",
		"the anchor is at",
		"The kernel detached it at exit, as if by shmdt: nattch 2 -> 1",
		"this shmdt destroyed it",
		"/proc/sysvipc/shm has no segment",
		"the kernel destroyed the segment",
	} {
		assert.Contains(t, r.Stdout, want)
	}
	assert.NotContains(t, r.Stdout, "the bytes outlived their writer")
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
	ds := ipcStat(t, id)
	assert.NotZero(t, ds.Dtime, "the program's detach set shm_dtime")
	assert.EqualValues(t, 0, ds.Nattch)
}

// TestExistingSegmentLeftAloneWhereTheDetachWouldDestroy: with kernel.shm_rmid_forced
// 1, attaching and detaching a segment nothing else has attached would destroy it.
func TestExistingSegmentLeftAloneWhereTheDetachWouldDestroy(t *testing.T) {
	ipctest.NoLeaks(t)
	setting := t.TempDir() + "/shm_rmid_forced"
	require.NoError(t, os.WriteFile(setting, []byte("1\n"), 0o600))
	old := procsysv.ShmRmidForcedPath
	procsysv.ShmRmidForcedPath = setting
	t.Cleanup(func() { procsysv.ShmRmidForcedPath = old })
	id := ipctest.NewSegment(t, 4096, 0o600)

	var out, errOut bytes.Buffer
	status := lesson.Run(name, usage, func(l *lesson.Lesson, _ []string) error { return attachAndDetach(l, id) },
		nil, strings.NewReader(""), &out, &errOut)

	assert.Equal(t, lesson.ExitFailed, status)
	assert.Equal(t, fmt.Sprintf("%s: segment %d has nothing attached, and kernel.shm_rmid_forced is 1 here: the lesson's detach would destroy it, so it leaves it alone\n", name, id), errOut.String())
	assert.Empty(t, out.String())
	assert.Zero(t, ipcStat(t, id).Atime, "never attached")
}

func TestBadInput(t *testing.T) {
	ipctest.NoLeaks(t)
	gone := ipctest.NewSegment(t, 4096, 0o600)
	require.NoError(t, shm.Remove(gone))
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
		{[]string{"5", "-step"}, lesson.ExitUsage, "-step comes after the arguments, where it is not read as a flag: flags come first (go run ./04-shmdt -step 5)"},
		{[]string{tooBig}, lesson.ExitUsage, fmt.Sprintf("%q is not a segment id", tooBig)},
		{[]string{strconv.Itoa(gone)}, lesson.ExitFailed, fmt.Sprintf("shmctl(%d, IPC_STAT): EINVAL (invalid argument): no segment has id %d", gone, gone)},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ipctest.AssertOneLineError(t, ipctest.RunProgram(t, tt.args...), tt.exit, tt.stderr)
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	ipctest.AssertUsage(t, ipctest.RunProgram(t, "-h"), "usage: go run ./04-shmdt", "-step", "Flags go before the arguments")
}

func TestCtrlCDuringStepRemovesEverything(t *testing.T) {
	tests := []struct {
		name   string
		stopAt int // the step whose prompt gets the SIGINT
	}{
		{"after creating the segment", 2},
		{"after a child left a segment behind", 12},
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
				if exists(t, id) { // step 9's segment is destroyed by step 10
					ids = append(ids, id)
				}
			}
			require.NotEmpty(t, ids)

			r := p.Interrupt(t)

			assert.Equal(t, lesson.ExitInterrupted, r.ExitCode)
			assert.Equal(t, name+": interrupt: cleaning up and exiting\n", r.Stderr, "the whole of stderr")
			for _, id := range ids {
				assert.False(t, exists(t, id), "segment %d removed on Ctrl-C", id)
			}
		})
	}
}

// TestMarkedSegmentAtThePause: step 9 prints ipcs commands for a segment it marked
// while attached, and -step pauses before step 10 while it exists, marked and
// attached, as they say; Ctrl-C there (the exit detaches it) leaves nothing.
func TestMarkedSegmentAtThePause(t *testing.T) {
	ipctest.NoLeaks(t)
	p := ipctest.StartProgram(t, "-step")
	p.StepTo(t, 10)
	m := regexp.MustCompile(`\$ ipcs -m -i (\d+)    \(mode=01600: marked; nattch=1: still here\)`).FindStringSubmatch(p.Stdout())
	require.NotNil(t, m, "step 9 prints an ipcs command for its segment:\n%s", p.Stdout())
	id, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	require.True(t, exists(t, id), "segment %d exists at the pause after step 9", id)
	ds := ipcStat(t, id)
	assert.EqualValues(t, 0o1600, ds.Perm.Mode, "marked: SHM_DEST|0600")
	assert.EqualValues(t, 1, ds.Nattch, "still attached")
	assert.EqualValues(t, 0, ds.Perm.Key, "the key is 0 once marked")

	r := p.Interrupt(t)
	assert.Equal(t, lesson.ExitInterrupted, r.ExitCode)
	assert.Equal(t, name+": interrupt: cleaning up and exiting\n", r.Stderr, "the whole of stderr")
	assert.False(t, exists(t, id), "segment %d destroyed when the exit detached it", id)
}

// TestCtrlCWhileAChildRuns: Ctrl-C in a terminal while step 6's child is attached
// and waits: one line, exit status 130, the child gone with the lesson.
func TestCtrlCWhileAChildRuns(t *testing.T) {
	ipctest.NoLeaks(t)
	r, child := ipctest.CtrlCWhileChildRuns(t, func() *ipctest.Proc { return ipctest.StartProgramInGroup(t) }, "waiting; then exiting without shmdt")
	assert.Equal(t, lesson.ExitInterrupted, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Equal(t, name+": interrupt: cleaning up and exiting\n", r.Stderr, "the whole of stderr")
	assert.True(t, ipctest.Gone(child), "the child (pid %d) ended before the lesson did", child)
}

func Example_when() {
	fmt.Println(when(0))
	// Output: 0 (never)
}
