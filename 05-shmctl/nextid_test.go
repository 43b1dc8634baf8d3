//go:build linux

package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

// Started in the lesson's own IPC namespace, the next-id role refuses before it
// writes anything: the namespace holds the lesson's segment (here, one this test
// made). The test runs it without privilege (as nobody under root), so that even a
// broken check could not change the machine's shm_next_id.
func TestNextIDRefusesTheLessonsNamespace(t *testing.T) {
	ipctest.NoLeaks(t)
	before, err := readNextID()
	if err != nil {
		t.Skipf("no %s: %v", shmNextID, err)
	}
	id := ipctest.NewSegment(t, 1, 0o600) // the "lesson's" segment
	ipctest.AsRoleParent(t)
	args := []string{roleNextID, strconv.Itoa(wantedID)}
	var r ipctest.Result
	if os.Geteuid() == 0 {
		uid, gid := reexec.Nobody()
		r = ipctest.StartHelperAs(t, uid, gid, helperProgram, args...).Wait(t)
	} else {
		r = ipctest.RunProgram(t, args...)
	}
	ipctest.AssertOneLineError(t, r, 1, "only in a new IPC namespace of its own")
	assert.Regexp(t, `holds segment \d+ \(created by pid \d+`, r.Stderr)
	assert.Contains(t, r.Stderr, fmt.Sprintf("holds segment %d (created by pid %d, the lesson that started this process)", id, os.Getpid()),
		"it names the lesson's segment")
	assert.Empty(t, r.Stdout)
	after, err := readNextID()
	require.NoError(t, err)
	assert.Equal(t, before, after, "the machine's shm_next_id is unchanged")
}

// checkNextIDStep checks step 9 in the tour's output: where the machine lets the
// lesson make namespaces, the second process got the id it asked for.
func checkNextIDStep(t *testing.T, out string) {
	t.Helper()
	if _, err := os.Stat(shmNextID); err != nil {
		assert.Contains(t, out, "This kernel has no shm_next_id")
		return
	}
	if strings.Contains(out, "does not let this process make namespaces") {
		t.Log("step 9 was skipped: no namespaces here")
		return
	}
	assert.Regexp(t, `a second process, in a new (user and )?IPC namespace`, out)
	assert.Regexp(t, `-> id 0 = 0 × 32768 \+ 0: a new namespace starts at slot 0, seq 0\n`, out)
	assert.Contains(t, out, "echo 98311 > /proc/sys/kernel/shm_next_id\n")
	assert.Contains(t, out, "-> id 98311 = 3 × 32768 + 7: the id asked for\n")
	assert.Contains(t, out, "cat /proc/sys/kernel/shm_next_id -> -1: used once, then forgotten\n")
	checkForkCopiedAttachment(t, out)
}

// checkForkCopiedAttachment checks what step 9 and step 11 say of lpid. Without root,
// Go starts step 9's process with a real fork (for its user namespace), which copies
// the lesson's attachment: the child's execve detaches the copy, so lpid becomes the
// child's pid and det_time is set, and both steps must say why. As root, Go starts it
// with clone(CLONE_VM|CLONE_VFORK), and lpid stays the lesson's.
func checkForkCopiedAttachment(t *testing.T, out string) {
	t.Helper()
	m := regexp.MustCompile(`\[pid (\d+)\] in IPC namespace`).FindStringSubmatch(out)
	require.NotNil(t, m, "step 9's process says where it is:\n%s", out)
	child := m[1]
	m = regexp.MustCompile(`wrote "hello from pid (\d+)"`).FindStringSubmatch(out)
	require.NotNil(t, m, "step 2 names the lesson's pid:\n%s", out)
	lessonPid := m[1]
	rmid := out[strings.Index(out, "== 11. "):]
	if os.Geteuid() != 0 {
		assert.Contains(t, out, "lpid is "+child+", the second process, though it never called shmat.")
		assert.Regexp(t, `dropped it:\n   a detach by the child \(det_time \d\d:\d\d:\d\d, lpid its pid\)\. nattch is back to 1\.\n`, out)
		assert.Contains(t, rmid, "lpid="+child+"\tcpid="+lessonPid+"\t")
		assert.NotContains(t, rmid, "det_time=Not set")
		assert.Contains(t, rmid, "lpid is still "+child+", step 9's process: its fork copied our attachment")
		return
	}
	assert.Contains(t, out, "lpid is still "+lessonPid+", this process: the second process never touched our segment.")
	assert.Contains(t, rmid, "lpid="+lessonPid+"\tcpid="+lessonPid+"\t")
	assert.Contains(t, rmid, "det_time=Not set")
	assert.NotContains(t, rmid, "step 9's process")
}
