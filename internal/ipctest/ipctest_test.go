//go:build linux

package ipctest

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
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
	Main(m, nil)
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
