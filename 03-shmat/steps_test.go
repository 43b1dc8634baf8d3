//go:build linux

package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/reexec"
	"github.com/learn-sysv/shm-course/internal/shm"
)

func TestTwoProcessesSeeEachOthersBytes(t *testing.T) {
	ipctest.NoLeaks(t)
	id, b, h := newLaidOutSegment(t, "from the test process")
	ipctest.AsRoleParent(t)

	p := ipctest.StartProgram(t, roleAttacher, strconv.Itoa(id))
	fields := strings.Fields(strings.TrimPrefix(p.Expect(t, "@@ ADDR", wait), "@@ ADDR"))
	childAddr, err := parseAddr(fields)
	require.NoError(t, err)
	p.Expect(t, "@@ READY", wait)

	assert.Contains(t, p.Stdout(), `"from the test process"`, "the child reads what we wrote, found through the header's offset")
	assert.Equal(t, fmt.Sprintf("hello back from pid %d", p.Pid()), reply(b, h), "we read what the child wrote")
	assert.Equal(t, uint64(2), atomic.LoadUint64(&h.Writes), "one write each, counted with sync/atomic")
	assert.Equal(t, 2, nattch(t, id), "the test and the child each hold one attachment")
	if randomised(t) {
		assert.NotEqual(t, shm.Addr(b), childAddr, "with randomised layouts the child maps the segment elsewhere")
	}

	r := p.Wait(t)
	assert.Equal(t, 0, r.ExitCode, r.Stderr)
	assert.Empty(t, r.Stderr)
	assert.Equal(t, 1, nattch(t, id), "the child detached")
}

func TestNattchCountsAttachmentsNotProcesses(t *testing.T) {
	tests := []struct {
		name     string
		here     int // attachments in this process
		children int // child processes with one attachment each
	}{
		{"one process, one attachment", 1, 0},
		{"one process, two attachments", 2, 0},
		{"one process, three attachments", 3, 0},
		{"two processes, three attachments", 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			id, _, _ := newLaidOutSegment(t, "count me")
			ipctest.AsRoleParent(t)
			for i := 1; i < tt.here; i++ {
				ipctest.Attach(t, id, 0)
			}
			for i := 0; i < tt.children; i++ {
				p := ipctest.StartProgram(t, roleAttacher, strconv.Itoa(id))
				p.Expect(t, "@@ READY", wait)
			}
			assert.Equal(t, tt.here+tt.children, nattch(t, id))
		})
	}
}

func TestSliceLengthIsTheRequestedSize(t *testing.T) {
	page := os.Getpagesize()
	for _, size := range []int{1, 100, page, page + 1} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			ipctest.NoLeaks(t)
			id := ipctest.NewSegment(t, size, 0o600)
			b := ipctest.Attach(t, id, 0)
			assert.Len(t, b, size, "len(b) is shm_segsz, not the page-rounded allocation")
			assert.Equal(t, size, cap(b), "cap is len: there is no room to append in place")
			assert.Zero(t, shm.Addr(b)%uintptr(page), "shmat(id, NULL, ...) picks a page-aligned address")
		})
	}
}

func TestWriteThroughReadOnlyAttachment(t *testing.T) {
	tests := []struct {
		name      string
		flags     int
		wantFault bool
	}{
		{"read-write attachment: the write lands", 0, false},
		{"SHM_RDONLY attachment: the write faults and is recovered", unix.SHM_RDONLY, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			id := ipctest.NewSegment(t, 4096, 0o600)
			b := ipctest.Attach(t, id, 0)
			b[0] = 'a'
			other := ipctest.Attach(t, id, tt.flags)

			err := lesson.RecoverFault(func() { other[0] = 'X' })

			if !tt.wantFault {
				assert.NoError(t, err)
				assert.Equal(t, byte('X'), b[0], "the write is seen through the other attachment")
				return
			}
			var fault *lesson.FaultError
			require.ErrorAs(t, err, &fault)
			assert.Equal(t, shm.Addr(other), fault.Addr, "the fault is at the read-only mapping")
			assert.Contains(t, fault.Msg, "nil pointer dereference", "Go's words for every unexpected fault, which the lesson explains")
			assert.Equal(t, byte('a'), b[0], "the segment is unchanged")
		})
	}
}

