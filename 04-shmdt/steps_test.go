//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/shm"
)

func TestDetachDropsNattchAndSetsDtime(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 4096, 0o600)
	start := kernelSecondsBefore()
	b, err := unix.SysvShmAttach(id, 0, 0)
	require.NoError(t, err)
	copy(b, "kept")

	before := ipcStat(t, id)
	require.NoError(t, unix.SysvShmDetach(b))
	after := ipcStat(t, id)

	assert.EqualValues(t, 1, before.Nattch)
	assert.EqualValues(t, 0, before.Dtime, "never detached yet")
	assert.EqualValues(t, 0, after.Nattch)
	assert.GreaterOrEqual(t, int64(after.Dtime), start, "shm_dtime is set to the time of the detach")
	assert.EqualValues(t, os.Getpid(), after.Lpid, "shm_lpid is the detaching process")

	assert.True(t, exists(t, id), "the last detach of a segment nobody marked with IPC_RMID does not destroy it")
	again := ipctest.Attach(t, id, unix.SHM_RDONLY)
	assert.Equal(t, "kept", string(again[:4]), "and the bytes stay")
}

func TestLastDetachOfAMarkedSegmentDestroysIt(t *testing.T) {
	tests := []struct {
		name        string
		attachments int // how many attachments the segment has when IPC_RMID marks it
	}{
		{"one attachment: its shmdt destroys the segment", 1},
		{"two attachments: only the second shmdt destroys it", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			id := ipctest.NewSegment(t, 4096, 0o600)
			var attached [][]byte
			for i := 0; i < tt.attachments; i++ {
				b, err := unix.SysvShmAttach(id, 0, 0)
				require.NoError(t, err)
				attached = append(attached, b)
			}
			require.NoError(t, shm.Remove(id))
			assert.NotZero(t, ipcStat(t, id).Perm.Mode&shmDest, "IPC_RMID while attached marks the segment")

			for i, b := range attached {
				require.True(t, exists(t, id), "before detach %d of %d the marked segment is still there", i+1, len(attached))
				require.NoError(t, unix.SysvShmDetach(b))
			}
			assert.False(t, exists(t, id), "the last shmdt destroyed the marked segment")
		})
	}
}

func TestLastDetachStep(t *testing.T) {
	ipctest.NoLeaks(t)
	out := inLesson(t, func(l *lesson.Lesson) error {
		tr := &tour{l: l}
		if err := tr.markWhileAttached(); err != nil {
			return err
		}
		return tr.lastDetachDestroys()
	})
	assert.Contains(t, out, "SHM_DEST (01000) is set")
	assert.Contains(t, out, "this shmdt destroyed it")
}

func TestDetachNeedsTheSliceThatStartsAtTheAttachAddress(t *testing.T) {
	page := os.Getpagesize()
	tests := []struct {
		name    string
		slice   func(b []byte) []byte
		wantErr error
	}{
		{"b[10:] is not page-aligned", func(b []byte) []byte { return b[10:] }, unix.EINVAL},
		{"b[page:] is aligned but no attachment starts there", func(b []byte) []byte { return b[page:] }, unix.EINVAL},
		{"b[:0] is empty: x/sys refuses it", func(b []byte) []byte { return b[:0] }, unix.EINVAL},
		{"nil", func([]byte) []byte { return nil }, unix.EINVAL},
		{"b[:10] starts at the attach address: only that counts", func(b []byte) []byte { return b[:10] }, nil},
		{"b itself", func(b []byte) []byte { return b }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			id := ipctest.NewSegment(t, 2*page, 0o600)
			b, err := unix.SysvShmAttach(id, 0, 0)
			require.NoError(t, err)

			err = unix.SysvShmDetach(tt.slice(b))

			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				assert.EqualValues(t, 1, ipcStat(t, id).Nattch, "a failed shmdt leaves the attachment")
				require.NoError(t, unix.SysvShmDetach(b))
				return
			}
			assert.NoError(t, err)
			assert.EqualValues(t, 0, ipcStat(t, id).Nattch, "the whole attachment is gone")
			assert.ErrorIs(t, unix.SysvShmDetach(b), unix.EINVAL, "detaching twice: nothing is attached there")
		})
	}
}

