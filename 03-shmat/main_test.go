//go:build linux

package main

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

func TestMain(m *testing.M) {
	// The lesson program, as a helper that StartHelperAs can run as another user.
	ipctest.Helper("program", lesson.Entry(name, usage, run))
	ipctest.Main(m, lesson.Entry(name, usage, run))
}

const wait = 10 * time.Second

// addrNoRandomize is ADDR_NO_RANDOMIZE from <sys/personality.h>, the persona bit
// setarch -R sets.
const addrNoRandomize = 0x0040000

// nattch reads shm_nattch of segment id from /proc/sysvipc/shm.
func nattch(t *testing.T, id int) int {
	t.Helper()
	s, ok, err := procsysv.FindShm(id)
	require.NoError(t, err)
	require.True(t, ok, "segment %d should exist", id)
	return s.Nattch
}

// randomised reports whether new processes get randomised mmap addresses here: the
// kernel setting is on and this process does not run with ADDR_NO_RANDOMIZE
// (setarch -R), which children inherit.
func randomised(t *testing.T) bool {
	setting, err := os.ReadFile("/proc/sys/kernel/randomize_va_space")
	require.NoError(t, err)
	persona, err := os.ReadFile("/proc/self/personality")
	require.NoError(t, err)
	p, err := strconv.ParseUint(strings.TrimSpace(string(persona)), 16, 32)
	require.NoError(t, err)
	on := strings.TrimSpace(string(setting)) != "0" && p&addrNoRandomize == 0
	if !on {
		t.Log("address space randomisation is off: processes may map the segment at the same address, which the lesson says is allowed")
	}
	return on
}

// newLaidOutSegment makes a segment, attaches it here and writes the lesson's header.
func newLaidOutSegment(t *testing.T, msg string) (int, []byte, *header) {
	t.Helper()
	id := ipctest.NewSegment(t, 4096, 0o600)
	b := ipctest.Attach(t, id, 0)
	h, err := writeMessage(b, msg)
	require.NoError(t, err)
	return id, b, h
}

func TestHeaderHoldsNoPointersAndFixedOffsets(t *testing.T) {
	typ := reflect.TypeOf(header{})
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		switch f.Type.Kind() {
		case reflect.Uint32, reflect.Uint64, reflect.Int32, reflect.Int64:
		default:
			t.Errorf("field %s is a %v: shared memory needs fixed-width numbers only", f.Name, f.Type)
		}
	}
	var h header
	tests := []struct {
		field  string
		offset uintptr
	}{
		{"Magic", unsafe.Offsetof(h.Magic)},
		{"Version", unsafe.Offsetof(h.Version)},
		{"Writes", unsafe.Offsetof(h.Writes)},
		{"MsgOff", unsafe.Offsetof(h.MsgOff)},
		{"MsgLen", unsafe.Offsetof(h.MsgLen)},
		{"ReplyOff", unsafe.Offsetof(h.ReplyOff)},
		{"ReplyLen", unsafe.Offsetof(h.ReplyLen)},
	}
	want := map[string]uintptr{"Magic": 0, "Version": 4, "Writes": 8, "MsgOff": 16, "MsgLen": 20, "ReplyOff": 24, "ReplyLen": 28}
	for _, tt := range tests {
		assert.Equal(t, want[tt.field], tt.offset, "offset of %s: both processes must agree on it", tt.field)
	}
	assert.Equal(t, uintptr(32), unsafe.Sizeof(h))
	assert.Zero(t, unsafe.Offsetof(h.Writes)%8, "the atomic field must be 8-byte aligned")
	assert.LessOrEqual(t, uintptr(headerSize), uintptr(msgOff), "the message must not overlap the header")
}

func TestHeaderRefusesForeignBytes(t *testing.T) {
	b := make([]byte, minSize)
	h, err := headerIn(b)
	require.NoError(t, err)
	assert.ErrorContains(t, h.check(), "magic is 0")
	_, err = writeMessage(b, "x")
	require.NoError(t, err)
	assert.NoError(t, h.check())
	h.Version = 2
	assert.ErrorContains(t, h.check(), "layout version 2")
	_, err = headerIn(make([]byte, minSize-1))
	assert.ErrorContains(t, err, "needs")
	// An offset written by another process is input, not fact: reading and writing check it.
	assert.Equal(t, "(bad offset 150, length 64)", text(b, 150, 64))
	h.ReplyOff = uint32(len(b)) - 10
	assert.ErrorContains(t, writeReply(b, h, "x"), "leaves no room", "a reply offset near the end must not be written past the segment")
	h.ReplyOff = replyOff
	require.NoError(t, writeReply(b, h, "in bounds"))
	assert.Equal(t, "in bounds", reply(b, h))
}

