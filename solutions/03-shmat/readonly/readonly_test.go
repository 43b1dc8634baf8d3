//go:build linux

package readonly

import (
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/procsysv"
)

const segSize = 4096

func TestMain(m *testing.M) {
	// A separate process calls TryWrite on a read-only attachment with faults NOT
	// turned into panics, as a caller would. If TryWrite forgets SetPanicOnFault,
	// the fault kills that process, not the test binary.
	ipctest.Helper("trywrite-readonly", func(args []string) int {
		id, _ := strconv.Atoi(args[0])
		b, err := unix.SysvShmAttach(id, 0, unix.SHM_RDONLY)
		if err != nil {
			fmt.Println("shmat:", err)
			return 1
		}
		defer unix.SysvShmDetach(b)
		debug.SetPanicOnFault(false)
		err = TryWrite(b, 0, []byte("x"))
		fmt.Println("TryWrite returned:", err)
		return 0
	})
	ipctest.Main(m, nil)
}

// faultSurvived caches what requireFaultIsAnError found: nil until it has run.
var faultSurvived *bool

// requireFaultIsAnError stops t unless TryWrite survives a write to read-only memory
// when the caller has not turned faults into panics. It checks once, in a separate
// process: in this one, such a fault would kill the whole test binary (no message,
// no cleanup).
func requireFaultIsAnError(t *testing.T) {
	t.Helper()
	if faultSurvived == nil {
		id := ipctest.NewSegment(t, segSize, 0o600)
		r := ipctest.RunHelper(t, "trywrite-readonly", strconv.Itoa(id))
		ok := r.ExitCode == 0
		faultSurvived = &ok
		if !ok {
			first, _, _ := strings.Cut(strings.TrimSpace(r.Stderr), "\n")
			t.Fatalf("TryWrite on a read-only attachment killed its process (exit %d, %q): "+
				"a fault is fatal to a Go program unless debug.SetPanicOnFault(true) is on "+
				"in the goroutine that faults; turn it on inside TryWrite", r.ExitCode, first)
		}
	}
	if !*faultSurvived {
		t.Fatal("not run: TryWrite lets a fault kill the process (see the first failure above)")
	}
}

// attachRO calls AttachReadOnly and detaches what it returned when the test ends.
func attachRO(t *testing.T, id int) []byte {
	t.Helper()
	b, err := AttachReadOnly(id)
	require.NoError(t, err, "AttachReadOnly(%d) must succeed", id)
	t.Cleanup(func() { _ = unix.SysvShmDetach(b) })
	return b
}

// noPanic runs f and fails the test, instead of crashing, if it panics.
func noPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s panicked: %v", what, r)
		}
	}()
	f()
}

func TestAttachReadOnly(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, segSize, 0o600)
	rw := ipctest.Attach(t, id, 0)
	copy(rw, "written through the other attachment")

	ro := attachRO(t, id)
	require.Len(t, ro, segSize, "the slice must cover the whole segment")
	assert.Equal(t, "written through", string(ro[:15]), "both attachments map the same memory")

	s, _, err := procsysv.FindShm(id)
	require.NoError(t, err)
	assert.Equal(t, 2, s.Nattch, "nattch counts attachments: the test's and yours")

	// A read-only mapping: writing through it must fault. Checked with the fault
	// turned into a panic, so that a writable attachment fails the test cleanly.
	faulted := func() (faulted bool) {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() { faulted = recover() != nil }()
		ro[0] = 'X'
		return false
	}()
	assert.True(t, faulted, "writing through AttachReadOnly's slice must fault: attach with unix.SHM_RDONLY")
	assert.Equal(t, byte('w'), rw[0], "the segment must be unchanged")
}

func TestAttachReadOnlyErrors(t *testing.T) {
	_, err := AttachReadOnly(-1)
	require.Error(t, err, "there is no segment -1")
	assert.ErrorIs(t, err, unix.EINVAL, "shmat says EINVAL for an id that is no segment: wrap its error with %%w")
}

func TestTryWrite(t *testing.T) {
	tests := []struct {
		name     string
		readOnly bool
		off      int
		data     string
		wantErr  error // nil: the write must succeed
	}{
		{"writable, at the start", false, 0, "hello", nil},
		{"writable, at the end", false, segSize - 3, "end", nil},
		{"writable, nothing to write", false, 10, "", nil},
		{"read-only", true, 0, "hello", ErrReadOnly},
		{"read-only, in the middle", true, 2000, "x", ErrReadOnly},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			id := ipctest.NewSegment(t, segSize, 0o600)
			rw := ipctest.Attach(t, id, 0)
			b := rw
			if tt.readOnly {
				requireFaultIsAnError(t)
				b = ipctest.Attach(t, id, unix.SHM_RDONLY)
			}

			var err error
			noPanic(t, "TryWrite", func() { err = TryWrite(b, tt.off, []byte(tt.data)) })
			if tt.wantErr == nil {
				require.NoError(t, err, "TryWrite into a writable attachment must succeed")
				assert.Equal(t, tt.data, string(rw[tt.off:tt.off+len(tt.data)]), "the bytes must be in the segment")
				return
			}
			require.Error(t, err, "writing into a read-only attachment cannot succeed: the kernel mapped those pages read-only")
			assert.ErrorIs(t, err, tt.wantErr, "a fault on a read-only attachment must be reported as ErrReadOnly")
			assert.Equal(t, make([]byte, segSize), []byte(rw), "the segment must be unchanged")
		})
	}
}

func TestTryWriteOutOfRange(t *testing.T) {
	b := make([]byte, 16) // ordinary memory will do: the write never happens
	tests := []struct {
		off  int
		data string
	}{
		{-1, "x"},
		{16, "x"},
		{10, "1234567"},
		{1 << 62, "x"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d bytes at %d", len(tt.data), tt.off), func(t *testing.T) {
			var err error
			noPanic(t, fmt.Sprintf("TryWrite(b[16], %d, %q)", tt.off, tt.data), func() { err = TryWrite(b, tt.off, []byte(tt.data)) })
			require.Error(t, err, "%d bytes at offset %d do not fit in %d bytes", len(tt.data), tt.off, len(b))
			assert.NotErrorIs(t, err, ErrReadOnly, "out of range is not a read-only fault")
			assert.NotContains(t, err.Error(), "TODO", "TryWrite still returns the stub's error")
		})
	}
}

// SetPanicOnFault is a per-goroutine setting: TryWrite must put back what it found,
// or the caller's later bugs would panic where they used to crash (or the reverse).
func TestTryWriteRestoresFaultSetting(t *testing.T) {
	ipctest.NoLeaks(t)
	requireFaultIsAnError(t)
	id := ipctest.NewSegment(t, segSize, 0o600)
	ro := ipctest.Attach(t, id, unix.SHM_RDONLY)
	rw := make([]byte, 8)

	for _, before := range []bool{false, true} {
		for _, b := range [][]byte{ro, rw} {
			old := debug.SetPanicOnFault(before)
			var err error
			noPanic(t, "TryWrite", func() { err = TryWrite(b, 0, []byte("x")) })
			after := debug.SetPanicOnFault(old)
			readOnly := len(b) == segSize
			assert.Equal(t, before, after, "SetPanicOnFault was %t before TryWrite and must be %t after it (read-only: %t)", before, before, readOnly)
			if readOnly {
				assert.ErrorIs(t, err, ErrReadOnly, "TryWrite into a read-only attachment (fault setting %t before the call)", before)
			} else {
				assert.NoError(t, err, "TryWrite into ordinary memory (fault setting %t before the call)", before)
			}
		}
	}
}
