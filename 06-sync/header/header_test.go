//go:build linux

package header

import (
	"bufio"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
)

func TestMain(m *testing.M) {
	ipctest.Helper("claim", helperClaim)
	ipctest.Alongside() // private objects only
	ipctest.Main(m, nil)
}

// newSegment is a fresh zero-filled segment of size bytes, removed at the end.
func newSegment(t *testing.T, size int) (int, []byte) {
	t.Helper()
	id := ipctest.NewSegment(t, size, 0o600)
	return id, ipctest.Attach(t, id, 0)
}

// TestLayoutBytes writes every field through the API and reads the bytes back at
// the offsets the package comment and the README document, with encoding/binary,
// as a C program would.
func TestLayoutBytes(t *testing.T) {
	ipctest.NoLeaks(t)
	_, seg := newSegment(t, 4096)
	h := Of(seg)
	h.Format(KindFast, 7, 4096)
	h.SetMaxMessage(123456)
	require.NoError(t, h.Claim(Consumer))
	assert.False(t, h.Published(), "not published before Publish")
	assert.Equal(t, []byte{0, 0, 0, 0}, seg[0:4], "magic stays 0 until Publish: openers wait for it")
	h.Publish()
	require.True(t, h.Published())

	le := binary.LittleEndian
	pid := uint32(os.Getpid())
	fields := []struct {
		name string
		off  int
		got  uint64
		want uint64
	}{
		{"version", 4, uint64(le.Uint32(seg[4:])), 1},
		{"kind", 8, uint64(le.Uint32(seg[8:])), 2},
		{"kind version", 12, uint64(le.Uint32(seg[12:])), 7},
		{"creator pid", 16, uint64(le.Uint32(seg[16:])), uint64(pid)},
		{"producer pid", 20, uint64(le.Uint32(seg[20:])), 0},
		{"consumer pid", 24, uint64(le.Uint32(seg[24:])), uint64(pid)},
		{"max message", 28, uint64(le.Uint32(seg[28:])), 123456},
		{"segment size", 32, le.Uint64(seg[32:]), 4096},
	}
	for _, f := range fields {
		assert.Equal(t, f.want, f.got, "%s at offset %d", f.name, f.off)
	}
	assert.Equal(t, "SYNC", string(seg[0:4]), "the magic is the bytes S Y N C")
	assert.Equal(t, uint32(Magic), le.Uint32(seg[0:]))
	assert.Equal(t, make([]byte, 24), seg[40:64], "bytes 40..63 are reserved, zero")
	assert.Equal(t, make([]byte, len(seg)-Size), seg[Size:], "the header writes nothing past byte 63")

	// The accessors read the same fields.
	assert.Equal(t, uint32(2), h.Kind())
	assert.Equal(t, uint32(7), h.KindVersion())
	assert.Equal(t, os.Getpid(), h.CreatorPid())
	assert.Equal(t, os.Getpid(), h.Pid(Consumer))
	assert.Equal(t, 0, h.Pid(Producer))
	assert.Equal(t, 123456, h.MaxMessage())
	assert.Equal(t, uint64(4096), h.SegSize())
}

func TestOfRefusesAShortSegment(t *testing.T) {
	assert.PanicsWithValue(t, "header.Of: segment of 63 bytes is shorter than the 64-byte header",
		func() { Of(make([]byte, 63)) })
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(seg []byte)
		kind    uint32
		want    string // "" for no error
		notOurs bool
	}{
		{"ours", func([]byte) {}, KindSemring, "", false},
		{"other magic", func(s []byte) { copy(s, "ABCD") }, KindSemring, "magic 0x44434241", true},
		{"never published", func(s []byte) { copy(s, []byte{0, 0, 0, 0}) }, KindSemring, "magic 0x00000000", true},
		{"other header version", func(s []byte) { s[4] = 9 }, KindSemring, "header version 9, want 1", true},
		{"other transport", func([]byte) {}, KindFast, "uses the semring transport, not fast: start both sides with the same -transport", false},
		{"other layout version", func(s []byte) { s[12] = 5 }, KindSemring, "semring layout version 5, want 1", true},
		{"other segment size", func(s []byte) { s[32] = 65 }, KindSemring, "its header says 65 bytes, but the segment has 64 (shm_segsz)", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seg := make([]uint64, 8) // 64 bytes, 8-byte aligned like a segment
			b := unsafeBytes(seg)
			h := Of(b)
			h.Format(KindSemring, 1, 64)
			h.Publish()
			tt.corrupt(b)
			err := h.Check(tt.kind, 1, len(b))
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, tt.notOurs, errors.Is(err, ErrNotOurs), "errors.Is(err, ErrNotOurs)")
		})
	}
}

