//go:build linux

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// foreignSegment returns a segment of the lesson's size and mode 0666 made by another
// process (as `ipcmk -M 5000 -p 0666` would make one), removed after the test,
// and what IPC_STAT says of it now.
func foreignSegment(t *testing.T) (int, unix.SysvShmDesc) {
	t.Helper()
	id := ipctest.ForeignSegment(t, segSize, 0o666)
	ds, err := stat(id)
	require.NoError(t, err)
	require.NotEqual(t, os.Getpid(), int(ds.Cpid), "precondition: another process created it")
	return id, ds
}

// assertUntouched checks that nothing changed segment id since before: still there,
// same owner, mode and times, never attached.
func assertUntouched(t *testing.T, id int, before unix.SysvShmDesc) {
	t.Helper()
	after, err := stat(id)
	if !assert.NoError(t, err, "segment %d must still exist", id) {
		return
	}
	assert.Equal(t, before, after, "segment %d unchanged: owner, mode, times, nattch, lpid", id)
}

// Every role typed by hand is a one-line usage error that touches nothing, even
// with the id of a real segment (made here by another process, as ipcmk would).
func TestRolesTypedByHandAreRefused(t *testing.T) {
	ipctest.NoLeaks(t)
	id, before := foreignSegment(t)
	sid := strconv.Itoa(id)
	for _, args := range [][]string{
		{roleStranger, sid},
		{rolePeer, sid},
		{roleMemlockZero},
		{roleNextID, strconv.Itoa(wantedID)},
		{roleAltSysV, sid},
		{roleAltPosix, "/05-shmctl-1"},
		{roleAltMemfd, "/tmp/socket"},
		{roleAltInherit},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := ipctest.RunProgram(t, args...)
			ipctest.AssertOneLineError(t, r, 2, strconv.Quote(args[0])+" is a part this lesson plays as its own second process; it does not run when typed")
			assertUntouched(t, id, before)
		})
	}
}

// Started as the lesson starts them, the roles still act only on a segment their
// parent created: a foreign one is refused and left as it was. Their argument is
// checked too: an id must fit in a C int.
func TestRolesRefuseWhatTheLessonDidNotCreate(t *testing.T) {
	ipctest.NoLeaks(t)
	id, before := foreignSegment(t)
	sid := strconv.Itoa(id)
	gone, err := unix.SysvShmGet(unix.IPC_PRIVATE, segSize, unix.IPC_CREAT|0o600)
	require.NoError(t, err)
	require.NoError(t, shm.RemoveIfThere(gone))
	ipctest.AsRoleParent(t)
	for _, c := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{roleStranger, sid}, 1, "was created by pid"},
		{[]string{rolePeer, sid}, 1, "was created by pid"},
		{[]string{rolePeer, strconv.Itoa(gone)}, 1, fmt.Sprintf("no segment has id %d", gone)},
		{[]string{rolePeer}, 2, "peer takes one argument, a segment id"},
		{[]string{rolePeer, "x"}, 2, `peer: "x" is not a segment id`},
		{[]string{rolePeer, "4294967296"}, 2, `peer: "4294967296" is not a segment id`}, // 2^32 must not become 0
		{[]string{roleStranger, strings.Repeat("9", 5000)}, 2, `stranger: "` + strings.Repeat("9", 60) + "…" + strings.Repeat("9", 30) + `" (5000 bytes) is not a segment id`},
	} {
		name := strings.Join(c.args, " ")
		if len(name) > 50 {
			name = name[:50] + "..."
		}
		t.Run(name, func(t *testing.T) {
			ipctest.AssertOneLineError(t, ipctest.RunProgram(t, c.args...), c.status, c.stderr)
			assertUntouched(t, id, before)
		})
	}
}
