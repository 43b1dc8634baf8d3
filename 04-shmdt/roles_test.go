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

// roleArgs are arguments each role accepts, given one segment id.
func roleArgs(id int) map[string][]string {
	s := strconv.Itoa(id)
	return map[string][]string{
		roleTouchRecovering: {s},
		roleTouchFatal:      {s},
		roleAttachAndExit:   {s},
		roleAttachAndExec:   {s},
		roleAfterExec:       nil,
		roleCreateAndLeave:  nil,
	}
}

// segmentsCreatedBy counts the segments whose creator is pid.
func segmentsCreatedBy(t *testing.T, pid int) int {
	t.Helper()
	all, err := procsysv.ReadShm()
	require.NoError(t, err)
	n := 0
	for _, s := range all {
		if s.CPID == pid {
			n++
		}
	}
	return n
}

// TestRolesTypedByHandDoNothing: every role, typed by a person, is one line of usage
// error and exit status 2; it attaches nothing, creates nothing and prints nothing
// (before, create-and-leave leaked a segment and after-exec printed a false line).
func TestRolesTypedByHandDoNothing(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 4096, 0o600)
	for role, args := range roleArgs(id) {
		t.Run(role, func(t *testing.T) {
			p := ipctest.StartProgram(t, append([]string{role}, args...)...)
			r := p.Wait(t)

			ipctest.AssertOneLineError(t, r, lesson.ExitUsage,
				fmt.Sprintf("%q is a part this lesson plays as its own second process; it does not run when typed", role))
			assert.Empty(t, r.Stdout)
			assert.Zero(t, ipcStat(t, id).Atime, "nobody attached segment %d", id)
			assert.Zero(t, segmentsCreatedBy(t, p.Pid()), "no segment created")
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
		if len(args) == 0 {
			continue // after-exec and create-and-leave are given no segment
		}
		t.Run(role, func(t *testing.T) {
			r := ipctest.RunProgram(t, append([]string{role}, args...)...)

			ipctest.AssertOneLineError(t, r, lesson.ExitFailed,
				fmt.Sprintf("segment %d was created by pid %d, not by the lesson that started me", foreign, creator.CPID))
			assert.Zero(t, ipcStat(t, foreign).Atime, "nobody attached segment %d", foreign)
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
		{[]string{roleAttachAndExit}, "this role takes one segment id"},
		{[]string{roleTouchFatal, "x"}, `"x" is not a segment id`},
		{[]string{roleTouchFatal, tooBig}, fmt.Sprintf("%q is not a segment id", tooBig)},
		{[]string{roleCreateAndLeave, "1"}, "this role takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ipctest.AssertOneLineError(t, ipctest.RunProgram(t, tt.args...), lesson.ExitUsage, tt.stderr)
		})
	}
}