func TestTwoProcessesSeeEachOthersBytes(t *testing.T) {
	ipctest.NoLeaks(t)
	id, b, h := newLaidOutSegment(t, "from the test process")

	p := ipctest.StartProgram(t, roleAttacher, strconv.Itoa(id))
	childAddr, err := addressIn(p.Expect(t, "mapped at", wait))
	require.NoError(t, err)
	read := p.Expect(t, "message at offset", wait)
	p.Expect(t, "staying attached", wait)

	assert.Contains(t, read, `"from the test process"`, "the child reads what we wrote, found through the header's offset")
	assert.Equal(t, fmt.Sprintf("hello back from pid %d", p.Pid()), reply(b, h), "we read what the child wrote")
	assert.Equal(t, uint64(2), atomic.LoadUint64(&h.Writes), "one write each, counted with sync/atomic")
	assert.Equal(t, 2, nattch(t, id), "the test and the child each hold one attachment")
	if randomised(t) {
		assert.NotEqual(t, addr(b), childAddr, "with randomised layouts the child maps the segment elsewhere")
	}

	r := p.Wait(t)
	assert.Equal(t, 0, r.ExitCode, r.Stderr)
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
			for i := 1; i < tt.here; i++ {
				ipctest.Attach(t, id, 0)
			}
			for i := 0; i < tt.children; i++ {
				p := ipctest.StartProgram(t, roleAttacher, strconv.Itoa(id))
				p.Expect(t, "staying attached", wait)
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
			assert.Zero(t, addr(b)%uintptr(page), "shmat(id, NULL, ...) picks a page-aligned address")
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
			assert.Equal(t, addr(other), fault.Addr, "the fault is at the read-only mapping")
			assert.Equal(t, byte('a'), b[0], "the segment is unchanged")
		})
	}
}

func TestReadOnlyWriteWithoutRecoverKillsTheProcess(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 4096, 0o600)

	r := ipctest.RunProgram(t, roleReadOnlyWriter, strconv.Itoa(id))

	assert.Equal(t, 2, r.ExitCode, "the Go runtime exits with status 2 on a fatal fault")
	assert.Contains(t, r.Stderr, "unexpected fault address 0x")
	assert.Contains(t, r.Stderr, "fatal error: fault")
	assert.Contains(t, r.Stderr, "SIGSEGV: segmentation violation code=0x2", "code 2 is SEGV_ACCERR: a mapped page without write permission")
	assert.NotContains(t, r.Stderr, "did not fault")
	assert.Equal(t, 0, nattch(t, id), "the dead process's attachment was detached at exit")
}

func TestAttachErrors(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 4096, 0o600)
	gone := ipctest.NewSegment(t, 4096, 0o600)
	require.NoError(t, remove(gone))
	held := ipctest.Attach(t, id, unix.SHM_RDONLY)
	page := addr(held)

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

func TestShmRndRoundsDown(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 4096, 0o600)
	b, err := unix.SysvShmAttach(id, 0, 0)
	require.NoError(t, err)
	free := addr(b)
	require.NoError(t, unix.SysvShmDetach(b)) // that range is free now

	b, err = unix.SysvShmAttach(id, free+123, unix.SHM_RND)
	require.NoError(t, err)
	defer unix.SysvShmDetach(b)
	assert.Equal(t, free, addr(b), "SHM_RND rounds down to a multiple of SHMLBA (the page size on x86-64)")
}

func TestAnotherUserIsRefused(t *testing.T) {
	ipctest.NoLeaks(t)
	private := ipctest.NewSegment(t, 4096, 0o600)
	open := ipctest.NewSegment(t, 4096, 0o644)
	uid, gid := reexec.Nobody()

	p := ipctest.StartHelperAs(t, uid, gid, "program", roleOtherUser, strconv.Itoa(private), strconv.Itoa(open))
	r := p.Wait(t)
	require.Equal(t, 0, r.ExitCode, r.Stderr)

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

func TestProgram(t *testing.T) {
	ipctest.NoLeaks(t)
	r := ipctest.RunProgram(t)
	require.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Empty(t, r.Stderr)

	for _, want := range []string{
		"shm_nattch 1: one attachment",
		"shm_nattch 2: counts attachments, not processes",
		`-> "written through the first address"`,
		"header at offset 0, 32 bytes: Magic@0 Version@4 Writes@8",
		"shm_nattch 3: three attachments, two processes",
		"reply read through",
		"(Writes is now 2)",
		"r--s",
		"recovered a panic: runtime error: invalid memory address or nil pointer dereference",
		"the child died: exit status 2",
		"| unexpected fault address",
		"-> EINVAL (invalid argument)",
		"rounded down to a multiple of SHMLBA",
		"shm_nattch 0: nothing attached",
	} {
		assert.Contains(t, r.Stdout, want)
	}
	if os.Geteuid() == 0 {
		assert.Contains(t, r.Stdout, "running as uid")
	}
	assert.Contains(t, r.Stdout, "-> EACCES (permission denied)")

	m := regexp.MustCompile(`the child mapped it at (0x[0-9a-f]+), we at (0x[0-9a-f]+) and (0x[0-9a-f]+)`).FindStringSubmatch(r.Stdout)
	if randomised(t) {
		require.NotNil(t, m, "the lesson reports different addresses")
		assert.NotEqual(t, m[1], m[2])
		assert.NotEqual(t, m[1], m[3])
	}
}

func TestPeekLeavesTheSegmentAlone(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 4096, 0o600)
	b := ipctest.Attach(t, id, 0)
	copy(b, "peek-me")

	r := ipctest.RunProgram(t, strconv.Itoa(id))

	require.Equal(t, 0, r.ExitCode, r.Stderr)
	assert.Contains(t, r.Stdout, "70 65 65 6b 2d 6d 65", "the hex of peek-me")
	assert.Contains(t, r.Stdout, "peek-me.........")
	assert.Contains(t, r.Stdout, "shm_nattch 2: ours included")
	assert.Contains(t, r.Stdout, "shm_nattch 1: ours is gone")
	assert.Equal(t, "peek-me", string(b[:7]))
	assert.Equal(t, 1, nattch(t, id))
}