func TestExitDetaches(t *testing.T) {
	tests := []struct {
		name string
		end  func(t *testing.T, p *ipctest.Proc)
	}{
		{"returns from main", func(t *testing.T, p *ipctest.Proc) { require.NoError(t, p.Stdin.Close()) }},
		{"killed by SIGKILL", func(t *testing.T, p *ipctest.Proc) { p.Signal(t, syscall.SIGKILL) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			id := ipctest.NewSegment(t, 4096, 0o600)
			ipctest.AsRoleParent(t)
			start := kernelSecondsBefore()
			p := ipctest.StartProgram(t, roleAttachAndExit, strconv.Itoa(id))
			p.Expect(t, "@@ READY", wait)
			attached := ipcStat(t, id)

			tt.end(t, p)
			p.Wait(t)
			gone := ipcStat(t, id)

			assert.EqualValues(t, 1, attached.Nattch)
			assert.EqualValues(t, p.Pid(), attached.Lpid)
			assert.EqualValues(t, 0, gone.Nattch, "the kernel detached the segment when the process ended")
			assert.EqualValues(t, p.Pid(), gone.Lpid, "the detach at exit is the child's")
			assert.GreaterOrEqual(t, int64(gone.Dtime), start)
		})
	}
}

func TestExecDetaches(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 4096, 0o600)
	ipctest.AsRoleParent(t)
	p := ipctest.StartProgram(t, roleAttachAndExec, strconv.Itoa(id))
	p.Expect(t, "@@ READY", wait)
	require.EqualValues(t, 1, ipcStat(t, id).Nattch)

	_, err := p.Stdin.Write([]byte("exec\n"))
	require.NoError(t, err)
	fields := protocol(t, p.Expect(t, "@@ EXECED", wait), "EXECED")

	assert.Equal(t, []string{strconv.Itoa(p.Pid())}, fields, "the same process")
	select {
	case <-p.Done():
		t.Fatal("the child should still be running")
	default:
	}
	ds := ipcStat(t, id)
	assert.EqualValues(t, 0, ds.Nattch, "exec detached the segment from the still-running process")
	assert.EqualValues(t, p.Pid(), ds.Lpid, "the detach at exec is the process's own")
	r := p.Wait(t)
	assert.Equal(t, 0, r.ExitCode, r.Stderr)
	assert.Empty(t, r.Stderr)
}

func TestTouchAfterDetachFaults(t *testing.T) {
	tests := []struct {
		role   string
		exit   int
		stdout []string
		stderr []string
	}{
		{roleTouchRecovering, 0, []string{"recovered a panic: runtime error: invalid memory address", "at %s: the detached address"}, nil},
		{roleTouchFatal, 2, nil, []string{"unexpected fault address %s", "fatal error: fault", "code=0x1 addr=%s"}},
	}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			ipctest.NoLeaks(t)
			id := ipctest.NewSegment(t, 4096, 0o600)
			ipctest.AsRoleParent(t)

			r := ipctest.RunProgram(t, tt.role, strconv.Itoa(id))

			assert.Equal(t, tt.exit, r.ExitCode, r.Stderr)
			m := regexp.MustCompile(`(?m)^@@ ADDR (0x[0-9a-f]+)$`).FindStringSubmatch(r.Stdout)
			require.NotNil(t, m, r.Stdout)
			detached := m[1] // the fault must be at the address that was detached
			for _, s := range tt.stdout {
				assert.Contains(t, r.Stdout, strings.ReplaceAll(s, "%s", detached))
			}
			for _, s := range tt.stderr {
				assert.Contains(t, r.Stderr, strings.ReplaceAll(s, "%s", detached))
			}
			if tt.exit == 0 {
				assert.Empty(t, r.Stderr)
			}
			assert.NotContains(t, r.Stdout, "without a fault")
		})
	}
}

func TestSegmentOutlivesItsCreator(t *testing.T) {
	ipctest.NoLeaks(t)
	ipctest.AsRoleParent(t)
	p := ipctest.StartProgram(t, roleCreateAndLeave)
	fields := protocol(t, p.Expect(t, "@@ CREATED", wait), "CREATED")
	require.Len(t, fields, 1)
	id, err := strconv.Atoi(fields[0])
	require.NoError(t, err)
	t.Cleanup(func() { _ = shm.RemoveIfThere(id) })
	_, err = p.Stdin.Write([]byte("go\n"))
	require.NoError(t, err)
	r := p.Wait(t)
	require.Equal(t, 0, r.ExitCode, r.Stderr)
	assert.Empty(t, r.Stderr)

	s, ok, err := procsysv.FindShm(id)
	require.NoError(t, err)
	require.True(t, ok, "the segment is still listed after its creator exited")
	assert.Equal(t, p.Pid(), s.CPID)
	assert.Equal(t, 0, s.Nattch)
	assert.NoDirExists(t, fmt.Sprintf("/proc/%d", p.Pid()), "the creator is gone")
	b, err := unix.SysvShmAttach(id, 0, unix.SHM_RDONLY)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("left here by pid %d", p.Pid()), strings.TrimRight(string(b[:64]), "\x00"))
	require.NoError(t, unix.SysvShmDetach(b))

	require.NoError(t, shm.Remove(id)) // what ipcrm -m ID does
	assert.False(t, exists(t, id), "IPC_RMID with nothing attached destroys it at once")
}

