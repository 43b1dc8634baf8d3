//go:build linux

package orphans

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/caps"
	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

func TestMain(m *testing.M) {
	ipctest.Helper("create", helperCreate)
	ipctest.Helper("attach", helperAttach)
	ipctest.Helper("find", helperFind)
	ipctest.Main(m, nil)
}

// helperCreate creates a segment, prints its id and exits; with "stay" it waits
// until its standard input is closed first (a creator that is still alive). With
// "zombie" it has a child process create the segment instead, waits for that child
// to exit without reaping it (waitid with WNOWAIT), prints the id and the child's
// pid, and stays until its standard input is closed: the creator is a zombie.
func helperCreate(args []string) int {
	if len(args) > 0 && args[0] == "zombie" {
		return createByZombie()
	}
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 64, unix.IPC_CREAT|0o600)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("id", id)
	if len(args) > 0 && args[0] == "stay" {
		_, _ = io.Copy(io.Discard, os.Stdin)
	}
	return 0
}

func createByZombie() int {
	child := exec.Command(os.Args[0]) // this helper again (its environment says which), without arguments
	out, err := child.StdoutPipe()
	if err == nil {
		err = child.Start()
	}
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, child.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		fmt.Println("error: waitid:", err)
		return 1
	}
	fmt.Print(line)
	fmt.Println("zombie", child.Process.Pid)
	_, _ = io.Copy(io.Discard, os.Stdin) // never calls child.Wait: the child stays a zombie
	return 0
}

// helperAttach attaches segment args[0] and stays attached until its standard
// input is closed.
func helperAttach(args []string) int {
	id, _ := strconv.Atoi(args[0])
	b, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("attached")
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = unix.SysvShmDetach(b)
	return 0
}

// helperFind runs Find on segment args[0] and prints its error, and whether the
// error wraps EACCES; or "found" and the ids found. Running it in a separate process
// lets the test run it as a user who may not read the segment.
func helperFind(args []string) int {
	id, _ := strconv.Atoi(args[0])
	found, err := Find([]int{id})
	if err != nil {
		fmt.Println("error:", err)
		fmt.Println("wraps EACCES:", errors.Is(err, unix.EACCES))
		return 0
	}
	fmt.Println("found", found)
	return 0
}

// removeAtEnd removes segment id when the test ends, whatever Find did.
func removeAtEnd(t *testing.T, id int) {
	t.Cleanup(func() { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
}

// createdByExitedProcess returns a segment whose creator has exited.
func createdByExitedProcess(t *testing.T) int {
	t.Helper()
	r := ipctest.RunHelper(t, "create")
	require.Equal(t, 0, r.ExitCode, "helper create: %s", r.Stdout)
	id, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(r.Stdout, "id ")))
	require.NoError(t, err, "helper create printed %q", r.Stdout)
	removeAtEnd(t, id)
	return id
}

// createdByLiveProcess returns a segment whose creator is still running.
func createdByLiveProcess(t *testing.T) int {
	t.Helper()
	p := ipctest.StartHelper(t, "create", "stay")
	line := p.Expect(t, "id ", 5*time.Second)
	id, err := strconv.Atoi(strings.TrimPrefix(line, "id "))
	require.NoError(t, err)
	removeAtEnd(t, id)
	return id
}

// createdByZombie returns a segment whose creator has exited but is still a
// zombie: its parent, a helper that runs until the test ends, has not reaped it.
func createdByZombie(t *testing.T) int {
	t.Helper()
	p := ipctest.StartHelper(t, "create", "zombie")
	line := p.Expect(t, "id ", 10*time.Second)
	id, err := strconv.Atoi(strings.TrimPrefix(line, "id "))
	require.NoError(t, err, "helper create zombie printed %q", line)
	removeAtEnd(t, id)
	pid, err := strconv.Atoi(strings.TrimPrefix(p.Expect(t, "zombie ", 10*time.Second), "zombie "))
	require.NoError(t, err)
	require.NoError(t, unix.Kill(pid, 0), "kill(%d, 0) succeeds for a zombie: it exists until its parent reaps it", pid)
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	require.Contains(t, string(stat), ") Z ", "the creator must be a zombie (state Z in /proc/%d/stat)", pid)
	return id
}

// A case is one segment set up some way, and whether Find must report it.
type findCase struct {
	name   string
	setup  func(t *testing.T) int
	orphan bool
	why    string
}

var cases = []findCase{
	{
		name:   "creator exited, nobody attached",
		setup:  createdByExitedProcess,
		orphan: true,
		why:    "its creator is gone and shm_nattch is 0: nobody will ever detach it or remove it",
	},
	{
		name: "creator exited, this process attached",
		setup: func(t *testing.T) int {
			id := createdByExitedProcess(t)
			ipctest.Attach(t, id, 0)
			return id
		},
		why: "shm_nattch is 1: a live process still uses it",
	},
	{
		name: "creator exited, another process attached",
		setup: func(t *testing.T) int {
			id := createdByExitedProcess(t)
			p := ipctest.StartHelper(t, "attach", strconv.Itoa(id))
			p.Expect(t, "attached", 5*time.Second)
			return id
		},
		why: "shm_nattch is 1: another process still uses it",
	},
	{
		name:   "creator exited but is a zombie, nobody attached",
		setup:  createdByZombie,
		orphan: true,
		why: "its creator has exited; only its exit status waits to be collected by its parent (a zombie). kill(pid, 0) still succeeds " +
			"for a zombie, so look at its state too: the letter after the ')' in /proc/PID/stat is Z",
	},
	{
		name:  "creator is this process, nobody attached",
		setup: func(t *testing.T) int { return ipctest.NewSegment(t, 64, 0o600) },
		why:   "its creator (shm_cpid, this test process) is alive and may attach again",
	},
	{
		name:  "creator is another live process, nobody attached",
		setup: createdByLiveProcess,
		why:   "its creator (shm_cpid) is still running: ask kill(pid, 0), ESRCH means gone",
	},
}

