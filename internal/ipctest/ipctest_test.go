//go:build linux

package ipctest

import (
	"fmt"
	"os"
	"strconv"
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
