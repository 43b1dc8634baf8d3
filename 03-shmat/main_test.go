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
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/shm"
)

func TestMain(m *testing.M) {
	// The lesson program, as a helper that StartHelperAs can run as another user.
	ipctest.Helper("program", lesson.Entry(name, usage, run))
	// Its own keys (ftok of its own files) and private segments only: in the shared
	// namespace it may run beside other packages (see ipctest.Alongside).
	ipctest.Alongside()
	ipctest.Main(m, lesson.Entry(name, usage, run))
}

const wait = 10 * time.Second

// addrNoRandomize is ADDR_NO_RANDOMIZE from <sys/personality.h>, the persona bit
// setarch -R sets.
const addrNoRandomize = 0x0040000

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

// alignedBytes returns n zero bytes that start on an 8-byte boundary, as a segment
// does. A []byte from make has no such promise (under -race it often is not).
func alignedBytes(n int) []byte {
	words := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), n)
}

// nattch reads shm_nattch of segment id from /proc/sysvipc/shm.
func nattch(t *testing.T, id int) int {
	t.Helper()
	s, ok, err := procsysv.FindShm(id)
	require.NoError(t, err)
	require.True(t, ok, "segment %d should exist", id)
	return s.Nattch
}

// randomised reports whether new processes get randomised mmap addresses here: the
// kernel setting is on and this process does not run with ADDR_NO_RANDOMIZE
// (setarch -R), which children inherit.
func randomised(t *testing.T) bool {
	setting, err := os.ReadFile("/proc/sys/kernel/randomize_va_space")
	require.NoError(t, err)
	persona, err := os.ReadFile("/proc/self/personality")
	require.NoError(t, err)
	p, err := strconv.ParseUint(strings.TrimSpace(string(persona)), 16, 32)
	require.NoError(t, err)
	on := strings.TrimSpace(string(setting)) != "0" && p&addrNoRandomize == 0
	if !on {
		t.Log("address space randomisation is off: processes may map the segment at the same address, which the lesson says is allowed")
	}
	return on
}

func TestProgram(t *testing.T) {
	ipctest.NoLeaks(t)
	r := ipctest.RunProgram(t)
	require.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Empty(t, r.Stderr)

	for _, want := range []string{
		"shm_nattch 1: one attachment",
		"shm_nattch 2: counts attachments, not processes",
		`-> "written through the first address"`,
		"header at offset 0, 32 bytes: Magic@0 Version@4 Writes@8",
		"shm_nattch 3: three attachments, two processes",
		"reply read through",
		"(Writes is now 2)",
		"r--s",
		"recovered a panic: runtime error: invalid memory address or nil pointer dereference",
		"the address\n   tells you what happened",
		"the child died: exit status 2",
		"| unexpected fault address",
		"-> EINVAL (invalid argument)",
		"== 9. SHMLBA and SHM_RND, and why they exist ==",
		"== 11. Go trap: append to the attached slice ==",
		"== 12. Go trap: a flag polled without sync/atomic ==",
		"atomic.LoadUint32 saw the flag",
		"== 13. Go trap: the race detector cannot see the segment ==",
		"== 14. Go trap: a pointer stored in the segment ==",
		"shm_nattch 0: nothing attached",
		"-> removed.",
	} {
		assert.Contains(t, r.Stdout, want)
	}
	assert.NotContains(t, r.Stdout, "@@ ", "protocol lines are for the parent, not the learner")
	if os.Geteuid() == 0 {
		assert.Contains(t, r.Stdout, "running as uid")
	}
	assert.Contains(t, r.Stdout, "-> EACCES (permission denied)")

	m := regexp.MustCompile(`the child mapped it at (0x[0-9a-f]+), we at (0x[0-9a-f]+) and (0x[0-9a-f]+)`).FindStringSubmatch(r.Stdout)
	if randomised(t) {
		require.NotNil(t, m, "the lesson reports different addresses")
		assert.NotEqual(t, m[1], m[2])
		assert.NotEqual(t, m[1], m[3])
	}
}