func TestFindEachCase(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			id := tc.setup(t)
			got, err := Find([]int{id})
			require.NoError(t, err, "Find([%d])", id)
			if tc.orphan {
				assert.Equal(t, []int{id}, got, "segment %d is an orphan: %s", id, tc.why)
			} else {
				assert.Empty(t, got, "segment %d is not an orphan: %s", id, tc.why)
			}
		})
	}
}

func TestFindKeepsOrderAndSkipsMissing(t *testing.T) {
	ipctest.NoLeaks(t)
	var ids, want []int
	for _, tc := range cases {
		id := tc.setup(t)
		ids = append(ids, id)
		if tc.orphan {
			want = append(want, id)
		}
	}
	second := createdByExitedProcess(t) // a second orphan, to check the order
	gone := createdByExitedProcess(t)
	_, err := unix.SysvShmCtl(gone, unix.IPC_RMID, nil)
	require.NoError(t, err)
	ids = append([]int{second, gone}, ids...)
	want = append([]int{second}, want...)

	got, err := Find(ids)
	require.NoError(t, err, "Find(%v): an id whose segment was removed (%d) must be skipped, not an error: shmctl answers EINVAL for it", ids, gone)
	assert.Equal(t, want, got, "Find(%v) must return the orphans in the order of its argument", ids)
}

// A segment Find may not read: IPC_STAT answers EACCES, so Find cannot tell whether
// it is an orphan. That is an error, not a skip: whoever asked about that id must
// learn that it was not checked.
func TestFindUnreadable(t *testing.T) {
	ipctest.NoLeaks(t)
	if !caps.Has(unix.CAP_IPC_OWNER) {
		// Mode 0000: not even its owner may read it.
		id := ipctest.NewSegment(t, 64, 0o000)
		_, err := Find([]int{id})
		require.Error(t, err, "Find([%d]) on a segment it may not read must return an error, not skip it", id)
		assert.NotContains(t, err.Error(), "TODO", "Find still returns the stub's error")
		assert.ErrorIs(t, err, unix.EACCES, "IPC_STAT says EACCES (no read permission): wrap it with %%w")
		assert.Regexp(t, `\b`+strconv.Itoa(id)+`\b`, err.Error(), "the error says which id could not be read")
		return
	}
	// This process has CAP_IPC_OWNER (root), which reads every segment: Find runs as
	// nobody, on a segment of this process with mode 0600.
	id := ipctest.NewSegment(t, 64, 0o600)
	uid, gid := reexec.Nobody()
	r := ipctest.StartHelperAs(t, uid, gid, "find", strconv.Itoa(id)).Wait(t)
	require.Equal(t, 0, r.ExitCode, "helper find as nobody: %s%s", r.Stdout, r.Stderr)
	require.Contains(t, r.Stdout, "error: ", "Find([%d]) run by nobody on another user's segment of mode 0600 must return an error, not skip it", id)
	assert.NotContains(t, r.Stdout, "TODO", "Find still returns the stub's error")
	assert.Contains(t, r.Stdout, "wraps EACCES: true", "IPC_STAT says EACCES (no read permission): wrap it with %%w:\n%s", r.Stdout)
	assert.Regexp(t, `error: .*\b`+strconv.Itoa(id)+`\b`, r.Stdout, "the error says which id could not be read")
}

func TestFindEmpty(t *testing.T) {
	got, err := Find(nil)
	require.NoError(t, err, "Find(nil)")
	assert.Empty(t, got, "no ids, no orphans")
}

// Find is a report: it must not attach (which changes shm_nattch, shm_atime and
// shm_lpid) and must not remove anything.
func TestFindOnlyLooks(t *testing.T) {
	ipctest.NoLeaks(t)
	orphan := createdByExitedProcess(t)
	live := ipctest.NewSegment(t, 64, 0o600)
	before := map[int]unix.SysvShmDesc{orphan: stat(t, orphan), live: stat(t, live)}

	_, err := Find([]int{orphan, live})
	require.NoError(t, err)
	for id, old := range before {
		var now unix.SysvShmDesc
		_, err := unix.SysvShmCtl(id, unix.IPC_STAT, &now)
		require.NoError(t, err, "segment %d no longer exists after Find: Find must only look; removing is the job of a cleaner (lesson 05)", id)
		assert.Equal(t, old.Atime, now.Atime, "segment %d was attached by Find (shm_atime changed): use shmctl(IPC_STAT) or /proc/sysvipc/shm, they need no attachment", id)
		assert.Equal(t, old.Lpid, now.Lpid, "segment %d: shm_lpid changed, so Find attached or detached it", id)
		assert.Equal(t, old.Nattch, now.Nattch, "segment %d: Find left an attachment behind", id)
	}
}

func stat(t *testing.T, id int) unix.SysvShmDesc {
	t.Helper()
	var ds unix.SysvShmDesc
	_, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds)
	require.NoError(t, err)
	return ds
}