func TestReadOnlyWriteWithoutRecoverKillsTheProcess(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 4096, 0o600)
	ipctest.AsRoleParent(t)

	r := ipctest.RunProgram(t, roleReadOnlyWriter, strconv.Itoa(id))

	assert.Equal(t, 2, r.ExitCode, "the Go runtime exits with status 2 on a fatal fault")
	assert.True(t, strings.HasPrefix(r.Stderr, "unexpected fault address 0x"), "stderr starts with the fault: %q", lesson.FirstLines(r.Stderr, 2))
	assert.Contains(t, r.Stderr, "fatal error: fault")
	assert.Contains(t, r.Stderr, "SIGSEGV: segmentation violation code=0x2", "code 2 is SEGV_ACCERR: a mapped page without write permission")
	assert.NotContains(t, r.Stderr, "did not fault")
	assert.Equal(t, 0, nattch(t, id), "the dead process's attachment was detached at exit")
}

func TestAttachErrors(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 4096, 0o600)
	gone := ipctest.NewSegment(t, 4096, 0o600)
	require.NoError(t, shm.Remove(gone))
	held := ipctest.Attach(t, id, unix.SHM_RDONLY)
	page := shm.Addr(held)

	tests := []struct {
		name  string
		id    int
		at    uintptr
		flags int
		want  error
	}{
		{"an id whose segment was removed", gone, 0, 0, unix.EINVAL},
		{"a negative id", -1, 0, 0, unix.EINVAL},
		{"an address that is not page-aligned", id, page + 123, 0, unix.EINVAL},
		{"SHM_RND onto a range already mapped", id, page + 123, unix.SHM_RND, unix.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := unix.SysvShmAttach(tt.id, tt.at, tt.flags)
			if err == nil {
				_ = unix.SysvShmDetach(b)
			}
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

// TestShmRndRoundsToSHMLBA aims SHM_RND at an odd page: on x86-64 and arm64, where
// SHMLBA is the page size, it lands on that page.
func TestShmRndRoundsToSHMLBA(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 4096, 0o600)
	page := os.Getpagesize()
	var odd uintptr
	out := inLesson(t, func(l *lesson.Lesson) error {
		o, b, err := attachRoundedAtOddPage(l, id, page)
		if err != nil {
			return err
		}
		odd = o
		got := shm.Addr(b)
		if err := unix.SysvShmDetach(b); err != nil {
			return err
		}
		if runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64" {
			assert.Equal(t, odd, got, "SHMLBA is the page size on %s", runtime.GOARCH)
		}
		assert.LessOrEqual(t, got, odd+123, "SHM_RND rounds down")
		return nil
	})
	assert.Equal(t, uintptr(1), (odd/uintptr(page))%2, "the page aimed at is odd")
	assert.Contains(t, out, fmt.Sprintf("shmat(%d, %#x, SHM_RND)", id, odd+123))
}

func TestSHMLBAStep(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 4096, 0o600)
	out := inLesson(t, func(l *lesson.Lesson) error { return (&tour{l: l, id: id}).shmlba() })
	if runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64" {
		assert.Contains(t, out, fmt.Sprintf("So SHMLBA is the page size here, %d bytes", os.Getpagesize()))
	}
	assert.Equal(t, 0, nattch(t, id), "the step detached what it attached")
}

func TestAnotherUserIsRefused(t *testing.T) {
	ipctest.NoLeaks(t)
	private := ipctest.NewSegment(t, 4096, 0o600)
	open := ipctest.NewSegment(t, 4096, 0o644)
	uid, gid := reexec.Nobody()
	ipctest.AsRoleParent(t)

	p := ipctest.StartHelperAs(t, uid, gid, "program", roleOtherUser, strconv.Itoa(private), strconv.Itoa(open))
	r := p.Wait(t)
	require.Equal(t, 0, r.ExitCode, r.Stderr)
	assert.Empty(t, r.Stderr)

	// Each attempt is a Call line followed by its Result line.
	results := map[string]string{}
	lines := strings.Split(r.Stdout, "\n")
	for i, line := range lines[:len(lines)-1] {
		if _, what, ok := strings.Cut(line, "    ("); ok {
			results[strings.TrimSuffix(what, ")")] = lines[i+1]
		}
	}
	assert.Contains(t, results["mode 0600, read-only"], "EACCES")
	assert.Contains(t, results["mode 0644, read-only"], "mapped at")
	assert.Contains(t, results["mode 0644, read-write"], "EACCES")
}