func TestCreatorRemovesItsSegmentIfTheParentGoesAway(t *testing.T) {
	ipctest.NoLeaks(t)
	ipctest.AsRoleParent(t)
	p := ipctest.StartProgram(t, roleCreateAndLeave)
	fields := protocol(t, p.Expect(t, "@@ CREATED", wait), "CREATED")
	require.Len(t, fields, 1)
	id, err := strconv.Atoi(fields[0])
	require.NoError(t, err)

	r := p.Wait(t) // closes stdin without "go": the parent went away

	assert.Equal(t, 1, r.ExitCode)
	assert.Equal(t, fmt.Sprintf("%s: the parent went away; removed segment %d\n", name, id), r.Stderr, "the whole of stderr")
	assert.False(t, exists(t, id))
}

// needGCC skips a test where gcc is missing, as step 8 does.
func needGCC(t *testing.T) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found: skipping the C fork step's test (install gcc to run it: apt-get install gcc)")
	}
	return gcc
}

// TestForkInheritsExecAndExitDetach runs step 8: nattch and lpid after the C
// program's shmat, its fork, its child's exec, and its exit.
func TestForkInheritsExecAndExitDetach(t *testing.T) {
	needGCC(t)
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 4096, 0o600)

	out := inLesson(t, func(l *lesson.Lesson) error { return (&tour{l: l, id: id}).forkExecExit() })

	c := regexp.MustCompile(`\[pid (\d+)\] shmat\(`).FindStringSubmatch(out)
	require.NotNil(t, c, out)
	d := regexp.MustCompile(`fork\(\) -> child (\d+)`).FindStringSubmatch(out)
	require.NotNil(t, d, out)
	var nattch, lpid []string
	for _, m := range regexp.MustCompile(`(?m)^-> shm_nattch (\d+), shm_lpid (\d+),`).FindAllStringSubmatch(out, -1) {
		nattch, lpid = append(nattch, m[1]), append(lpid, m[2])
	}
	assert.Equal(t, []string{"1", "2", "1", "0"}, nattch, "attach, fork, the child's exec, exit")
	assert.Equal(t, []string{c[1], c[1], d[1], c[1]}, lpid, "the C program, the C program (fork counts as its attach), its child (exec), the C program (exit)")
	assert.EqualValues(t, 0, ipcStat(t, id).Nattch)
}

// TestForkProgramLeavesOtherSegmentsAlone: the C program, like every role, attaches
// only a segment its parent created.
func TestForkProgramLeavesOtherSegmentsAlone(t *testing.T) {
	gcc := needGCC(t)
	ipctest.NoLeaks(t)
	foreign := ipctest.ForeignSegment(t, 4096, 0o600)
	bin := filepath.Join(t.TempDir(), "fork")
	src := filepath.Join(t.TempDir(), "fork.c")
	require.NoError(t, os.WriteFile(src, []byte(forkC), 0o600))
	msg, err := exec.Command(gcc, "-O2", "-Wall", "-Werror", "-o", bin, src).CombinedOutput()
	require.NoError(t, err, "gcc: %s", msg)

	cmd := exec.Command(bin, strconv.Itoa(foreign))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()

	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Empty(t, string(out))
	assert.Regexp(t, fmt.Sprintf(`^fork: segment %d was created by pid \d+, not by the lesson that started me \(pid %d\)\n$`, foreign, os.Getpid()), stderr.String())
	assert.Zero(t, ipcStat(t, foreign).Atime, "never attached")
}

// TestForkStepWithoutGCC: where gcc is missing, step 8 says so and the lesson goes on.
func TestForkStepWithoutGCC(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 4096, 0o600)
	t.Setenv("PATH", t.TempDir()) // a PATH with no gcc on it

	out := inLesson(t, func(l *lesson.Lesson) error { return (&tour{l: l, id: id}).forkExecExit() })

	assert.Contains(t, out, "gcc is not installed, so this step is skipped")
	assert.Contains(t, out, "Install gcc (sudo apt-get install")
	assert.EqualValues(t, 0, ipcStat(t, id).Atime, "nothing attached")
}
