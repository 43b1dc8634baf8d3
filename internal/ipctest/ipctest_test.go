//go:build linux

package ipctest

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
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
	Helper("create-and-wait", func(args []string) int {
		id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 16, unix.IPC_CREAT|0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(id)
		_, _ = io.Copy(io.Discard, os.Stdin) // until the test closes stdin (or kills it)
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
	require.NoError(t, leaks[0].remove())
	leaks, err = leaked(before)
	require.NoError(t, err)
	assert.Empty(t, leaks, "remove must delete the leaked segment")
}

// A semaphore set that no process has operated on names no maker: it counts as
// the run's if the run claimed it (ClaimSet), or made it under a key UnusedKey gave
// the run while the key's test ran, and not otherwise.
func TestLeakedCountsUntouchedSetsOnlyByClaim(t *testing.T) {
	runsKey, _ := UnusedKey(t)
	// A key that was the run's, for a test that ended long ago: its file, and so
	// the key, may be anyone's since.
	pastKey := ftok.Key(int32(uint32(runsKey) ^ 0x00400000))
	logLine(fmt.Sprintf("key %d 100", uint32(pastKey)))
	logLine(fmt.Sprintf("keyend %d 200", uint32(pastKey)))
	for _, tc := range []struct {
		name  string
		key   int
		claim bool
		ours  bool
	}{
		{"private, unclaimed", unix.IPC_PRIVATE, false, false},
		{"private, claimed", unix.IPC_PRIVATE, true, true},
		{"under the run's key", int(runsKey), false, true},
		{"under a key of its own", int(runsKey) ^ 0x00800000, false, false},
		{"under a key the run had before", int(pastKey), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := snapshot()
			require.NoError(t, err)
			id, _, errno := unix.Syscall(unix.SYS_SEMGET, uintptr(tc.key), 1, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
			require.Zero(t, errno, "semget")
			t.Cleanup(func() { _, _, _ = unix.Syscall(unix.SYS_SEMCTL, id, 0, unix.IPC_RMID) })
			if tc.claim {
				ClaimSet(int(id))
			}
			leaks, err := leaked(before)
			require.NoError(t, err)
			var ids []int
			for _, o := range leaks {
				ids = append(ids, o.id)
			}
			if tc.ours {
				assert.Equal(t, []int{int(id)}, ids)
			} else {
				assert.Empty(t, ids)
			}
		})
	}
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

// A pid in the run's log that another process holds now is not the run's: pids are
// reused. The leak check goes by pid and start time, so another program's segment is
// not counted (nor removed) even if its creator got a pid the run once had.
func TestLeakedTellsProcessesByStartTime(t *testing.T) {
	before, err := snapshot()
	require.NoError(t, err)
	outside := exec.Command(os.Args[0]) // not in the run's log
	for _, kv := range withoutHelper() {
		if !strings.HasPrefix(kv, envPidFile+"=") {
			outside.Env = append(outside.Env, kv)
		}
	}
	outside.Env = append(outside.Env, envHelper+"=create-and-wait")
	p := start(t, outside, "a process outside the run")
	id, err := strconv.Atoi(p.Expect(t, "", Timeout))
	require.NoError(t, err)
	defer unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	started, ok := procStart(p.Pid())
	require.True(t, ok)

	leakedIDs := func() []int {
		leaks, err := leaked(before)
		require.NoError(t, err)
		var ids []int
		for _, o := range leaks {
			ids = append(ids, o.id)
		}
		return ids
	}
	logAs := func(pid int, start uint64) {
		f, err := os.OpenFile(os.Getenv(envPidFile), os.O_WRONLY|os.O_APPEND, 0)
		require.NoError(t, err)
		fmt.Fprintf(f, "%d %d\n", pid, start)
		require.NoError(t, f.Close())
	}

	logAs(p.Pid(), started-1) // an earlier process of the run had this pid
	assert.NotContains(t, leakedIDs(), id, "the pid's new holder made the segment: not ours")
	logAs(p.Pid(), started) // as if the process were the run's
	assert.Contains(t, leakedIDs(), id, "the very process (pid and start time) is the run's")
	require.NoError(t, p.Stdin.Close())
	require.Equal(t, 0, p.Wait(t).ExitCode)
	assert.Contains(t, leakedIDs(), id, "the run's process has ended: what it made is still the run's")
}

func TestDid(t *testing.T) {
	self := os.Getpid()
	now, ok := procStart(self)
	require.True(t, ok)
	startedAt := startSeconds(now)
	gone := unusedPid(t)
	tests := []struct {
		name string
		pids runPids
		pid  int
		t    int64
		want bool
	}{
		{"a pid not in the log", runPids{}, self, startedAt, false},
		{"the logged process, still running", runPids{self: {now}}, self, startedAt, true},
		{"another process has the pid now; the object is older", runPids{self: {now - 500}}, self, startedAt - 2, true},
		{"another process has the pid now; the object is not older", runPids{self: {now - 500}}, self, startedAt, false},
		{"the logged process has ended", runPids{gone: {1}}, gone, startedAt, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.pids.did(tt.pid, tt.t))
		})
	}
}

// unusedPid returns a pid that no process has now.
func unusedPid(t *testing.T) int {
	for pid := 1 << 22; pid > 1; pid-- {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			return pid
		}
	}
	t.Fatal("every pid is taken")
	return 0
}