// trapTour is a tour whose segment the test made and attached, for running one
// Go-trap step on its own.
func trapTour(t *testing.T, l *lesson.Lesson, id int, first []byte) *tour {
	return &tour{l: l, size: len(first), id: id, first: first}
}

func TestAppendNeverReachesTheOtherProcess(t *testing.T) {
	ipctest.NoLeaks(t)
	id, b, _ := newLaidOutSegment(t, "x")

	out := inLesson(t, func(l *lesson.Lesson) error { return trapTour(t, l, id, b).appendTrap() })

	assert.Contains(t, out, `the other process reads "before append": the write went to this process's heap`)
	assert.Contains(t, out, `the other process reads "before and more": the append overwrote the bytes after msg`)
	assert.Equal(t, "before and more", string(b[appendOff:appendOff+15]), "the second append wrote into the segment")
	assert.Equal(t, 1, nattch(t, id), "the reader detached")
}

func TestPollingWithoutAtomics(t *testing.T) {
	ipctest.NoLeaks(t)
	id, b, _ := newLaidOutSegment(t, "x")

	out := inLesson(t, func(l *lesson.Lesson) error { return trapTour(t, l, id, b).pollingTrap() })

	assert.Contains(t, out, "-> atomic.LoadUint32 saw the flag")
	firstLook := strings.Contains(out, "the plain loop saw the flag at its first look")
	if raceEnabled {
		// -race puts a call before every read: the compiler keeps them all.
		assert.True(t, firstLook || strings.Contains(out, "the plain loop saw it too, this time"), out)
	} else {
		// What this course's Go (go1.26, amd64) does: the loop's read is merged with
		// the first look, and the loop never reads memory again.
		assert.True(t, firstLook || strings.Contains(out, "the plain loop never saw it"), out)
	}
	assert.Equal(t, 1, nattch(t, id), "the waiter's exit detached it")
}

func TestRaceDetectorStaysSilent(t *testing.T) {
	ipctest.NoLeaks(t)
	id, b, _ := newLaidOutSegment(t, "x")

	out := inLesson(t, func(l *lesson.Lesson) error { return trapTour(t, l, id, b).raceDetector() })

	m := regexp.MustCompile(`the counter reads (\d+) after (\d+) increments`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	total, err := strconv.ParseUint(m[1], 10, 64)
	require.NoError(t, err)
	attempts, err := strconv.ParseUint(m[2], 10, 64)
	require.NoError(t, err)
	assert.LessOrEqual(t, total, attempts, "a lost update can only lower the count")
	assert.Equal(t, total, binary.NativeEndian.Uint64(b[counterOff:]), "the narration reports the segment's counter")
	assert.NotContains(t, out, "a race report appeared")
	if raceEnabled {
		// This test binary and its two counting children are built with -race.
		assert.Contains(t, out, "both processes were built with -race, as this program is, and neither reported a race")
	}
}

func TestPointerMeansNothingInTheOtherProcess(t *testing.T) {
	ipctest.NoLeaks(t)
	id, b, _ := newLaidOutSegment(t, "x")

	out := inLesson(t, func(l *lesson.Lesson) error { return trapTour(t, l, id, b).pointerTrap() })

	found := strings.Contains(out, "the other process found bytes of its own at")
	assert.True(t, found || strings.Contains(out, "nothing is mapped at"), out)
	assert.NotContains(t, out, `bytes there: "a string in the heap`, "the other process never finds the string")
	if raceEnabled {
		// Built with -race, every Go heap starts at the same address.
		assert.True(t, found, "with -race both heaps start at 0xc000000000: %s", out)
	}
	assert.Equal(t, make([]byte, 16), b[stringOff:stringOff+16], "the step clears the words it stored")
}