// TestClaim: a free role is taken, a role held by a dead process is taken over, a
// role held by a running process (another process, through the segment) is refused.
func TestClaim(t *testing.T) {
	ipctest.NoLeaks(t)
	id, seg := newSegment(t, 4096)
	h := Of(seg)
	h.Format(KindSemring, 1, 4096)
	h.Publish()

	// Another process claims the producer role and stays.
	p := ipctest.StartHelper(t, "claim", strconv.Itoa(id), "producer")
	p.Expect(t, "claimed", 10*time.Second)
	assert.Equal(t, p.Pid(), h.Pid(Producer), "the other process's pid is visible here")
	err := h.Claim(Producer)
	require.Error(t, err, "a role held by a running process is refused")
	assert.EqualError(t, err, "the producer role is taken by pid "+strconv.Itoa(p.Pid())+", which is running; start only one producer")
	assert.Equal(t, p.Pid(), h.Pid(Producer), "a refused claim changes nothing")

	// It dies: its pid stays in the header, and the role can be taken over.
	p.Signal(t, syscall.SIGKILL)
	p.Wait(t)
	replaced, err := h.ClaimOver(Producer)
	require.NoError(t, err, "a dead holder's role is taken over")
	assert.Equal(t, p.Pid(), replaced, "ClaimOver names the dead holder it replaced")
	assert.Equal(t, os.Getpid(), h.Pid(Producer))

	// The other role is independent.
	assert.Equal(t, 0, h.Pid(Consumer))
	replaced, err = h.ClaimOver(Consumer)
	require.NoError(t, err)
	assert.Equal(t, 0, replaced, "a free role held 0")
	assert.Equal(t, os.Getpid(), h.Pid(Consumer))
}

// helperClaim: claim SHMID ROLE. It attaches the segment, claims the role, prints
// "claimed" and waits until its stdin closes (or it is killed).
func helperClaim(args []string) int {
	id, _ := strconv.Atoi(args[0])
	seg, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		return fail(err)
	}
	role := map[string]Role{"producer": Producer, "consumer": Consumer}[args[1]]
	if err := Of(seg).Claim(role); err != nil {
		return fail(err)
	}
	os.Stdout.WriteString("claimed\n")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	return 0
}

func fail(err error) int {
	os.Stderr.WriteString(err.Error() + "\n")
	return 1
}

// TestPeerGone: nil while the peer runs or before it has joined; a *PeerGoneError
// naming role, pid and "no such process" once it has died.
func TestPeerGone(t *testing.T) {
	ipctest.NoLeaks(t)
	id, seg := newSegment(t, 4096)
	h := Of(seg)
	h.Format(KindSemring, 1, 4096)
	h.Publish()
	assert.NoError(t, h.PeerGone(Consumer), "no consumer yet is not a dead consumer")

	p := ipctest.StartHelper(t, "claim", strconv.Itoa(id), "consumer")
	p.Expect(t, "claimed", 10*time.Second)
	assert.NoError(t, h.PeerGone(Consumer), "the consumer is running")

	p.Signal(t, syscall.SIGKILL)
	p.Wait(t)
	err := h.PeerGone(Consumer)
	var gone *PeerGoneError
	require.ErrorAs(t, err, &gone)
	assert.Equal(t, PeerGoneError{Role: Consumer, Pid: p.Pid(), How: "no such process"}, *gone)
	assert.Equal(t, "the consumer (pid "+strconv.Itoa(p.Pid())+") is gone (no such process): it exited or was killed before the end of the stream", err.Error())
}

// TestAliveZombie: a child that has exited but has not been waited for is a zombie:
// kill(pid, 0) still succeeds, and Alive must say dead anyway.
func TestAliveZombie(t *testing.T) {
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true(1) on this machine")
	}
	proc, err := os.StartProcess(truePath, []string{"true"}, &os.ProcAttr{})
	require.NoError(t, err)
	defer func() { _, _ = proc.Wait() }()
	assert.Eventually(t, func() bool { return procState(proc.Pid) == "Z" }, 5*time.Second, time.Millisecond,
		"the child becomes a zombie")
	require.NoError(t, unix.Kill(proc.Pid, 0), "kill(pid, 0) succeeds for a zombie")
	assert.False(t, Alive(proc.Pid), "a zombie is not alive")
}

func TestAlive(t *testing.T) {
	tests := []struct {
		name string
		pid  int
		want bool
	}{
		{"this process", os.Getpid(), true},
		{"init, pid 1", 1, true},
		{"pid 0", 0, false},
		{"negative", -1, false},
		{"beyond pid_max", 1<<22 + 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, Alive(tt.pid)) })
	}
}

// unsafeBytes is the 64 bytes of w: a header-sized buffer with the segment's
// 8-byte alignment, for tests that need no segment.
func unsafeBytes(w []uint64) []byte { return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), 8*len(w)) }

func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]
}