// TestProgramWithShmRmidForced runs the whole lesson where kernel.shm_rmid_forced is
// 1 (in a private IPC namespace): it says what the setting changes, still shows
// every step, and ends with the last detach destroying the segment.
func TestProgramWithShmRmidForced(t *testing.T) {
	t.Parallel() // in an IPC namespace of its own: nothing of it is seen here
	r := ipctest.RunProgramInIPCNamespace(t, map[string]string{"shm_rmid_forced": "1"})

	require.Equal(t, 0, r.ExitCode, "stderr: %s\nstdout:\n%s", r.Stderr, r.Stdout)
	assert.Empty(t, r.Stderr)
	for _, want := range []string{
		"kernel.shm_rmid_forced is 1 in this IPC namespace",
		"shm_nattch 3: three attachments, two processes",
		"atomic.LoadUint32 saw the flag",
		"the last detach destroyed the segment",
	} {
		assert.Contains(t, r.Stdout, want)
	}
	if os.Geteuid() == 0 {
		// Root in the namespace can start a child as nobody: segment 0644's read-only
		// attach and detach must not destroy it before the read-write attempt.
		assert.Contains(t, r.Stdout, "this process holds an attachment of segment")
		assert.Regexp(t, `\(mode 0644, read-write\)\n.*-> EACCES`, r.Stdout)
	}
}

func TestPeekLeavesTheSegmentAlone(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 4096, 0o600)
	b := ipctest.Attach(t, id, 0)
	copy(b, "peek-me")

	r := ipctest.RunProgram(t, strconv.Itoa(id))

	require.Equal(t, 0, r.ExitCode, r.Stderr)
	assert.Contains(t, r.Stdout, "70 65 65 6b 2d 6d 65", "the hex of peek-me")
	assert.Contains(t, r.Stdout, "peek-me.........")
	assert.Contains(t, r.Stdout, "shm_nattch 2: ours included")
	assert.Contains(t, r.Stdout, "shm_nattch 1: ours is gone")
	assert.Equal(t, "peek-me", string(b[:7]))
	assert.Equal(t, 1, nattch(t, id))
}

// TestPeekRefusesWhereItsDetachWouldDestroy: with kernel.shm_rmid_forced 1, peeking
// at a segment nothing else has attached would destroy it at the detach.
func TestPeekRefusesWhereItsDetachWouldDestroy(t *testing.T) {
	ipctest.NoLeaks(t)
	setting := t.TempDir() + "/shm_rmid_forced"
	require.NoError(t, os.WriteFile(setting, []byte("1\n"), 0o600))
	old := procsysv.ShmRmidForcedPath
	procsysv.ShmRmidForcedPath = setting
	t.Cleanup(func() { procsysv.ShmRmidForcedPath = old })
	id := ipctest.NewSegment(t, 4096, 0o600)

	var out, errOut bytes.Buffer
	status := lesson.Run(name, usage, func(l *lesson.Lesson, _ []string) error { return peek(l, id) },
		nil, strings.NewReader(""), &out, &errOut)

	assert.Equal(t, lesson.ExitFailed, status)
	assert.Equal(t, fmt.Sprintf("%s: segment %d has nothing attached, and kernel.shm_rmid_forced is 1 here: detaching after the peek would destroy it, so the lesson leaves it alone\n", name, id), errOut.String())
	assert.Empty(t, out.String(), "nothing attached, nothing narrated")
	s, ok, err := procsysv.FindShm(id)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Zero(t, s.Atime, "never attached")
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
		{[]string{"-size", "x"}, lesson.ExitUsage, `invalid value "x" for flag -size`},
		{[]string{"-size", "10"}, lesson.ExitUsage, "-size 10 is too small"},
		{[]string{"abc"}, lesson.ExitUsage, `"abc" is not a segment id`},
		{[]string{"-5"}, lesson.ExitUsage, "flag provided but not defined: -5"},
		{[]string{"1", "2"}, lesson.ExitUsage, "too many arguments"},
		{[]string{"5", "-size", "100"}, lesson.ExitUsage, "-size comes after the arguments, where it is not read as a flag: flags come first (go run ./03-shmat -size 100 5)"},
		{[]string{"5", "-step"}, lesson.ExitUsage, "-step comes after the arguments, where it is not read as a flag: flags come first (go run ./03-shmat -step 5)"},
		{[]string{tooBig}, lesson.ExitUsage, fmt.Sprintf("%q is not a segment id", tooBig)},
		{[]string{strconv.Itoa(gone)}, lesson.ExitFailed, fmt.Sprintf("shmat(%d, NULL, SHM_RDONLY): EINVAL (invalid argument): no segment has id %d", gone, gone)},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ipctest.AssertOneLineError(t, ipctest.RunProgram(t, tt.args...), tt.exit, tt.stderr)
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	ipctest.AssertUsage(t, ipctest.RunProgram(t, "-h"), "usage: go run ./03-shmat", "-step", "Flags go before the arguments")
}