func TestBadInput(t *testing.T) {
	ipctest.NoLeaks(t)
	gone := ipctest.NewSegment(t, 4096, 0o600)
	require.NoError(t, remove(gone))
	// shmid is a C int: 2^32 more than a live segment's id must not name that segment.
	live := ipctest.NewSegment(t, 4096, 0o600)
	tooBig := strconv.Itoa(live + 1<<32)

	tests := []struct {
		args   []string
		exit   int
		stderr string
	}{
		{[]string{"-nope"}, lesson.ExitUsage, "flag provided but not defined: -nope"},
		{[]string{"-size", "x"}, lesson.ExitUsage, `invalid value "x" for flag -size`},
		{[]string{"-size", "10"}, lesson.ExitUsage, "-size 10 is too small"},
		{[]string{"abc"}, lesson.ExitUsage, `"abc" is not a segment id`},
		{[]string{"-5"}, lesson.ExitUsage, "flag provided but not defined: -5"},
		{[]string{"1", "2"}, lesson.ExitUsage, "too many arguments"},
		{[]string{tooBig}, lesson.ExitUsage, fmt.Sprintf("%q is not a segment id", tooBig)},
		{[]string{roleAttacher, "x"}, lesson.ExitUsage, `"x" is not a segment id`},
		{[]string{roleAttacher}, lesson.ExitUsage, "this role takes 1 segment id(s)"},
		{[]string{strconv.Itoa(gone)}, lesson.ExitFailed, fmt.Sprintf("shmat(%d, NULL, SHM_RDONLY): EINVAL (invalid argument): no segment has id %d", gone, gone)},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ipctest.AssertOneLineError(t, ipctest.RunProgram(t, tt.args...), tt.exit, tt.stderr)
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	ipctest.AssertUsage(t, ipctest.RunProgram(t, "-h"), "usage: go run ./03-shmat", "-step")
}

func TestCtrlCDuringStepRemovesTheSegment(t *testing.T) {
	ipctest.NoLeaks(t)
	p := ipctest.StartProgram(t, "-step")
	p.StepTo(t, 2) // step 1 created the segment; waiting for Enter before step 2
	m := regexp.MustCompile(`(?m)^-> id (\d+)$`).FindStringSubmatch(p.Stdout())
	require.NotNil(t, m, p.Stdout())
	id, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	_, exists, err := procsysv.FindShm(id)
	require.NoError(t, err)
	require.True(t, exists, "step 1 created segment %d", id)

	r := p.Interrupt(t)

	assert.Equal(t, lesson.ExitInterrupted, r.ExitCode)
	assert.Contains(t, r.Stderr, "interrupt: cleaning up")
	_, exists, err = procsysv.FindShm(id)
	require.NoError(t, err)
	assert.False(t, exists, "Ctrl-C removed segment %d", id)
}

func Example_flagNames() {
	fmt.Println(flagNames(0))
	fmt.Println(flagNames(unix.SHM_RDONLY))
	fmt.Println(flagNames(unix.SHM_RDONLY | unix.SHM_RND))
	// Output:
	// 0
	// SHM_RDONLY
	// SHM_RDONLY|SHM_RND
}

func Example_hexDump() {
	fmt.Print(hexDump([]byte("SHM1 header\x00\x01"), 64))
	// Output:
	// 0000  53 48 4d 31 20 68 65 61 64 65 72 00 01  SHM1 header..
}