// The tests run in an IPC namespace of their own: root's in one the supervisor
// made, an ordinary user's in one made with a user namespace that maps only that
// user, who keeps no capability there. Where there is none, they hold the lock that
// the course's test runs in a shared namespace take turns on. Either way their
// temporary files go to a directory of the run's own.
func TestWhereTheTestsRun(t *testing.T) {
	assert.True(t, strings.HasPrefix(filepath.Base(os.TempDir()), "shm-course-test-"), "TMPDIR is the run's: %s", os.TempDir())
	assert.True(t, strings.HasPrefix(t.TempDir(), os.TempDir()+"/"), "t.TempDir is in it")
	if os.Geteuid() != 0 && insideOwnNamespace() {
		// The wrapper outside is beyond this user namespace's view (/proc/PID/ns of
		// a process there: EACCES). What proves the IPC namespace new is its owner:
		// this user namespace, which only a new IPC namespace made with it can have.
		uid, gid := os.Geteuid(), os.Getegid()
		for file, want := range map[string]string{"uid_map": fmt.Sprintf("%d %d 1", uid, uid), "gid_map": fmt.Sprintf("%d %d 1", gid, gid)} {
			m, err := os.ReadFile("/proc/self/" + file)
			require.NoError(t, err)
			assert.Equal(t, want, strings.Join(strings.Fields(string(m)), " "), "%s maps this user to itself and nobody else", file)
		}
		status, err := os.ReadFile("/proc/self/status")
		require.NoError(t, err)
		assert.Contains(t, string(status), "\nCapEff:\t0000000000000000\n", "no capability")
		ipc, err := os.Open("/proc/self/ns/ipc")
		require.NoError(t, err)
		defer ipc.Close()
		owner, err := unix.IoctlRetInt(int(ipc.Fd()), unix.NS_GET_USERNS)
		require.NoError(t, err, "ioctl(NS_GET_USERNS) on the IPC namespace")
		defer unix.Close(owner)
		var ownerStat, ours unix.Stat_t
		require.NoError(t, unix.Fstat(owner, &ownerStat))
		require.NoError(t, unix.Stat("/proc/self/ns/user", &ours))
		assert.Equal(t, ours.Ino, ownerStat.Ino, "the IPC namespace belongs to this user namespace")
		return
	}
	if insideOwnNamespace() {
		// The supervisor (the parent) made the namespace; its own parent (go test)
		// is in the one the run was started in.
		self, err := os.Readlink("/proc/self/ns/ipc")
		require.NoError(t, err)
		fields, ok := procStat(os.Getppid())
		require.True(t, ok)
		outside, err := os.Readlink("/proc/" + fields[1] + "/ns/ipc")
		require.NoError(t, err)
		assert.NotEqual(t, outside, self, "the tests run in another IPC namespace than the one the run was started in")
		return
	}
	if os.Geteuid() == 0 && os.Getenv(envNamespace) != "off" {
		t.Log("the kernel refused this root test run a namespace of its own")
	}
	f, err := os.Open(lockPath)
	require.NoError(t, err)
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	assert.ErrorIs(t, err, unix.EWOULDBLOCK, "this test run holds %s", lockPath)
}

func TestForeignSegment(t *testing.T) {
	var id int
	t.Run("made", func(t *testing.T) {
		id = ForeignSegment(t, 100, 0o640)
		s, ok, err := procsysv.FindShm(id)
		require.NoError(t, err)
		require.True(t, ok, "segment %d exists while the test runs", id)
		assert.NotEqual(t, os.Getpid(), s.CPID, "another process created it")
		assert.EqualValues(t, 100, s.Size)
		assert.Equal(t, "0640", fmt.Sprintf("%#o", s.Mode&0o777))
	})
	_, ok, err := procsysv.FindShm(id)
	require.NoError(t, err)
	assert.False(t, ok, "segment %d is removed when the test ends", id)
}

// A leak report says whether the object was really removed, and if not, how to.
func TestRemoveNowSaysWhatHappened(t *testing.T) {
	id := NewSegment(t, 64, 0o600)
	assert.Equal(t, "removed now", object{kind: "shm", id: id}.removeNow())
	assert.Equal(t, fmt.Sprintf("could not remove it: invalid argument; as its owner or root: ipcrm -m %d", id),
		object{kind: "shm", id: id}.removeNow(), "a second removal fails, and the report says so")
	assert.Equal(t, "could not remove it: invalid argument; as its owner or root: ipcrm -s -1", object{kind: "sem", id: -1}.removeNow(), "a semaphore set's command (-1: no set has it)")
}

// Packages that run alongside others (Alongside) share the course-wide lock with
// each other, while a second run of the same package, and a package that needs the
// namespace to itself, wait.
func TestLocksAlongside(t *testing.T) {
	course := filepath.Join(t.TempDir(), "tests.lock")
	took := func(alongside bool, pkg string) <-chan func() {
		c := make(chan func(), 1)
		go func() { c <- takeLocks(course, alongside, pkg) }()
		return c
	}
	waits := func(c <-chan func(), what string) {
		t.Helper()
		select {
		case unlock := <-c:
			unlock()
			t.Fatalf("%s did not wait", what)
		case <-time.After(200 * time.Millisecond):
		}
	}
	gets := func(c <-chan func(), what string) func() {
		t.Helper()
		select {
		case unlock := <-c:
			return unlock
		case <-time.After(5 * time.Second):
			t.Fatalf("%s waited", what)
			return nil
		}
	}
	unlockA := gets(took(true, "a"), "package a alongside")
	unlockB := gets(took(true, "b"), "package b alongside, beside a")
	secondA := took(true, "a")
	waits(secondA, "a second run of package a")
	alone := took(false, "c")
	waits(alone, "package c, which needs the namespace to itself")
	unlockA()
	unlockSecondA := gets(secondA, "the second run of a, once the first has ended")
	unlockB()
	unlockSecondA()
	gets(alone, "package c, once the others have ended")()
}