func TestCtrlCDuringStepRemovesTheSegment(t *testing.T) {
	ipctest.NoLeaks(t)
	p := ipctest.StartProgram(t, "-step")
	p.StepTo(t, 2) // step 1 created the segment; waiting for Enter before step 2
	m := regexp.MustCompile(`(?m)^-> id (\d+)$`).FindStringSubmatch(p.Stdout())
	require.NotNil(t, m, p.Stdout())
	id, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	_, exists, err := procsysv.FindShm(id)
	require.NoError(t, err)
	require.True(t, exists, "step 1 created segment %d", id)

	r := p.Interrupt(t)

	assert.Equal(t, lesson.ExitInterrupted, r.ExitCode)
	assert.Equal(t, name+": interrupt: cleaning up and exiting\n", r.Stderr, "the whole of stderr")
	_, exists, err = procsysv.FindShm(id)
	require.NoError(t, err)
	assert.False(t, exists, "Ctrl-C removed segment %d", id)
}

// TestCtrlCWhileAChildRuns: Ctrl-C in a terminal while step 12's waiter polls the
// flag: the terminal signals its whole foreground process group, but the learner
// reads one line, exit status 130, and the child is gone with the lesson.
func TestCtrlCWhileAChildRuns(t *testing.T) {
	ipctest.NoLeaks(t)
	r, child := ipctest.CtrlCWhileChildRuns(t, func() *ipctest.Proc { return ipctest.StartProgramInGroup(t) }, "two goroutines are polling the flag")
	assert.Equal(t, lesson.ExitInterrupted, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Equal(t, name+": interrupt: cleaning up and exiting\n", r.Stderr, "the whole of stderr")
	assert.True(t, ipctest.Gone(child), "the child (pid %d) ended before the lesson did", child)
}

// As root of a user namespace where only root exists (unshare -r --ipc, or a
// container), no one can be refused: the permission step says so.
func TestRootOfAUserNamespace(t *testing.T) {
	t.Parallel() // in an IPC namespace of its own: nothing of it is seen here
	r := ipctest.RunProgramAsNamespaceRoot(t)
	assert.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Empty(t, r.Stderr)
	assert.Contains(t, r.Stdout, "there is no one here to be refused")
}

// As root of a user namespace without an IPC namespace of its own (unshare -r), the
// process is uid 0 but its CAP_IPC_OWNER does not count for the segments it sees:
// the permission step shows EACCES on a segment of its own, and says why.
func TestRootOfAUserNamespaceWithoutItsOwnIPC(t *testing.T) {
	// In parallel with the two tests above, whose objects are in namespaces of their
	// own; the run's leak check covers this one's (NoLeaks is for sequential tests).
	t.Parallel()
	r := ipctest.RunProgramAsUserNamespaceRoot(t)
	assert.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Empty(t, r.Stderr)
	assert.Contains(t, r.Stdout, "(read-write: refused)\n-> EACCES (permission denied)")
	assert.Contains(t, r.Stdout, "This process is uid 0, yet it was refused: its CAP_IPC_OWNER does not count here")
	assert.NotContains(t, r.Stdout, "there is no one here to be refused")
}
