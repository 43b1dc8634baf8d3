//go:build linux

package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
)

// roleArgs are arguments each role accepts, given one segment id of ours.
func roleArgs(id int) map[string][]string {
	s := strconv.Itoa(id)
	return map[string][]string{
		roleAttacher:       {s},
		roleReadOnlyWriter: {s},
		roleOtherUser:      {s, s},
		roleReader:         {s},
		roleWaiter:         {s},
		roleCounter:        {s},
		rolePointerReader:  {s},
	}
}

// TestRolesTypedByHandDoNothing: every role, typed by a person, is one line of usage
// error and exit status 2, and its segment is not touched.
func TestRolesTypedByHandDoNothing(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 4096, 0o600)
	for role, args := range roleArgs(id) {
		t.Run(role, func(t *testing.T) {
			r := ipctest.RunProgram(t, append([]string{role}, args...)...)

			ipctest.AssertOneLineError(t, r, lesson.ExitUsage,
				fmt.Sprintf("%q is a part this lesson plays as its own second process; it does not run when typed", role))
			assert.Empty(t, r.Stdout)
			s, ok, err := procsysv.FindShm(id)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Zero(t, s.Atime, "nobody attached segment %d", id)
		})
	}
	require.Len(t, roles, len(roleArgs(id)), "every role is tested")
}

// TestRolesLeaveOtherProgramsSegmentsAlone: started properly, but handed the id of a
// segment its lesson did not create, a role refuses before it attaches.
func TestRolesLeaveOtherProgramsSegmentsAlone(t *testing.T) {
	ipctest.NoLeaks(t)
	foreign := ipctest.ForeignSegment(t, 4096, 0o600)
	creator, ok, err := procsysv.FindShm(foreign)
	require.NoError(t, err)
	require.True(t, ok)
	ipctest.AsRoleParent(t)

	for role, args := range roleArgs(foreign) {
		t.Run(role, func(t *testing.T) {
			r := ipctest.RunProgram(t, append([]string{role}, args...)...)

			ipctest.AssertOneLineError(t, r, lesson.ExitFailed,
				fmt.Sprintf("segment %d was created by pid %d, not by the lesson that started me", foreign, creator.CPID))
			s, ok, err := procsysv.FindShm(foreign)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Zero(t, s.Atime, "nobody attached segment %d", foreign)
		})
	}
}

func TestRoleArguments(t *testing.T) {
	ipctest.NoLeaks(t)
	live := ipctest.NewSegment(t, 4096, 0o600)
	tooBig := strconv.Itoa(live + 1<<32)
	ipctest.AsRoleParent(t)
	tests := []struct {
		args   []string
		stderr string
	}{
		{[]string{roleAttacher, "x"}, `"x" is not a segment id`},
		{[]string{roleAttacher}, "this role takes 1 segment id(s)"},
		{[]string{roleAttacher, tooBig}, fmt.Sprintf("%q is not a segment id", tooBig)},
		{[]string{roleOtherUser, "1"}, "this role takes 2 segment id(s)"},
		{[]string{roleCounter, "1", "2"}, "this role takes 1 segment id(s)"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ipctest.AssertOneLineError(t, ipctest.RunProgram(t, tt.args...), lesson.ExitUsage, tt.stderr)
		})
	}
}

// TestTheLessonsOwnChildrenRun: the lesson's children pass the checks: reexec sets
// their parent's pid, and the parent created their segment.
func TestTheLessonsOwnChildrenRun(t *testing.T) {
	ipctest.NoLeaks(t)
	out := inLesson(t, func(l *lesson.Lesson) error {
		tr := &tour{l: l, size: 4096}
		if err := tr.create(); err != nil {
			return err
		}
		if err := tr.attachTwice(); err != nil {
			return err
		}
		if err := tr.layOut(); err != nil {
			return err
		}
		if err := tr.shareWithChild(); err != nil {
			return err
		}
		return tr.detachAll()
	})
	assert.Contains(t, out, "shm_nattch 3: three attachments, two processes")
	assert.Contains(t, out, "-> removed.")
}

// TestRolesGiveUpWhenTheParentGoesAway: a role waiting for its parent's word ends
// when the parent's end of the pipe closes; none is left running, attached.
func TestRolesGiveUpWhenTheParentGoesAway(t *testing.T) {
	ipctest.NoLeaks(t)
	id, _, _ := newLaidOutSegment(t, "x")
	ipctest.AsRoleParent(t)
	tests := []struct {
		role   string
		stderr string
	}{
		{roleWaiter, "the parent went away before setting the flag"},
		{roleCounter, "the parent went away before saying GO"},
	}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			p := ipctest.StartProgram(t, tt.role, strconv.Itoa(id))
			p.Expect(t, "@@ READY", wait)

			r := p.Wait(t) // closes its standard input, as a parent that dies does

			ipctest.AssertOneLineError(t, r, lesson.ExitFailed, tt.stderr)
			assert.Equal(t, 1, nattch(t, id), "only the test's own attachment is left")
		})
	}
}
