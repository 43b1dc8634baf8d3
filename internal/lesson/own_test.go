//go:build linux

package lesson

import (
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
)

// TestParentCreatedRefusesOthersSegments: a segment this process made is not its
// parent's; an id with no segment is refused too. (The lessons' role tests show the
// other side: a child's check passes for the segment its parent made.)
func TestParentCreatedRefusesOthersSegments(t *testing.T) {
	ipctest.NoLeaks(t)
	mine := ipctest.NewSegment(t, 4096, 0o600)
	gone := ipctest.NewSegment(t, 4096, 0o600)
	require.NoError(t, removeSegment(gone))

	err := ParentCreated(mine)
	assert.EqualError(t, err, fmt.Sprintf("segment %d was created by pid %d, not by the lesson that started me (pid %d): a role touches only its own lesson's segments", mine, os.Getpid(), os.Getppid()))
	assert.EqualError(t, ParentCreated(gone), fmt.Sprintf("no segment has id %d (ipcs -m lists them)", gone))
}

func removeSegment(id int) error {
	_, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	return err
}
